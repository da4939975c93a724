"""The reference LIS connector: the hospital side of the laboratory interface over HL7 v2 and MLLP.

Patients go out as ADT^A01/A04/A08, orders as OML^O21 (contract 2024.1, HL7 v2.5.1) or ORM^O01 (2023.1, v2.4),
whichever the contract in force lists; the LIS's ORL^O22 / ORR^O02 says whether it took the order. Results
(ORU^R01) arrive at the listener, which stores each before it acknowledges it (see `connectors.hl7_common`).
Messages are built with hl7apy (`connectors.hl7_build`).
"""

from __future__ import annotations

from connectors.hl7_build import batch, header, join, now, segment
from connectors.hl7_common import Hl7Connector, esc
from harness.contract.hl7.message import parse
from harness.contract.hl7.mllp_client import Ack
from harness.ports.lis import Delivery, Hl7Settings, LabOrder, OrderAck, Patient, StoredMessage

RECEIVER = ("LIS", "LAB")


class LisConnector(Hl7Connector):
    """Implements `harness.ports.lis.LisPort`."""

    interface = "lis"
    receives = ("ORU^R01",)
    critical_flags = frozenset({"HH", "LL"})

    def __init__(self, settings: Hl7Settings) -> None:
        super().__init__(settings)
        self.order_type = "OML^O21" if "OML^O21" in self.contract.operations else "ORM^O01"

    @property
    def sender(self) -> tuple[str, str]:
        return self.settings.sending_application, self.settings.sending_facility

    # -- segments ---------------------------------------------------------------------------------------
    def _pid(self, patient: Patient) -> str:
        ids = [f"{esc(patient.mrn)}^^^HOSP^MR"]
        values: dict[int, str | list[str]] = {1: "1", 5: esc(patient.name), 7: patient.birth_date,
                                              8: patient.sex or "U"}
        if patient.id_card and self.version != "2.4":
            ids.append(f"{esc(patient.id_card)}^^^CHN^NNCHN")
        elif patient.id_card:
            values[19] = esc(patient.id_card)
        values[3] = ids
        return segment("PID", self.version, values)

    def _pv1(self, patient: Patient) -> str:
        return segment("PV1", self.version, {1: "1", 2: patient.patient_class or "O",
                                             19: esc(patient.visit_no or patient.mrn)})

    def _order_message(self, order: LabOrder, control: str, order_control: str, charset: str) -> str:
        v = self.version
        doctor = f"{esc(order.doctor[0])}^{esc(order.doctor[1])}"
        kind = "OML^O21^OML_O21" if self.order_type == "OML^O21" else "ORM^O01^ORM_O01"
        segs = [header(kind, control, v, charset, self.sender, RECEIVER), self._pid(order.patient),
                self._pv1(order.patient)]
        if self.order_type == "OML^O21":
            segs.append(segment("ORC", v, {1: order_control, 2: esc(order.placer_no), 9: now(), 12: doctor}))
            segs.append(segment("TQ1", v, {1: "1", 7: now(), 9: order.priority}))
            for index, (code, name) in enumerate(order.tests, 1):
                segs.append(segment("OBR", v, {1: str(index), 2: esc(order.placer_no),
                                               4: f"{esc(code)}^{esc(name)}^L", 16: doctor}))
            specimen = order.specimen_id or f"S{order.placer_no}"
            segs.append(segment("SPM", v, {1: "1", 2: esc(specimen), 4: order.specimen, 17: now()}))
        else:
            segs.append(segment("ORC", v, {1: order_control, 2: esc(order.placer_no), 7: f"^^^{now()}^^{order.priority}",
                                           9: now()}))
            for index, (code, name) in enumerate(order.tests, 1):
                segs.append(segment("OBR", v, {1: str(index), 2: esc(order.placer_no),
                                               4: f"{esc(code)}^{esc(name)}^L", 15: order.specimen}))
        return join(segs)

    # -- the port ---------------------------------------------------------------------------------------
    def send_patient(self, patient: Patient, event: str = "A01", charset: str | None = None) -> Delivery:
        charset = charset or self.charset
        control = self.new_control_id()
        text = join([header(f"ADT^{event}^ADT_A01", control, self.version, charset, self.sender, RECEIVER),
                     segment("EVN", self.version, {1: event, 2: now()}), self._pid(patient), self._pv1(patient)])
        return self.delivery(self.send(text, charset), f"ADT^{event}")

    def place_order(self, order: LabOrder, charset: str | None = None) -> OrderAck:
        return self._order(order, "NW", charset)

    def cancel_order(self, order: LabOrder, charset: str | None = None) -> OrderAck:
        return self._order(order, "CA", charset)

    def _order(self, order: LabOrder, order_control: str, charset: str | None) -> OrderAck:
        charset = charset or self.charset
        control = self.new_control_id()
        ack = self.send(self._order_message(order, control, order_control, charset), charset)
        return self._order_ack(ack)

    @staticmethod
    def _order_ack(ack: Ack) -> OrderAck:
        reply = ack.message
        assert reply is not None
        return OrderAck(ack.control_id, ack.code, reply.get("ORC-1"), reply.get("ORC-3.1"), ack.attempts,
                        reply.get("MSA-3"), ack.errors)

    def place_orders(self, orders: list[LabOrder], charset: str | None = None) -> list[OrderAck]:
        charset = charset or self.charset
        texts = [self._order_message(o, self.new_control_id(), "NW", charset) for o in orders]
        ack = self.send(batch(texts, self.new_control_id(), self.sender, RECEIVER), charset)
        reply = ack.message
        assert reply is not None
        out = []
        # the batch ACK holds one response per message: MSH, MSA, PID, ORC ... in order
        responses = reply.to_er7().split("\rMSH")
        for text in responses[1:]:
            msg = parse("MSH" + text)
            out.append(OrderAck(msg.get("MSA-2"), msg.get("MSA-1"), msg.get("ORC-1"), msg.get("ORC-3.1"),
                                ack.attempts, msg.get("MSA-3"), []))
        return out

    def stored_results(self) -> list[StoredMessage]:
        return self.stored("ORU^R01")


def reference(settings: Hl7Settings) -> LisConnector:
    """The factory `hih run` calls (see harness/bindings.py)."""
    return LisConnector(settings)
