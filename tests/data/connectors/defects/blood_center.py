"""Planted blood-centre connector defects (see `tests.data.connectors.defects`)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.blood_bank import Bag, BloodBank
from connectors.blood_center import BloodCenterConnector
from harness.ports.blood_center import BloodCenterSettings, IssuedUnit, IssueNote, Receipt, ScannedBag
from tests.data.connectors.defects import SLOW_TIMES, Defect, planted


class StockInMemory(BloodCenterConnector):
    """Keeps the blood bank's stock where the process lives (a private temporary file): a restart forgets what
    was received, so nothing received before it can be returned or reconciled."""

    def __init__(self, settings: BloodCenterSettings) -> None:
        super().__init__(settings)
        self.bank.close()
        self._private = tempfile.mkdtemp(prefix="hih-defect-")
        self.bank = BloodBank(Path(self._private) / "stock.sqlite")

    def close(self) -> None:
        super().close()
        shutil.rmtree(self._private, ignore_errors=True)


class BillCountsReturnedAsStock(BloodCenterConnector):
    """Reconciles the bill against every bag ever received: an approved return shows as 'received, not charged'."""

    def _stock(self) -> set[str]:
        return set(self.received)


class AcceptsExpiredBags(BloodCenterConnector):
    """Confirms every scanned bag without looking at its expiry."""

    def receive(self, issue: IssueNote, scanned: list[ScannedBag]) -> Receipt:
        fresh = tuple(replace(u, expires_at=datetime.max) for u in issue.units)
        return super().receive(replace(issue, units=fresh), scanned)


class ExpiryAsDate(BloodCenterConnector):
    """Reads a bag's expiry as a date: a bag that expires at 08:00 shows as good until midnight."""

    def issue_notes(self, order_no: str) -> list[IssueNote]:
        return [replace(n, units=tuple(replace(u, expires_at=datetime.combine(u.expires_at.date(), datetime.max.time()))
                                       for u in n.units)) for n in super().issue_notes(order_no)]


class ExpiryInUtc(BloodCenterConnector):
    """Stores a bag's expiry converted to UTC (8 hours earlier) without saying so."""

    def issue_notes(self, order_no: str) -> list[IssueNote]:
        return [replace(n, units=tuple(replace(u, expires_at=u.expires_at - timedelta(hours=8)) for u in n.units))
                for n in super().issue_notes(order_no)]


class CollectedOnMisread(BloodCenterConnector):
    """Takes the collection date from the wrong field: the day the bag was issued."""

    def issue_notes(self, order_no: str) -> list[IssueNote]:
        return [replace(n, units=tuple(replace(u, collected_on=n.issued_at.date()) for u in n.units))
                for n in super().issue_notes(order_no)]


class StockExpiryInUtc(BloodCenterConnector):
    """Reads the issue note right but writes each bag's expiry to the blood bank's stock in UTC (8 hours earlier),
    and its collection date as the day it was received: the nurse's screen and the expiry alarms read the stock."""

    @staticmethod
    def _stock_card(scanned: ScannedBag, unit: IssuedUnit | None) -> Bag:
        card = BloodCenterConnector._stock_card(scanned, unit)
        if not card.expires_at:
            return card
        utc = datetime.fromisoformat(card.expires_at) - timedelta(hours=8)
        return replace(card, expires_at=utc.isoformat(), collected_on=date.today().isoformat())


class ReceiptTimeInUtc(BloodCenterConnector):
    """Reports the receipt time in UTC (8 hours behind the centre's Beijing time)."""

    def _call(self, operation: str, **data: Any) -> Any:
        if operation == "ConfirmReceipt":
            data["receivedAt"] = data["receivedAt"] - timedelta(hours=8)
        return super()._call(operation, **data)


class SlowToGiveUp(BloodCenterConnector):
    """Waits three times the timeout the hospital configured for every reply (`SLOW_TIMES`): it gives up late."""

    def __init__(self, settings: BloodCenterSettings) -> None:
        super().__init__(replace(settings, timeout_s=round(SLOW_TIMES * settings.timeout_s, 3)))


class RecallListsReturned(BloodCenterConnector):
    """Lists recalled bags to quarantine among every bag ever received, returned ones included."""

    def recalled_in_stock(self, since: datetime) -> list[str]:
        received = set(self.received)
        return sorted({din for n in self.notices(since) if n.kind == "RECALL" for din in n.dins if din in received})


DEFECTS = [
    planted("blood-center", StockInMemory, "restart", "@restart", "重启后仍可退回"),
    planted("blood-center", BillCountsReturnedAsStock, "money", "@return",
            "退回的血袋不再收费"),
    planted("blood-center", AcceptsExpiredBags, "safety", "@safety", "扫描前已过期"),
    planted("blood-center", ExpiryAsDate, "safety", "@safety", "安全信息与血液中心记录一致"),
    planted("blood-center", ExpiryInUtc, "safety", "@safety", "安全信息与血液中心记录一致"),
    planted("blood-center", CollectedOnMisread, "safety", "@safety",
            "安全信息与血液中心记录一致"),
    planted("blood-center", StockExpiryInUtc, "safety", "@safety", "医院库存中每袋血的安全信息"),
    planted("blood-center", ReceiptTimeInUtc, "clock", "@order", "从预约、确认、发血到入库"),
    planted("blood-center", SlowToGiveUp, "time", "@no_answer", "不无限等待"),
    planted("blood-center", RecallListsReturned, "after", "@return",
            "已退回的血袋被召回时"),
    Defect("blood-center", "tests.data.connectors.blood_center_unchecked_din:make", "data",
            "Confirms every scanned DIN without checking its ISBT 128 check flag.", "@scan", ("校验位错误的献血码",)),
    Defect("blood-center", "tests.data.connectors.blood_center_double_receipt:make", "restart",
            "Forgets what it received and confirms the same issue note again.", "@scan", ("不能重复入库",)),
    Defect("blood-center", "tests.data.connectors.blood_center_return_unreceived:make", "after",
            "Asks to return bags the hospital never received.", "@return", ("没有入库的血袋不能退血",)),
]
