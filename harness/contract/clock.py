"""The contract's `clock_skew` rule: a hospital's timestamps are read against the partner's clock, not just shaped.

A connector that runs in UTC, or writes day and month the wrong way round, sends timestamps of the right shape
that are hours or months off. The partner (the mock) checks each timestamp the contract lists when the message
arrives: within `max_s` seconds of its own clock (a date without a time: the partner's date, give or take
`max_s`). A timestamp that cannot be read as a time at all (month 13) is flagged too. Captured messages checked
later (`hih validate`) are not held to the clock: only a live receiver knows when a message arrived.

    clock_skew:
      max_s: 300
      stamps:
        - {at: /inf_time, format: "%Y-%m-%d %H:%M:%S"}
        - {at: /msgid, chars: [12, 26], format: "%Y%m%d%H%M%S"}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from harness.contract.findings import Finding, Severity
from harness.contract.model import ClockSkew, ClockStamp

RULE = "clock_skew"
_FIXED_FORMS = {"%Y-%m-%d %H:%M:%S": re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})"),
                "%Y%m%d%H%M%S": re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})")}
"""The contracts' two usual forms, read without `strptime` (ten times slower; it runs on every request)."""
_HL7_DTM = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d{1,4})?([+-]\d{4})?")


def clock_skew(raw: dict[str, Any] | None) -> ClockSkew | None:
    """The rule from contract.yaml's `clock_skew` (already checked against the meta-schema)."""
    if not raw:
        return None
    stamps = tuple(ClockStamp(s["at"], s["format"], tuple(s["chars"]) if s.get("chars") else None,
                              tuple(s.get("operations") or ())) for s in raw["stamps"])
    return ClockSkew(float(raw["max_s"]), stamps)


def read_time(value: str, form: str) -> datetime | date | None:
    """A timestamp as local time (a date when it has no time of day); None when it is no valid time."""
    value = value.strip()
    try:
        if form == "hl7":
            return _hl7(value)
        if form == "iso":
            if "T" not in value:
                return date.fromisoformat(value[:10])
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return moment.astimezone().replace(tzinfo=None) if moment.tzinfo else moment
        if form in _FIXED_FORMS:
            return _fixed(value, form)
        return datetime.strptime(value, form)
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def _fixed(value: str, form: str) -> datetime | None:
    """A timestamp in one of the two usual forms, remembered: every request of a second carries the same ones."""
    match = _FIXED_FORMS[form].fullmatch(value)
    if match is None:
        return datetime.strptime(value, form)  # the odd spelling strptime still reads (or ValueError)
    year, month, day, hour, minute, second = map(int, match.groups())
    return datetime(year, month, day, hour, minute, second)


@lru_cache(maxsize=1024)
def _hl7(value: str) -> datetime | date | None:
    """An HL7 DTM as local time, remembered: a receiver reads the same MSH-7 for every message of a second."""
    match = _HL7_DTM.fullmatch(value)
    if match is None or match.group(3) is None:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    if hour is None:
        return date(int(year), int(month), int(day))
    moment = datetime(int(year), int(month), int(day), int(hour), int(minute or 0), int(second or 0))
    if zone:
        offset = (1 if zone[0] == "+" else -1) * timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
        moment = (moment - offset + (datetime.now().astimezone().utcoffset() or timedelta(0)))
    return moment


def stamp_problem(stamp: ClockStamp, value: str, now: datetime, max_s: float) -> str | None:
    """Why `value` (read at `stamp`) is not within `max_s` of `now`; None when it is."""
    text = value[stamp.chars[0]:stamp.chars[1]] if stamp.chars else value
    moment = read_time(text, stamp.format)
    if moment is None:
        return f"{text!r} is no valid time ({stamp.format})"
    margin = timedelta(seconds=max_s)
    if not isinstance(moment, datetime):
        if moment not in {(now - margin).date(), now.date(), (now + margin).date()}:
            return f"date {moment} is not the receiver's date {now.date()} (clock skew over {max_s:g} s)"
        return None
    off = (moment - now).total_seconds()
    if abs(off) > max_s:
        side = "ahead of" if off > 0 else "behind"
        return (f"{text!r} is {abs(off):.0f} s {side} the receiver's clock ({now:%Y-%m-%d %H:%M:%S}); "
                f"at most {max_s:g} s allowed")
    return None


def clock_findings(rule: ClockSkew | None, operation: str | None, read: Callable[[str], str | None],
                   now: datetime) -> list[Finding]:
    """Findings (rule `clock_skew`) for the timestamps of one message; `read(at)` gives the value at a location."""
    if rule is None:
        return []
    findings = []
    for stamp in rule.stamps:
        if stamp.operations and operation not in stamp.operations:
            continue
        value = read(stamp.at)
        if not value:
            continue  # absence is the schema's business
        problem = stamp_problem(stamp, value, now, rule.max_s)
        if problem:
            findings.append(Finding(Severity.ERROR, stamp.at, problem, RULE))
    return findings
