"""The PACS/RIS, played from its contract: it keeps the imaging orders the hospital sends (ORM^O01 v2.4, OMI^O23
v2.5.1), acknowledges them, and on command sends exam status updates (OMG^O19, ORC-5) and reports (ORU^R01,
preliminary then final or corrected; findings 检查所见 and impression 检查印象 as text, the Study Instance UID) to the
hospital's listener.

Order rules: a new order (ORC-1 NW) is registered (status SC) unless its placer number is held and not cancelled
(AE, ERR 205); a cancel (CA) of a held order whose exam has not completed cancels it (AA), otherwise AE (ERR 204
for an unknown order, 207 once the exam is done).
"""

from __future__ import annotations

import itertools
from typing import Any

from harness.contract.findings import Finding, Severity
from harness.contract.hl7.message import Message, parse_path
from harness.contract.model import Contract
from mocks.hl7_partner import Address, Hl7PartnerMock, Push, er7, esc, now_ts, patient_of, pid_segment
from mocks.state import Store
from mocks.transport.mllp import MllpExchange, Reply

ORDER_TYPES = ("ORM^O01", "OMI^O23")
STUDY_ROOT = "1.2.156.112605.14038013507"
FINDINGS = "双肺纹理清晰，未见明确实质性病变。纵隔居中，心影不大。"
IMPRESSION = "胸部CT平扫未见明显异常。"
STATUS_OF_REPORT = {"P": "preliminary", "F": "final", "C": "corrected"}
ORC_1, ORC_2_1, OBR_2_1, OBR_4_1, OBR_4_2, OBR_16_1, OBR_16_2, OBR_18, OBR_24 = map(
    parse_path, ("ORC-1", "ORC-2.1", "OBR-2.1", "OBR-4.1", "OBR-4.2", "OBR-16.1", "OBR-16.2", "OBR-18", "OBR-24"))
IPC_1_1, IPC_3_1, IPC_5_1, ZDS_1_1 = map(parse_path, ("IPC-1.1", "IPC-3.1", "IPC-5.1", "ZDS-1.1"))
"""The order's fields the PACS reads, parsed once."""


class PacsMock(Hl7PartnerMock):
    """The PACS/RIS's behaviour behind the MLLP transport."""

    interface = "pacs"
    application = ("PACS", "RIS")
    id_prefix = "RIS"

    def __init__(self, contract: Contract, store: Store | None = None, journal_capacity: int = 10_000) -> None:
        self._accession = itertools.count(1)
        super().__init__(contract, store, journal_capacity)

    # -- what the hospital sends ------------------------------------------------------------------------
    def process(self, message: Message, key: str | None, exchange: MllpExchange, code: str) -> Reply | None:
        if code != "AA" or key not in ORDER_TYPES:
            return None
        first = message.firsts()
        get = message.get_in
        orc, obr, ipc = first.get("ORC"), first.get("OBR"), first.get("IPC")
        control = get(orc, ORC_1)
        placer = get(orc, ORC_2_1) or get(obr, OBR_2_1)
        held: dict[str, Any] | None = self.store.peek("orders", placer)  # read-only: a change puts a new order
        exchange.meta["order"] = placer
        if control == "NW":
            if held is not None and held["status"] != "cancelled":
                return self._refuse("ORC-2", f"placer order number {placer} is already held", "duplicate_key")
            accession = get(ipc, IPC_1_1) or get(obr, OBR_18) or f"ACC{now_ts()[2:8]}{next(self._accession):05d}"
            study = get(ipc, IPC_3_1) or get(first.get("ZDS"), ZDS_1_1) or \
                f"{STUDY_ROOT}.{now_ts()}.{next(self._accession)}"
            patient = patient_of(message, first)
            order: dict[str, Any] = {"placer_no": placer, "accession_no": accession, "study_uid": study,
                     "procedure": [get(obr, OBR_4_1), get(obr, OBR_4_2)],
                     "modality": get(ipc, IPC_5_1) or get(obr, OBR_24),
                     "ordering_provider": [get(obr, OBR_16_1), get(obr, OBR_16_2)],
                     "patient": patient, "status": "scheduled", "version": message.version,
                     "message_type": key, "control_id": message.control_id, "sender": list(message.sender),
                     "reports": [], "statuses": []}
            self.store.put("orders", placer, order)
            self._keep_patient(patient, key or "")
            return None
        if control == "CA":
            if held is None:
                return self._refuse("ORC-2", f"no order {placer} is held", "unknown_key")
            if held["status"] in ("completed", "preliminary", "final", "corrected"):
                return self._refuse("ORC-2", f"the exam of order {placer} is already done; it cannot be cancelled",
                                    "application")
            self.store.put("orders", placer, {**held, "status": "cancelled"})
        return None

    @staticmethod
    def _refuse(location: str, text: str, rule: str) -> Reply:
        return Reply("AE", [Finding(Severity.ERROR, location, text, rule)], text)

    def catalogue(self) -> dict[str, Any]:
        """What its reports say and the root of the Study Instance UIDs it assigns (any procedure code is taken)."""
        return {"report": {"findings": FINDINGS, "impression": IMPRESSION}, "study_uid_root": STUDY_ROOT,
                "statuses": ["SC", "IP", "CM", "CA", "DC"]}

    def hold_order(self, placer_no: str, patient: dict[str, Any], version: str = "2.5.1") -> None:
        """Hold an order as if the hospital had sent it (for specs that drive only the hospital's listener)."""
        number = next(self._accession)
        order = {"placer_no": placer_no, "accession_no": f"ACC{now_ts()[2:8]}{number:05d}",
                 "study_uid": f"{STUDY_ROOT}.{now_ts()}.{number}", "procedure": ["CT001", "胸部CT平扫"],
                 "modality": "CT", "patient": patient, "status": "scheduled", "version": version,
                 "message_type": "OMI^O23" if version != "2.4" else "ORM^O01", "control_id": "",
                 "sender": ["HIS", "HOSP"], "reports": [], "statuses": []}
        with self.store.transaction():
            self.store.put("orders", placer_no, order)
            self._keep_patient(patient, "held")

    # -- what the PACS sends ----------------------------------------------------------------------------
    def _receiver(self, order: dict[str, Any]) -> tuple[str, str]:
        sender = order.get("sender") or ["HIS", "HOSP"]
        return sender[0], sender[1]

    def status_message(self, placer_no: str, status: str = "IP", charset: str | None = None,
                       control_id: str | None = None) -> str:
        """OMG^O19 (v2.5.1): ORC-1 SC, ORC-5 the exam's status (SC, IP, CM, CA, DC), ORC-3 the accession number."""
        order = self.order(placer_no)
        charset = charset or self.charset
        control = control_id or self.new_control_id()
        code, name = order["procedure"]
        return er7(
            self.msh("OMG^O19^OMG_O19", control, charset, "2.5.1", self._receiver(order)),
            pid_segment(order["patient"], "2.5.1"),
            f"ORC|SC|{esc(placer_no)}|{esc(order['accession_no'])}||{status}||||{now_ts()}",
            "|".join(["OBR", "1", esc(placer_no), esc(order["accession_no"]), f"{esc(code)}^{esc(name)}^L"]),
        )

    def report_message(self, placer_no: str, status: str = "F", findings: str = FINDINGS,
                       impression: str = IMPRESSION, charset: str | None = None, control_id: str | None = None,
                       name: str | None = None, critical: bool = False) -> str:
        """ORU^R01: OBR-25 and OBX-11 the report status; findings, impression (AA in OBX-8 when `critical`), the
        Study Instance UID. In the HL7 version the order came in."""
        order = self.order(placer_no)
        version = order.get("version") or self.version
        charset = charset or self.charset
        control = control_id or self.new_control_id()
        code, proc = order["procedure"]
        patient = dict(order["patient"], **({"name": name} if name is not None else {}))
        kind = "ORU^R01^ORU_R01" if version != "2.4" else "ORU^R01"
        flag = "AA" if critical else ""
        return er7(
            self.msh(kind, control, charset, version, self._receiver(order)),
            pid_segment(patient, version),
            "|".join(["PV1", "1", patient.get("patient_class") or "O", *[""] * 16,
                      esc(patient.get("visit_no") or placer_no)]),
            f"ORC|RE|{esc(placer_no)}|{esc(order['accession_no'])}||CM||||{now_ts()}",
            "|".join(["OBR", "1", esc(placer_no), esc(order["accession_no"]), f"{esc(code)}^{esc(proc)}^L", "", "",
                      now_ts(), *[""] * 14, now_ts(), "", "", status]),
            f"OBX|1|TX|59776-5^检查所见^LN||{esc(findings)}||||||{status}",
            f"OBX|2|TX|19005-8^检查印象^LN||{esc(impression)}|||{flag}|||{status}",
            f"OBX|3|ST|113014^Study Instance UID^DCM||{esc(order['study_uid'])}||||||{status}",
        )

    def send_status(self, placer_no: str, status: str = "IP", to: Address | None = None,
                    charset: str | None = None, control_id: str | None = None) -> Push:
        """Tell the hospital the exam's status changed (SC registered, IP in progress, CM completed, CA, DC)."""
        pushed = self.push(self.status_message(placer_no, status, charset, control_id), to, charset)
        if pushed.code == "AA":
            with self.store.transaction():
                order = self.order(placer_no)
                order["statuses"].append({"control_id": pushed.control_id, "status": status})
                order["status"] = {"SC": "scheduled", "IP": "in progress", "CM": "completed", "CA": "cancelled",
                                   "DC": "cancelled"}.get(status, order["status"])
                self.store.put("orders", placer_no, order)
        return pushed

    def send_report(self, placer_no: str, status: str = "F", to: Address | None = None, charset: str | None = None,
                    control_id: str | None = None, findings: str = FINDINGS, impression: str = IMPRESSION,
                    name: str | None = None, critical: bool = False) -> Push:
        """Send a report of a held order (P preliminary, F final, C corrected) and check the hospital's ACK."""
        text = self.report_message(placer_no, status, findings, impression, charset, control_id, name, critical)
        pushed = self.push(text, to, charset)
        if pushed.code == "AA":
            with self.store.transaction():
                order = self.order(placer_no)
                order["reports"].append({"control_id": pushed.control_id, "status": status})
                order["status"] = STATUS_OF_REPORT[status]
                self.store.put("orders", placer_no, order)
        return pushed

    def next_push(self, to: Address) -> Push | None:
        """The oldest unfinished order moves on: in progress (IP), completed (CM), preliminary then final report."""
        for order in self.orders():
            step = {"scheduled": ("status", "IP"), "in progress": ("status", "CM"),
                    "completed": ("report", "P"), "preliminary": ("report", "F")}.get(order["status"])
            if step is None:
                continue
            kind, value = step
            if kind == "status":
                return self.send_status(order["placer_no"], value, to)
            return self.send_report(order["placer_no"], value, to)
        return None
