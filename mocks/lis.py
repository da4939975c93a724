"""The laboratory information system, played from its contract: it keeps the patients and orders the hospital sends,
answers each order (ORL^O22 on contract 2024.1, ORR^O02 on 2023.1), and on command sends results (ORU^R01,
preliminary, final or corrected, critical values flagged HH/LL in OBX-8) to the hospital's listener.

Order rules: a new order (ORC-1 NW) is accepted (OK) unless its placer number is already held and not cancelled
(UA); a cancel (CA) of a held order without a final result is done (CR), otherwise refused (UC). Messages with
contract errors are answered AE/AR with ERR segments by the transport and change nothing.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from harness.contract.hl7.escape import DEFAULT, unescape
from harness.contract.hl7.message import Message, Segment
from harness.contract.model import Contract
from mocks.hl7_partner import (
    PATIENTS_KEPT,
    Address,
    Hl7PartnerMock,
    Push,
    components,
    er7,
    esc,
    now_ts,
    part,
    patient_of,
    pid_fields,
    pid_segment,
    whole,
)
from mocks.state import Store
from mocks.transport.mllp import MllpExchange, Reply

ANALYTES: dict[str, list[tuple[str, str, str, str, str]]] = {
    # test code -> (code, name, unit, reference range, normal value) of each analyte it reports
    "CBC": [("WBC", "白细胞计数", "10*9/L", "3.5-9.5", "6.5"), ("HGB", "血红蛋白", "g/L", "130-175", "142"),
            ("PLT", "血小板计数", "10*9/L", "125-350", "210")],
    "K": [("K", "血钾", "mmol/L", "3.5-5.3", "4.2")],
    "GLU": [("GLU", "葡萄糖", "mmol/L", "3.9-6.1", "5.2")],
}
CRITICAL_VALUES = {"HH": {"WBC": "35.2", "K": "7.1", "GLU": "28.4"}, "LL": {"WBC": "0.8", "K": "2.4", "GLU": "1.9"}}
STATUS = {"P": "preliminary", "F": "final", "C": "corrected"}
ORDER_STATUS = {"OK": "SC", "CR": "CA"}
"""ORC-5 of an answer by its ORC-1 (OK: scheduled; CR: cancelled); empty for a refusal."""


def _value(seg: Segment | None, n: int, k: int = 0) -> str:
    """Under the default delimiters, field `n`'s first repetition in `seg` (not MSH), escape sequences decoded:
    whole (`k` 0) or its component `k` (1-based). In one call what `whole` or `part(components(...))` give."""
    if seg is None:
        return ""
    fields = seg.fields
    value = fields[n] if n < len(fields) else ""
    if "~" in value:
        value = value.split("~", 1)[0]
    if k:
        if "^" in value:
            comps = value.split("^")
            value = comps[k - 1] if k <= len(comps) else ""
        elif k > 1:
            return ""
    return unescape(value, DEFAULT) if "\\" in value else value


def _pair(seg: Segment, n: int) -> tuple[str, str]:
    """`(_value(seg, n, 1), _value(seg, n, 2))`, field `n` read and split once (a request's test code and name, the
    ordering provider's ID and name)."""
    fields = seg.fields
    value = fields[n] if n < len(fields) else ""
    if "~" in value:
        value = value.split("~", 1)[0]
    if "^" not in value:
        return (unescape(value, DEFAULT) if "\\" in value else value), ""
    comps = value.split("^", 2)
    first, second = comps[0], comps[1]
    return (unescape(first, DEFAULT) if "\\" in first else first), \
        (unescape(second, DEFAULT) if "\\" in second else second)


class LisMock(Hl7PartnerMock):
    """The LIS's behaviour behind the MLLP transport."""

    interface = "lis"
    application = ("LIS", "LAB")
    id_prefix = "LIS"
    auto_workers = 2
    """Two processes won on the quiet 2-core machine, load client included (bench/RESULTS.md, figures of record:
    `bench/peers.py --pairs lis --workers 2` against the default run of one)."""

    light = True
    """A new order under the default delimiters takes `_new_order`: the patient and the reply's PID remembered by the
    PID and PV1 text, the reply's segments given directly. False: every order takes the full way (the oracle)."""

    def __init__(self, contract: Contract, store: Store | None = None, journal_capacity: int = 10_000) -> None:
        self._filler = itertools.count(1)
        self._patients: dict[tuple[str, str, str], tuple[dict[str, str], list[str]]] = {}
        """`_new_order`'s patients: (PID text, PV1 text, MSH-12) -> the patient `_patient` reads, the reply's PID."""
        super().__init__(contract, store, journal_capacity)
        self.order_type = "OML^O21" if "OML^O21" in contract.operations else "ORM^O01"
        self.response_type = "ORL^O22" if self.order_type == "OML^O21" else "ORR^O02"
        structure = "O22^ORL_O22" if self.response_type == "ORL^O22" else "O02^ORR_O02"
        self._response_msh9 = f"{self.response_type.split('^')[0]}^{structure}"
        """MSH-9 of every answer to an order."""

    def share(self, index: int, workers: int, state: Path) -> None:
        super().share(index, workers, state)
        self._filler = itertools.count(index + 1, workers)

    # -- what the hospital sends ------------------------------------------------------------------------
    def process(self, message: Message, key: str | None, exchange: MllpExchange, code: str) -> Reply | None:
        if code != "AA":
            return None
        if key in ("ADT^A01", "ADT^A04", "ADT^A08"):
            self._keep_patient(self._patient(message), key)
            return None
        if key == self.order_type:
            return self._order(message, exchange)
        return None

    @staticmethod
    def _patient(message: Message, firsts: dict[str, Segment] | None = None) -> dict[str, str]:
        """The patient as this LIS reads them: on HL7 v2.4 (contract 2023.1) the installed LIS takes the resident
        ID card number from PID-19 only, so one sent in PID-3 is not seen."""
        patient = patient_of(message, firsts)
        if message.version == "2.4":
            patient["id_card"] = message.get("PID-19")
        return patient

    def _order(self, message: Message, exchange: MllpExchange) -> Reply:
        first = message.firsts()
        seps = message.seps
        orc, obr = first.get("ORC"), first.get("OBR")
        control = whole(orc, 1, seps)
        placer = part(components(orc, 2, seps), 1, seps) or part(components(obr, 2, seps), 1, seps)
        held: dict[str, Any] | None = self.store.peek("orders", placer)  # read-only: a change puts a new order
        if control == "NW" and held is None and self.light and seps is DEFAULT:
            return self._new_order(message, exchange, first, placer)
        patient = self._patient(message, first)
        exchange.meta["order"] = placer
        if control == "NW":
            if held is not None and held["status"] != "cancelled":
                return self._answer(message, "UA", held, f"placer order number {placer} is already held")
            order = self._record(message, first, placer, patient)
            self.store.put("orders", placer, order)
            self._keep_patient(patient, self.order_type)
            return self._answer(message, "OK", order, patient=patient)
        if control == "CA":
            if held is None:
                return self._answer(message, "UC", {"placer_no": placer, "filler_no": ""},
                                    f"no order {placer} is held")
            if held["status"] in ("final", "corrected"):
                return self._answer(message, "UC", held, f"order {placer} already has a final result")
            cancelled = {**held, "status": "cancelled"}
            self.store.put("orders", placer, cancelled)
            return self._answer(message, "CR", cancelled)
        return self._answer(message, "UA", {"placer_no": placer, "filler_no": ""}, f"ORC-1 {control} not handled")

    def _record(self, message: Message, first: dict[str, Segment], placer: str, patient: dict[str, str]
                ) -> dict[str, Any]:
        """The order a new order message (ORC-1 NW) puts in the store."""
        seps = message.seps
        orc, obr = first.get("ORC"), first.get("OBR")
        requests = [seg for seg in message.segments if seg.name == "OBR"]
        tests = []
        for seg in requests:
            test = components(seg, 4, seps)
            tests.append((part(test, 1, seps), part(test, 2, seps)))
        provider = components(obr, 16, seps)
        # the order's arrays as tuples: a kept order is then strings and tuples only, which the collector stops
        # walking (a list it walks on every full pass, and a busy LIS keeps tens of thousands); reads give lists
        return {"placer_no": placer, "filler_no": f"L{now_ts()[2:8]}{next(self._filler):05d}",
                "patient": patient, "tests": tuple(tests),
                "status": "received", "control_id": message.control_id,
                "sender": message.sender, "results": (),
                "specimen": part(components(first.get("SPM"), 4, seps), 1, seps)
                or part(components(obr, 15, seps), 1, seps),
                "ordering_provider": (part(provider, 1, seps), part(provider, 2, seps)),
                "set_ids": tuple([whole(seg, 1, seps) for seg in requests]),
                "requested_at": part(components(first.get("TQ1"), 7, seps), 1, seps)
                or part(components(orc, 7, seps), 4, seps)}

    def _new_order(self, message: Message, exchange: MllpExchange, first: dict[str, Segment], placer: str) -> Reply:
        """A new order (NW) for a placer number not held, under the default delimiters: what the full way does
        (the same order and patient put, the same reply), with the patient and the reply's PID taken from what
        the same PID and PV1 text (and version) gave before, each value read in one call (`_value`), and the
        reply's segments written here."""
        version = message.version
        pid, pv1 = first.get("PID"), first.get("PV1")
        key = ("|".join(pid.fields) if pid is not None else "", "|".join(pv1.fields) if pv1 is not None else "",
               version)
        known = self._patients.get(key)
        if known is None:
            read = self._patient(message, first)
            known = (read, pid_fields(read, version or self.version))
            if len(self._patients) >= PATIENTS_KEPT:
                self._patients.clear()
            self._patients[key] = known
        patient = dict(known[0])
        exchange.meta["order"] = placer
        orc, obr = first.get("ORC"), first.get("OBR")
        tests: list[tuple[str, str]] = []
        set_ids: list[str] = []
        for seg in message.segments:  # each request's test and set ID, in one pass
            if seg.name == "OBR":
                tests.append(_pair(seg, 4))
                set_ids.append(_value(seg, 1))
        stamp = now_ts()
        filler = f"L{stamp[2:8]}{next(self._filler):05d}"  # letters and digits: ORC-3 as it is, nothing to escape
        order: dict[str, Any] = {"placer_no": placer, "filler_no": filler,
                                 "patient": patient, "tests": tuple(tests),
                                 "status": "received", "control_id": message.control_id,
                                 "sender": message.sender, "results": (),
                                 "specimen": _value(first.get("SPM"), 4, 1) or _value(obr, 15, 1),
                                 "ordering_provider": _pair(obr, 16) if obr is not None else ("", ""),
                                 "set_ids": tuple(set_ids),
                                 "requested_at": _value(first.get("TQ1"), 7, 1) or _value(orc, 7, 4)}
        self.store.put("orders", placer, order)
        self._keep_patient(patient, self.order_type)
        header = ["MSH", "|", "^~\\&", "", "", "", "", "", "", self._response_msh9, "", "", version or self.version]
        answer = ["ORC", "OK", esc(placer), filler, "", "SC", "", "", "", stamp]
        return Reply("AA", segments=[header, ["MSA", "AA", ""], list(known[1]), answer])

    def _answer(self, message: Message, order_control: str, order: dict[str, Any], text: str = "",
                patient: dict[str, Any] | None = None) -> Reply:
        """ORL^O22 (v2.5.1) or ORR^O02 (v2.4): MSA, PID, ORC with the order control and the filler number."""
        version = message.version or self.version
        status = ORDER_STATUS.get(order_control, "")
        # the segments' fields with the default delimiters, each field escaped: the message `er7` of these lines parses to
        header = ["MSH", "|", "^~\\&", "", "", "", "", "", "", self._response_msh9, "", "", version]
        msa = ["MSA", "AA", "", esc(text)] if text else ["MSA", "AA", ""]
        pid = pid_fields(patient or patient_of(message), version)
        orc = ["ORC", order_control, esc(order["placer_no"]), esc(order.get("filler_no", "")), "", status, "", "", "",
               now_ts()]
        return Reply("AA", text=text, segments=[header, msa, pid, orc])

    def catalogue(self) -> dict[str, Any]:
        """The tests it reports analytes for (any other test code is reported as a blood count), and the values it
        sends for critical results."""
        return {"tests": {code: [{"code": a[0], "name": a[1], "unit": a[2], "range": a[3], "normal": a[4]} for a in rows]
                          for code, rows in ANALYTES.items()}, "critical_values": CRITICAL_VALUES}

    def hold_order(self, placer_no: str, patient: dict[str, Any], tests: list[tuple[str, str]] | None = None) -> None:
        """Hold an order as if the hospital had sent it (for specs that drive only the hospital's listener)."""
        order = {"placer_no": placer_no, "filler_no": f"L{now_ts()[2:8]}{next(self._filler):05d}",
                 "patient": patient, "tests": tests or [("CBC", "血常规")], "status": "received", "control_id": "",
                 "sender": ["HIS", "HOSP"], "results": [], "specimen": "BLD"}
        with self.store.transaction():
            self.store.put("orders", placer_no, order)
            self._keep_patient(patient, "held")

    # -- what the LIS sends -----------------------------------------------------------------------------
    def result_message(self, placer_no: str, status: str = "F", critical: str = "", charset: str | None = None,
                       control_id: str | None = None, name: str | None = None, value: str | None = None) -> str:
        """The ORU^R01 of an order held: one OBR, an OBX per analyte; `critical` HH or LL flags the first analyte."""
        order = self.order(placer_no)
        version = self.version
        charset = charset or self.charset
        control = control_id or self.new_control_id()
        patient = dict(order["patient"], **({"name": name} if name is not None else {}))
        code, test_name = (order["tests"] or [("CBC", "血常规")])[0]
        structure = "R01^ORU_R01"
        receiver = tuple(order.get("sender") or ("HIS", "HOSP"))
        segs = [self.msh(f"ORU^{structure}", control, charset, version, (receiver[0], receiver[1])),
                pid_segment(patient, version),
                "|".join(["PV1", "1", patient.get("patient_class") or "O", *[""] * 16,
                          esc(patient.get("visit_no") or placer_no)]),
                f"ORC|RE|{esc(placer_no)}|{esc(order['filler_no'])}||CM||||{now_ts()}",
                "|".join(["OBR", "1", esc(placer_no), esc(order["filler_no"]), f"{esc(code)}^{esc(test_name)}^L",
                          "", "", now_ts(), *[""] * 14, now_ts(), "", "", status])]
        for index, (acode, aname, unit, ref, normal) in enumerate(ANALYTES.get(code, ANALYTES["CBC"]), 1):
            flag, shown = "N", normal
            if index == 1 and critical:
                flag, shown = critical, CRITICAL_VALUES[critical].get(acode, "999")
            if index == 1 and value is not None:
                shown = value
            segs.append("|".join(["OBX", str(index), "NM", f"{acode}^{aname}^L", "", shown, f"{unit}^^UCUM", ref,
                                  flag, "", "", status, "", "", now_ts()]))
        return er7(*segs)

    def send_result(self, placer_no: str, status: str = "F", critical: str = "", to: Address | None = None,
                    charset: str | None = None, control_id: str | None = None, name: str | None = None,
                    value: str | None = None) -> Push:
        """Send a result of a held order to the hospital (P preliminary, F final, C corrected) and check the ACK.

        The order's status follows what the hospital acknowledged AA.
        """
        text = self.result_message(placer_no, status, critical, charset, control_id, name, value)
        pushed = self.push(text, to, charset)
        if pushed.code == "AA":
            with self.store.transaction():
                order = self.order(placer_no)
                order["results"].append({"control_id": pushed.control_id, "status": status, "critical": critical})
                order["status"] = STATUS[status] if order["status"] != "cancelled" else "cancelled"
                self.store.put("orders", placer_no, order)
        return pushed

    def next_push(self, to: Address) -> Push | None:
        """The oldest order without a final result gets its next result: preliminary, then final."""
        for order in self.orders():
            if order["status"] == "received":
                return self.send_result(order["placer_no"], "P", to=to)
            if order["status"] == "preliminary":
                return self.send_result(order["placer_no"], "F", to=to)
        return None
