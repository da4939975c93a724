"""LIS workloads: the morning batch of results pushed to the hospital's listener, and order entry from the HIS."""

from __future__ import annotations

from typing import Any

from harness.load.engine import Step
from harness.load.workloads import NotAcknowledged, Target, Workload
from harness.ports.hl7 import Patient
from harness.ports.lis import LabOrder

PATIENT = {"mrn": "M0001", "name": "张三", "id_card": "", "sex": "F", "birth_date": "19800101",
           "patient_class": "O", "visit_no": ""}


class MorningResults:
    """The mock LIS sends one final ORU^R01 per iteration to the hospital's listener (the reference connector's, or
    the HIS's own with `--listener`) and checks its ACK; the pushes share one MLLP connection, as an LIS's do."""

    def __init__(self, target: Target) -> None:
        assert target.mock is not None and target.listener is not None
        self.mock: Any = target.mock
        self.listener = target.listener
        self.tag = target.tag

    def iteration(self, number: int, step: Step) -> None:
        placer = f"LR{self.tag}{number:07d}"
        self.mock.hold_order(placer, {**PATIENT, "mrn": f"M{number % 5000:06d}"}, [("CBC", "血常规")])

        def push() -> None:
            pushed = self.mock.send_result(placer, "F", to=self.listener)
            if pushed.code != "AA":
                raise NotAcknowledged(pushed.code or "no ACK", pushed.problem)

        step("ORU^R01", push)

    def close(self) -> None:
        """The pushes' connection belongs to the mock, closed with it."""


class OrderEntry:
    """The HIS places one laboratory order (OML^O21 or ORM^O01) per iteration through its connector."""

    def __init__(self, target: Target) -> None:
        assert target.connector is not None
        self.connector: Any = target.connector()
        self.tag = target.tag
        self.kind = "OML^O21" if "OML^O21" in target.contract.operations else "ORM^O01"

    def iteration(self, number: int, step: Step) -> None:
        order = LabOrder(f"LO{self.tag}{number:07d}", Patient(f"M{number % 5000:06d}", "张三", sex="F",
                                                               birth_date="19800101"))

        def place() -> None:
            ack = self.connector.place_order(order)
            if not ack.accepted:
                raise NotAcknowledged(f"{ack.code} {ack.order_control}".strip(), ack.text)

        step(self.kind, place)

    def close(self) -> None:
        self.connector.close()


WORKLOADS = (
    Workload("morning-results", "lis", "the morning batch: results (ORU^R01) pushed to the hospital's listener",
             {"ORU^R01": 1}, MorningResults, needs_connector=False),
    Workload("order-entry", "lis", "laboratory orders from the HIS (OML^O21 on 2024.1, ORM^O01 on 2023.1)",
             {"OML^O21": 1}, OrderEntry),
)
