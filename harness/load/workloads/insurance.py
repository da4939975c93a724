"""Insurance workloads: the outpatient peak (each patient 1101 → 2201 → 2204 → 2206 → 2207)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from harness.load.engine import Step
from harness.load.workloads import Target, Workload
from harness.ports.insurance import Certificate, FeeItem
from mocks.population import generate

FEES = (
    ("001102000010000", "GH001", "普通门诊诊察费", Decimal("1"), Decimal("20.00")),
    ("250101015000000", "JY001", "血细胞分析（血常规）", Decimal("1"), Decimal("25.00")),
    ("XA10BAA002A001010100397", "YP001", "二甲双胍缓释片", Decimal("3"), Decimal("12.35")),
)
TOTAL = sum(((cnt * pric).quantize(Decimal("0.01"), ROUND_HALF_UP) for *_, cnt, pric in FEES), Decimal(0))


class OutpatientPeak:
    """One signed-in connector; each iteration is one patient's visit from identity check to settlement."""

    def __init__(self, target: Target) -> None:
        assert target.connector is not None
        self.connector: Any = target.connector()
        self.connector.sign_in()
        self.people = [p for p in generate() if p.psn_insu_stas == "1"]
        self.tag = target.tag

    def iteration(self, number: int, step: Step) -> None:
        seeded = self.people[number % len(self.people)]
        cert = Certificate("02", seeded.certno)
        c = self.connector
        person = step("1101", lambda: c.query_person(cert))
        visit = step("2201", lambda: c.register_visit(person, cert, f"MZ{self.tag}{number:07d}"))
        batch = f"CB{number:07d}"
        items = [FeeItem(str(k), codg, local, name, cnt, pric) for k, (codg, local, name, cnt, pric) in enumerate(FEES, 1)]
        step("2204", lambda: c.upload_fees(visit, batch, items))
        step("2206", lambda: c.pre_settle(visit, cert, batch, TOTAL))
        step("2207", lambda: c.settle(visit, cert, batch, TOTAL))

    def close(self) -> None:
        self.connector.close()


WORKLOADS = (
    Workload("outpatient-peak", "insurance", "the 8 o'clock outpatient peak: per patient 1101 → 2201 → 2204 → 2206 → 2207",
             {"1101": 1, "2201": 1, "2204": 1, "2206": 1, "2207": 1}, OutpatientPeak),
)
