"""What the trainer's console shows for each code and time: Chinese labels and local times.

The labels of the interface's codes (products, groups, urgency, statuses, notice types, result codes, operations) come
from the contract's code tables and operation names, so a new contract version relabels the console without a code
change. Only what the contract does not define is kept here: the inventory states of a bag, which are the centre's
own bookkeeping, and the console's names for the faults a trainer can arm.

Times are stored as the centre's wall-clock time without an offset (`2026-12-06T04:16:43`); a time the hospital sent
with an offset is shown in the server's local time zone. The console shows `2026-12-06 04:16`, never the ISO `T`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from harness.contract.model import Contract

BAG_STATES = {"AVAILABLE": "在库可发", "EXPIRED": "已过期", "ISSUED": "已发出", "RECALLED": "已召回", "RETURNED": "已退回"}
"""A bag's state in the centre's inventory (not a contract code: the hospital never sees it)."""

TABLE_OF_FIELD = {
    "productCode": "product", "abo": "abo", "rhd": "rhd", "urgency": "urgency", "unit": "quantity_unit",
    "order_status": "order_status", "condition": "unit_condition", "discrepancy": "discrepancy",
    "reason": "return_reason", "return_status": "return_status", "notice": "notice_type", "screen": "screen_result",
    "result": "result_code",
}
"""Which code table labels which kind of value on the console."""


@dataclass(frozen=True)
class Labels:
    """Chinese labels for one contract's codes; `code(kind, value)` falls back to the value itself."""

    tables: dict[str, dict[str, str]]
    operations: dict[str, str]

    @classmethod
    def of(cls, contract: Contract) -> Labels:
        tables = {kind: dict(contract.code_tables[table].values) for kind, table in TABLE_OF_FIELD.items()
                  if table in contract.code_tables}
        tables["bag"] = dict(BAG_STATES)
        return cls(tables, {key: op.name for key, op in contract.operations.items()})

    def code(self, kind: str, value: Any) -> str:
        """The label of `value` in the table for `kind` (`urgency`, `order_status` ...); the value when unknown."""
        text = "" if value is None else str(value)
        return self.tables.get(kind, {}).get(text, text)

    def operation(self, name: str | None) -> str:
        """`用血预约` for SubmitBloodOrder; the name itself for one the contract does not have."""
        if not name:
            return "（未识别的请求）"
        return self.operations.get(name, name)


def local_time(value: Any, seconds: bool = False) -> str:
    """`2026-12-06 04:16` for a stored ISO time (or epoch seconds), in the server's local time zone; '' for none,
    the text itself when it is not a time."""
    if value is None or value == "":
        return ""
    try:
        if isinstance(value, int | float):
            moment = datetime.fromtimestamp(value)
        else:
            moment = datetime.fromisoformat(str(value))
            if moment.tzinfo is not None:
                moment = moment.astimezone().replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
