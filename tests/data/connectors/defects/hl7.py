"""Planted LIS and PACS connector defects (see `tests.data.connectors.defects`): each a mixin over the reference
connectors' shared HL7 behaviour, planted in both (`<name>_lis`, `<name>_pacs`) where it applies."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from connectors.hl7_common import Hl7Connector
from connectors.lis import LisConnector
from connectors.pacs import PacsConnector
from harness.contract.findings import Finding, Severity
from harness.contract.hl7.charsets import encode_message
from harness.contract.hl7.message import Message, parse
from harness.contract.hl7.mllp_client import Ack
from harness.ports.hl7 import Hl7Settings
from tests.data.connectors.defects import SLOW_TIMES, Defect

HERE = "tests.data.connectors.defects.hl7"


class ControlIdsFromZero(Hl7Connector):
    """Numbers MSH-10 within the second from 1 in each process: after a restart it repeats the MSH-10 it just
    sent, and the partner takes the new message for a duplicate of the old one."""

    def new_control_id(self) -> str:
        self._sequence += 1
        return f"H{time.strftime('%y%m%d%H%M%S')}{self._sequence % 1_000_000:06d}"


class PrivateStore(Hl7Connector):
    """Keeps received messages in a temporary file of its own instead of the store it was configured with: a
    restart loses every result received before it."""

    def __init__(self, settings_: Hl7Settings) -> None:
        super().__init__(replace(settings_, store_path=""))


class WriteBehind(Hl7Connector):
    """Acknowledges a result at once and writes it to the store 50 ms later, from a writer thread: a crash in
    between loses a result the partner was told is safe."""

    def keep(self, msg: Message, key: str, raw: bytes, ack: bytes) -> None:
        record = self.record(msg, key)

        def write() -> None:
            with contextlib.suppress(sqlite3.Error):  # a resend already written, or the store closed meanwhile
                self.store.add(record, raw, ack)

        threading.Timer(0.05, write).start()


class ShiftedMsh7(Hl7Connector):
    """Stamps MSH-7 of what it sends in UTC (8 hours behind the partner's Beijing time)."""

    def send(self, text: str, charset: str | None = None) -> Ack:
        if text.startswith("MSH"):
            message = parse(text)
            message.set("MSH-7", (datetime.now() - timedelta(hours=8)).strftime("%Y%m%d%H%M%S"))
            text = message.to_er7()
        return super().send(text, charset)


class SlowToGiveUp(Hl7Connector):
    """Waits three times the timeout the hospital configured for every acknowledgement (`SLOW_TIMES`): it gives up late."""

    def __init__(self, settings_: Hl7Settings) -> None:
        super().__init__(replace(settings_, timeout_s=round(SLOW_TIMES * settings_.timeout_s, 3)))


class NoCriticalFlags(Hl7Connector):
    """Stores results without marking critical values: an HH potassium reaches the ward as an ordinary result."""

    critical_flags: frozenset[str] = frozenset()


class IntegerResults(Hl7Connector):
    """Stores numeric results in an integer column: a white-cell count of 35.2 is kept as 35."""

    def record(self, msg: Message, key: str) -> dict[str, Any]:
        kept = super().record(msg, key)
        kept["observations"] = [[code, _integer(value)] for code, value in kept["observations"]]
        return kept


def _integer(value: str) -> str:
    try:
        return str(round(float(value)))
    except ValueError:
        return value


class NarrowColumn(Hl7Connector):
    """Keeps each observation in a 16-character column: the Study Instance UID of a report is cut short."""

    def record(self, msg: Message, key: str) -> dict[str, Any]:
        kept = super().record(msg, key)
        kept["observations"] = [[code, value[:16]] for code, value in kept["observations"]]
        return kept


class RemembersPlacers(Hl7Connector):
    """Keeps the answer to each order number it placed and answers a repeat from memory without sending it, also
    after the order was cancelled: a re-ordered test never reaches the partner."""

    _placed: dict[str, Any]

    def place_order(self, order: Any, *args: Any, **kwargs: Any) -> Any:
        placed = self.__dict__.setdefault("_placed", {})
        if order.placer_no not in placed:
            placed[order.placer_no] = super().place_order(order, *args, **kwargs)  # type: ignore[misc]
        return placed[order.placer_no]


class RefusesResultsOfCancelled(LisConnector):
    """Rejects (AR) a result for an order the hospital cancelled: a result of a specimen already run is lost."""

    def cancel_order(self, order: Any, charset: str | None = None) -> Any:
        self.__dict__.setdefault("_cancelled", set()).add(order.placer_no)
        return super().cancel_order(order, charset)

    def receive(self, payload: bytes) -> list[bytes]:
        message = self.validator.decode(payload)
        if message.segments and message.get("OBR-2.1") in self.__dict__.get("_cancelled", set()):
            refusal = Finding(Severity.ERROR, "OBR-2", "the order was cancelled", "cancelled")
            ack = self._ack(message, "AR", [refusal])
            return [encode_message(ack.to_er7(), message.charset or self.charset)]
        return super().receive(payload)


SHARED = {"control_ids_from_zero": ControlIdsFromZero, "private_store": PrivateStore, "write_behind": WriteBehind,
          "shifted_msh7": ShiftedMsh7, "slow_to_give_up": SlowToGiveUp, "no_critical_flags": NoCriticalFlags,
          "remembers_placers": RemembersPlacers}
OWN = {"integer_results": (IntegerResults, "lis"), "narrow_column": (NarrowColumn, "pacs")}
BASES = {"lis": LisConnector, "pacs": PacsConnector}


def _planted(mixin: type, base: type) -> type:
    return type(f"{mixin.__name__}{base.__name__}", (mixin, base), {"__doc__": mixin.__doc__})


for _name, _mixin in SHARED.items():
    for _interface, _base in BASES.items():
        globals()[f"{_name}_{_interface}"] = _planted(_mixin, _base)
for _name, (_mixin, _interface) in OWN.items():
    globals()[f"{_name}_{_interface}"] = _planted(_mixin, BASES[_interface])


SCENARIOS = {
    # defect: (kind, tags, LIS scenario part, PACS scenario part)
    "control_ids_from_zero": ("restart", "@restart", "同一秒内重启", "同一秒内重启"),
    "private_store": ("restart", "@restart", "重启前保存的结果仍在", "重启前保存的报告仍在"),
    "write_behind": ("store-ack", "@results or @reports", "被其他写入者锁住", "被其他写入者锁住"),
    "shifted_msh7": ("clock", "@orders", "开立检验医嘱，LIS 接受并登记", "开立检查申请，PACS 登记"),
    "slow_to_give_up": ("time", "@no_answer", "始终不应答", "始终不应答"),
    "no_critical_flags": ("safety", "@results or @reports", "危急值", "危急影像发现"),
    "remembers_placers": ("after", "@orders", "撤销后重新开立同一医嘱号", "撤销后重新开立同一申请单号"),
}
OWN_SCENARIOS = {"integer_results": ("safety", "@results", "危急值"), "narrow_column": ("safety", "@reports", "危急影像发现")}

DEFECTS = [
    *(Defect(interface, f"{HERE}:{name}_{interface}", kind, SHARED[name].__doc__ or "", tags, (part,))
      for name, (kind, tags, lis, pacs) in SCENARIOS.items() for interface, part in (("lis", lis), ("pacs", pacs))),
    *(Defect(OWN[name][1], f"{HERE}:{name}_{OWN[name][1]}", kind, OWN[name][0].__doc__ or "", tags, (part,))
      for name, (kind, tags, part) in OWN_SCENARIOS.items()),
    Defect("lis", f"{HERE}:RefusesResultsOfCancelled", "after", RefusesResultsOfCancelled.__doc__ or "",
           "@results", ("医嘱撤销后",)),
    *(Defect(interface, f"tests.data.connectors.{module}:make_{interface}", kind, story, tags, (part,))
      for module, kind, story, tags, parts in (
          ("hl7_ack_before_store", "store-ack", "Acknowledges a result and queues it for a writer that never runs.",
           "@results or @reports", {"lis": "医院确认前均已保存", "pacs": "医院确认前均已保存"}),
          ("hl7_duplicate_stored_twice", "data", "Stores a resent result a second time and acknowledges it afresh.",
           "@results or @reports", {"lis": "同一结果重复发送", "pacs": "重复的报告"}),
          ("hl7_wrong_ack_accepted", "contract", "Takes any acknowledgement for the message it sent (MSA-2 unread).",
           "@fault", {"lis": "确认的 MSA-2 不是所发的 MSH-10", "pacs": "确认的 MSA-2 不符"}))
      for interface, part in parts.items()),
]
