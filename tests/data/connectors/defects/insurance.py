"""Planted insurance connector defects (see `tests.data.connectors.defects`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.insurance import InsuranceConnector, MsgIdSource
from harness.ports.insurance import (
    Certificate,
    FeeItem,
    InsuranceSettings,
    Refused,
    Settlement,
    SettlementNotCompleted,
    SettlementUncertain,
    Visit,
)
from tests.data.connectors.defects import SLOW_TIMES, Defect, planted


class ShiftedClock(InsuranceConnector):
    """Converts its local time to UTC by subtracting 8 hours for 交易时间 inf_time (the platform reads Beijing time)."""

    def _envelope(self, infno: str, data: dict[str, Any], msgid: str, insuplc_admdvs: str | None) -> dict[str, Any]:
        body = super()._envelope(infno, data, msgid, insuplc_admdvs)
        body["inf_time"] = (datetime.now() - timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
        return body


class _SecondCounter(MsgIdSource):
    def __init__(self, fixmedins_code: str) -> None:
        super().__init__(fixmedins_code)
        self._second, self._seq = "", 0

    def next(self) -> str:
        second = datetime.now().strftime("%Y%m%d%H%M%S")
        self._second, self._seq = second, (self._seq + 1 if second == self._second else 1)
        return f"{self.prefix}{second}{self._seq:04d}"


class MsgIdFromOne(InsuranceConnector):
    """Numbers msgids within the second from 1 in each process: a restart repeats the msgids just sent."""

    def __init__(self, settings: InsuranceSettings) -> None:
        super().__init__(settings)
        self.msgids = _SecondCounter(settings.fixmedins_code)


class BankersRounding(InsuranceConnector):
    """Rounds a fee line half to even (Decimal's default), where the platform rounds half up: 0.5 × 61.73 = 30.86."""

    @staticmethod
    def _line_total(item: FeeItem) -> Decimal:
        return (item.cnt * item.pric).quantize(Decimal("0.01"))


class FloatAmounts(InsuranceConnector):
    """Computes a fee line in binary floating point: 0.5 × 61.73 is 30.864999..., rounded to 30.86."""

    @staticmethod
    def _line_total(item: FeeItem) -> Decimal:
        return Decimal(str(round(float(item.cnt) * float(item.pric), 2))).quantize(Decimal("0.01"))


class LocalArea(InsuranceConnector):
    """Sends the hospital's own area (mdtrtarea_admvs) as the insured area, also for patients insured elsewhere."""

    def _envelope(self, infno: str, data: dict[str, Any], msgid: str, insuplc_admdvs: str | None) -> dict[str, Any]:
        return super()._envelope(infno, data, msgid, self.settings.mdtrtarea_admvs if insuplc_admdvs else None)


class SlowToGiveUp(InsuranceConnector):
    """Waits three times the timeout the hospital configured for every reply (`SLOW_TIMES`): it gives up late."""

    def __init__(self, settings: InsuranceSettings) -> None:
        super().__init__(replace(settings, timeout_s=round(SLOW_TIMES * settings.timeout_s, 3)))


class TooManyResends(InsuranceConnector):
    """Resends a query five times after a lost reply, where the hospital agreed on two."""

    retries = 5


class CachedSettlement(InsuranceConnector):
    """Keeps each batch's settlement to answer a repeated request without charging twice, and forgets that a
    reversal voids it: settling again after a reversal returns the reversed settlement."""

    def __init__(self, settings: InsuranceSettings) -> None:
        super().__init__(settings)
        self._settled: dict[tuple[str, str], Settlement] = {}

    def settle(self, visit: Visit, cert: Certificate, batch: str, total: Decimal, use_account: bool = True) -> Settlement:
        key = (visit.mdtrt_id, batch)
        if key not in self._settled:
            self._settled[key] = super().settle(visit, cert, batch, total, use_account)
        return self._settled[key]


class NoUndoOfLostRegistration(InsuranceConnector):
    """Reports a registration whose reply was lost, without reversing it: the platform keeps a visit nobody knows."""

    def _undo(self, psn_no: str, insuplc_admdvs: str, msgid: str, infno: str) -> bool | None:
        return None if infno == "2201" else super()._undo(psn_no, insuplc_admdvs, msgid, infno)


class SignsInToSignOut(InsuranceConnector):
    """Told at sign-out that the platform no longer knows its session, signs in again only to sign out the old
    number, which the platform refuses: the charge desk sees an error at closing time and a new session is left
    open on the platform."""

    def sign_out(self) -> None:
        if not self.sign_no:
            return
        data = {"signOut": {"sign_no": self.sign_no, "opter_no": self.settings.opter}}
        try:
            self._call("9002", data)
        except Refused:
            self.sign_in()
            self._call("9002", data)
        self.sign_no = None


class ReversesWhatNeverLeft(InsuranceConnector):
    """Treats a settlement it could not even connect for like one whose reply was lost: sends a 2601 reversal
    (refused as well) and reports the settlement uncertain, so the cashier is told to check by hand a charge that
    cannot have happened."""

    def settle(self, visit: Visit, cert: Certificate, batch: str, total: Decimal, use_account: bool = True) -> Settlement:
        try:
            return super().settle(visit, cert, batch, total, use_account)
        except SettlementNotCompleted as lost:
            if "cannot connect" in lost.reason and self._undo(visit.psn_no, visit.insuplc_admdvs, lost.msgid, "2207") is None:
                raise SettlementUncertain(lost.msgid, f"{lost.reason}; the reversal did not get through either") from None
            raise


DEFECTS = [
    planted("insurance", ShiftedClock, "clock", "@clock", "时钟一致时"),
    planted("insurance", MsgIdFromOne, "restart", "@restart", "同一秒内重启"),
    planted("insurance", BankersRounding, "data", "@flow", "完整的门诊结算"),
    planted("insurance", FloatAmounts, "data", "@flow", "完整的门诊结算"),
    planted("insurance", LocalArea, "data", "@flow", "完整的门诊结算"),
    planted("insurance", SlowToGiveUp, "time", "@no_answer", "不无限等待"),
    planted("insurance", TooManyResends, "time", "@no_answer", "不无限等待"),
    planted("insurance", CachedSettlement, "after", "@reversal", "冲正后可以重新结算"),
    planted("insurance", SignsInToSignOut, "after", "@flow", "不为签退而重新签到"),
    planted("insurance", ReversesWhatNeverLeft, "contract", "@refused", "平台拒绝连接时"),
    planted("insurance", NoUndoOfLostRegistration, "after", "@fault",
            "连接器冲正这笔挂号"),
    Defect("insurance", "tests.data.connectors.double_charge_connector:make", "money",
            "Settles again with a new msgid after a lost settlement reply instead of reversing the first one.",
            "@fault", ("结算应答丢失",)),
    Defect("insurance", "tests.data.connectors.missing_field_connector:make", "contract",
            "Leaves out pub_hosp_rfom_flag (required from 2024.1) and sends without checking the contract.",
            "@policy", ("公立医院改革标志",)),
    Defect("insurance", "tests.data.connectors.unsigned_connector:make", "contract", "Sends every request without TIF signature.",
            "@smoke", ("完整的门诊结算",)),
]
