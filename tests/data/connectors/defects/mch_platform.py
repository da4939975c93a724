"""Planted maternal-child platform connector defects (see `tests.data.connectors.defects`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

from connectors.mch_platform import MchPlatformConnector, Outbox
from harness.ports.mch_platform import HospitalRecord, MchSettings
from tests.data.connectors.defects import SLOW_TIMES, Defect, planted


class OutboxInMemory(MchPlatformConnector):
    """Keeps its outbox in memory: what was queued when the process stopped is never sent."""

    def __init__(self, settings: MchSettings) -> None:
        super().__init__(settings)
        self.outbox.close()
        self.outbox = Outbox(Path(":memory:"))


class ResendsAfterRestart(MchPlatformConnector):
    """On start-up, sends again whatever was on the wire when it stopped, without asking the platform first."""

    def __init__(self, settings: MchSettings) -> None:
        super().__init__(settings)
        self.outbox.mark([r.serial for r in self.outbox.rows(("sending",))], "queued")


class WithdrawKeepsOutbox(MchPlatformConnector):
    """Withdraws a record on the platform but keeps its unsent correction in the outbox, sent later to whatever
    record then carries the number."""

    def withdraw(self, record_id: str, reason: str) -> str:
        return str(self._safe("WithdrawRecord", recordId=record_id, reason=reason).status)


class ReportDateYesterday(MchPlatformConnector):
    """Dates every record the day before (a nightly batch's habit, kept when uploads became immediate)."""

    @staticmethod
    def _report_date() -> date:
        # The day before the day of ten minutes ago: yesterday but in the first minutes after midnight, where the
        # contract's clock_skew (300 s around midnight) lets yesterday's date pass and the defect would be missed.
        return (datetime.now() - timedelta(minutes=10)).date() - timedelta(days=1)


class SexCodeSwapped(MchPlatformConnector):
    """Maps the hospital's sex codes the wrong way round (1 male and 2 female swapped): valid, and wrong."""

    def _xml(self, record: HospitalRecord, serial: str, operation: str, reason: str | None) -> bytes:
        swapped = {"1": "2", "2": "1"}
        data = {k: swapped.get(v, v) if k == "sex" else v for k, v in record.data.items()}
        return super()._xml(replace(record, data=data), serial, operation, reason)


class TimesInUtc(MchPlatformConnector):
    """Writes times of day in UTC (8 hours earlier) into records read as Beijing time: a birth at 08:30 at 00:30."""

    def _xml(self, record: HospitalRecord, serial: str, operation: str, reason: str | None) -> bytes:
        data = {k: v - timedelta(hours=8) if isinstance(v, datetime) else v for k, v in record.data.items()}
        return super()._xml(replace(record, data=data), serial, operation, reason)


class SlowToGiveUp(MchPlatformConnector):
    """Waits three times the timeout the hospital configured for every reply (`SLOW_TIMES`): it gives up late."""

    def __init__(self, settings: MchSettings) -> None:
        super().__init__(replace(settings, timeout_s=round(SLOW_TIMES * settings.timeout_s, 3)))


DEFECTS = [
    planted("mch-platform", OutboxInMemory, "restart", "@restart", "发送前中断"),
    planted("mch-platform", ResendsAfterRestart, "restart", "@restart", "答复丢失后中断"),
    planted("mch-platform", WithdrawKeepsOutbox, "after", "@withdrawal", "撤回记录后"),
    planted("mch-platform", ReportDateYesterday, "clock", "@clock", "上报日期是平台的今天"),
    planted("mch-platform", SexCodeSwapped, "safety", "@records", "新生儿听力筛查"),
    planted("mch-platform", TimesInUtc, "safety", "@records", "出生医学证明首次签发"),
    planted("mch-platform", SlowToGiveUp, "time", "@no_answer", "长时间不可用"),
    Defect("mch-platform", "tests.data.connectors.mch_resend_connector:make", "contract",
            "Sends a record again after a lost reply without asking the platform whether it arrived.", "@faults", ("上传应答丢失后不重复上传",)),
    Defect("mch-platform", "tests.data.connectors.mch_no_renewal_connector:make", "contract",
            "Never logs in again when the platform says the session expired.", "@session", ("会话过期后",)),
    Defect("mch-platform", "tests.data.connectors.mch_no_id_check_connector:make", "data",
            "Checks records against their XSD but not the platform's ID check character.", "@validation", ("母亲身份证号校验位错误",)),
]
