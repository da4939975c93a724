"""Planted blood-centre connector defects (see `tests.data.connectors.defects`)."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.blood_bank import BloodBank
from connectors.blood_center import BloodCenterConnector
from harness.ports.blood_center import BloodCenterSettings, IssueNote, Receipt, ScannedBag
from tests.data.connectors.defects import Defect

HERE = "tests.data.connectors.defects.blood_center"


class StockInMemory(BloodCenterConnector):
    """Keeps the blood bank's stock where the process lives (a private temporary file): a restart forgets what
    was received, so nothing received before it can be returned or reconciled."""

    def __init__(self, settings: BloodCenterSettings) -> None:
        super().__init__(settings)
        self.bank.close()
        self.bank = BloodBank(Path(tempfile.mkdtemp(prefix="hih-defect-")) / "stock.sqlite")


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


class ReceiptTimeInUtc(BloodCenterConnector):
    """Reports the receipt time in UTC (8 hours behind the centre's Beijing time)."""

    def _call(self, operation: str, **data: Any) -> Any:
        if operation == "ConfirmReceipt":
            data["receivedAt"] = data["receivedAt"] - timedelta(hours=8)
        return super()._call(operation, **data)


class SlowToGiveUp(BloodCenterConnector):
    """Waits 1.5 s for every reply whatever timeout the hospital configured."""

    def __init__(self, settings: BloodCenterSettings) -> None:
        super().__init__(replace(settings, timeout_s=1.5))


class RecallListsReturned(BloodCenterConnector):
    """Lists recalled bags to quarantine among every bag ever received, returned ones included."""

    def recalled_in_stock(self, since: datetime) -> list[str]:
        received = set(self.received)
        return sorted({din for n in self.notices(since) if n.kind == "RECALL" for din in n.dins if din in received})


def stock_in_memory(settings: BloodCenterSettings) -> Any:
    return StockInMemory(settings)


def bill_counts_returned_as_stock(settings: BloodCenterSettings) -> Any:
    return BillCountsReturnedAsStock(settings)


def accepts_expired_bags(settings: BloodCenterSettings) -> Any:
    return AcceptsExpiredBags(settings)


def expiry_as_date(settings: BloodCenterSettings) -> Any:
    return ExpiryAsDate(settings)


def expiry_in_utc(settings: BloodCenterSettings) -> Any:
    return ExpiryInUtc(settings)


def collected_on_misread(settings: BloodCenterSettings) -> Any:
    return CollectedOnMisread(settings)


def receipt_time_in_utc(settings: BloodCenterSettings) -> Any:
    return ReceiptTimeInUtc(settings)


def slow_to_give_up(settings: BloodCenterSettings) -> Any:
    return SlowToGiveUp(settings)


def recall_lists_returned(settings: BloodCenterSettings) -> Any:
    return RecallListsReturned(settings)


def _defect(factory: str, kind: str, story: str, tags: str, *caught_by: str) -> Defect:
    return Defect("blood-center", factory, kind, story, tags, caught_by)


DEFECTS = [
    _defect(f"{HERE}:stock_in_memory", "restart", StockInMemory.__doc__ or "", "@restart", "重启后仍可退回"),
    _defect(f"{HERE}:bill_counts_returned_as_stock", "money", BillCountsReturnedAsStock.__doc__ or "", "@return",
            "退回的血袋不再收费"),
    _defect(f"{HERE}:accepts_expired_bags", "safety", AcceptsExpiredBags.__doc__ or "", "@safety", "扫描前已过期"),
    _defect(f"{HERE}:expiry_as_date", "safety", ExpiryAsDate.__doc__ or "", "@safety", "安全信息与血液中心记录一致"),
    _defect(f"{HERE}:expiry_in_utc", "safety", ExpiryInUtc.__doc__ or "", "@safety", "安全信息与血液中心记录一致"),
    _defect(f"{HERE}:collected_on_misread", "safety", CollectedOnMisread.__doc__ or "", "@safety",
            "安全信息与血液中心记录一致"),
    _defect(f"{HERE}:receipt_time_in_utc", "clock", ReceiptTimeInUtc.__doc__ or "", "@order", "从预约、确认、发血到入库"),
    _defect(f"{HERE}:slow_to_give_up", "time", SlowToGiveUp.__doc__ or "", "@fault", "不无限等待"),
    _defect(f"{HERE}:recall_lists_returned", "after", RecallListsReturned.__doc__ or "", "@return",
            "已退回的血袋被召回时"),
    _defect("tests.data.connectors.blood_center_unchecked_din:make", "data",
            "Confirms every scanned DIN without checking its ISBT 128 check flag.", "@scan", "校验位错误的献血码"),
    _defect("tests.data.connectors.blood_center_double_receipt:make", "restart",
            "Forgets what it received and confirms the same issue note again.", "@scan", "不能重复入库"),
    _defect("tests.data.connectors.blood_center_return_unreceived:make", "after",
            "Asks to return bags the hospital never received.", "@return", "没有入库的血袋不能退血"),
]
