"""The reference PACS connector: the hospital side of the imaging interface over HL7 v2 and MLLP.

Orders go out as OMI^O23 (HL7 v2.5.1, with IPC: accession number, requested procedure, Study Instance UID,
scheduled step, modality) or ORM^O01 (v2.4, accession in OBR-18, the Study Instance UID in a ZDS segment), new
(ORC-1 NW) or cancelled (CA), each checked against the PACS's ACK. Status updates (OMG^O19) and reports
(ORU^R01) arrive at the listener, which stores each before it acknowledges it (see `connectors.hl7_common`).
"""

from __future__ import annotations

import time

from connectors.hl7_build import batch, header, join, now, segment
from connectors.hl7_common import Hl7Connector, esc
from harness.ports.pacs import Delivery, Hl7Settings, ImagingOrder, Patient, StoredMessage

RECEIVER = ("PACS", "RIS")
UID_ROOT = "1.2.156.112605.14038013507.1"
"""The hospital's DICOM UID root (example organisation root under 1.2.156, China)."""


class PacsConnector(Hl7Connector):
    """Implements `harness.ports.pacs.PacsPort`."""

    interface = "pacs"
    receives = ("ORU^R01", "OMG^O19")
    critical_flags = frozenset({"AA", "HH", "LL"})

    @property
    def sender(self) -> tuple[str, str]:
        return self.settings.sending_application, self.settings.sending_facility

    def _patient(self, patient: Patient, v: str) -> list[str]:
        ids = [f"{esc(patient.mrn)}^^^HOSP^MR"]
        if patient.id_card:
            ids.append(f"{esc(patient.id_card)}^^^CHN^NNCHN")
        pid = segment("PID", v, {1: "1", 3: ids, 5: esc(patient.name), 7: patient.birth_date, 8: patient.sex or "U"})
        pv1 = segment("PV1", v, {1: "1", 2: patient.patient_class or "O", 19: esc(patient.visit_no or patient.mrn)})
        return [pid, pv1]

    def _order_message(self, order: ImagingOrder, control: str, order_control: str, version: str,
                       charset: str) -> str:
        doctor = f"{esc(order.doctor[0])}^{esc(order.doctor[1])}"
        procedure = f"{esc(order.procedure[0])}^{esc(order.procedure[1])}^L"
        accession = order.accession_no or f"A{order.placer_no}"[:16]
        if version == "2.4":
            segs = [header("ORM^O01", control, "2.4", charset, self.sender, RECEIVER),
                    *self._patient(order.patient, "2.4"),
                    segment("ORC", "2.4", {1: order_control, 2: esc(order.placer_no), 9: now(), 12: doctor}),
                    segment("OBR", "2.4", {1: "1", 2: esc(order.placer_no), 4: procedure, 13: esc(order.reason),
                                           16: doctor, 18: esc(accession), 24: order.modality})]
            if order.study_uid:
                segs.append(f"ZDS|{esc(order.study_uid)}^PACS^Application^DICOM")  # a Z-segment: not in hl7apy
            return join(segs)
        study = order.study_uid or self.new_study_uid()
        return join([
            header("OMI^O23^OMI_O23", control, "2.5.1", charset, self.sender, RECEIVER),
            *self._patient(order.patient, "2.5.1"),
            segment("ORC", "2.5.1", {1: order_control, 2: esc(order.placer_no), 9: now(), 12: doctor}),
            segment("TQ1", "2.5.1", {1: "1", 7: now(), 9: order.priority}),
            segment("OBR", "2.5.1", {1: "1", 2: esc(order.placer_no), 4: procedure, 13: esc(order.reason),
                                     16: doctor}),
            segment("IPC", "2.5.1", {1: esc(accession), 2: f"RP{esc(order.placer_no)}"[:16],
                                     3: esc(study) if study else "", 4: f"SPS{esc(order.placer_no)}"[:16],
                                     5: order.modality}),
        ])

    def new_study_uid(self) -> str:
        """A Study Instance UID under the hospital's root, for an order that comes without one."""
        self._sequence += 1
        return f"{UID_ROOT}.{time.time_ns() // 1_000_000}.{self._sequence}"

    # -- the port ---------------------------------------------------------------------------------------
    def place_order(self, order: ImagingOrder, version: str = "2.5.1", charset: str | None = None) -> Delivery:
        return self._order(order, "NW", version, charset)

    def cancel_order(self, order: ImagingOrder, version: str = "2.5.1", charset: str | None = None) -> Delivery:
        return self._order(order, "CA", version, charset)

    def _order(self, order: ImagingOrder, order_control: str, version: str, charset: str | None) -> Delivery:
        charset = charset or self.charset
        kind = "ORM^O01" if version == "2.4" else "OMI^O23"
        text = self._order_message(order, self.new_control_id(), order_control, version, charset)
        return self.delivery(self.send(text, charset), kind)

    def place_orders(self, orders: list[ImagingOrder], version: str = "2.5.1",
                     charset: str | None = None) -> list[Delivery]:
        charset = charset or self.charset
        kind = "ORM^O01" if version == "2.4" else "OMI^O23"
        texts = [self._order_message(o, self.new_control_id(), "NW", version, charset) for o in orders]
        ack = self.send(batch(texts, self.new_control_id(), self.sender, RECEIVER), charset)
        reply = ack.message
        assert reply is not None
        return [Delivery(seg.field(2), seg.field(1), ack.attempts, kind) for seg in reply.all("MSA")]

    def stored_reports(self) -> list[StoredMessage]:
        return self.stored("ORU^R01")

    def stored_statuses(self) -> list[StoredMessage]:
        return self.stored("OMG^O19")


def reference(settings: Hl7Settings) -> PacsConnector:
    """The factory `hih run` calls (see harness/bindings.py)."""
    return PacsConnector(settings)
