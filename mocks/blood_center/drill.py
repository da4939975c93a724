"""Training drills as data: the YAML files under `drills/` (and a trainer's own folder), checked and typed.

A drill says how the centre starts (stock run short, orders placed by telephone), how it behaves by itself while the
drill runs (decide orders by stock, issue at once, approve returns, recall a received bag), which faults are armed,
and the goals the trainee must reach, in order. A goal is met by one exchange of the hospital system: its operation,
what the request carried, what the answer said, whether a fault hit it. A file that breaks the rules is refused as
`path:line: message` when the server starts, never half-loaded.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from harness.contract.errors import ContractError, ContractProblem
from harness.contract.model import Contract
from harness.contract.source import SourceFile, escape_pointer_token, load_source
from harness.errors import UsageError
from mocks.transport.faults import Fault

SHIPPED = Path(__file__).resolve().parent / "drills"
SCHEMA = SHIPPED / "drill.schema.json"
FOLDER_ENV = "HIH_BLOOD_CENTER_DRILLS"
"""A folder of the trainer's own drill files, loaded beside the shipped ones (a file with the same id replaces one)."""
ANY = "*"
"""A goal's operation that any operation meets (with `fault: true`: the hospital met the outage at all)."""
FACTS = ("$recalled",)
"""Values a goal may name that are known only while the drill runs: the DINs the centre recalled."""


@dataclass(frozen=True)
class Match:
    """What an exchange must be to meet a goal."""

    operation: str
    request: dict[str, Any] = field(default_factory=dict)
    answer: dict[str, Any] = field(default_factory=dict)
    fault: bool | None = None


@dataclass(frozen=True)
class Goal:
    id: str
    title: str
    when: Match
    hint: str = ""


@dataclass(frozen=True)
class StockLimit:
    product: str
    abo: str
    rhd: str
    keep: int


@dataclass(frozen=True)
class PhoneOrder:
    """An order the hospital placed by telephone before the drill; the centre accepted it (and issued it)."""

    order_no: str
    urgency: str
    items: tuple[tuple[str, str, str, Decimal], ...]
    department: str = ""
    issue: bool = True


@dataclass(frozen=True)
class Behaviour:
    """What the centre does by itself while the drill runs."""

    orders: str = "manual"
    """manual (the trainer decides), accept, by_stock (accept, partly accept or reject by what is in stock), reject."""
    reason: str = "库存不足"
    issue: str = "never"
    """never, at_once, or after_feedback (once the hospital has queried the decision)."""
    returns: str = "manual"
    """manual, approve or reject."""
    return_reason: str = "血袋已开封，不予退回"
    recall_received: int = 0


@dataclass(frozen=True)
class Drill:
    id: str
    title: str
    summary: str
    briefing: str
    goals: tuple[Goal, ...]
    stock: tuple[StockLimit, ...] = ()
    orders: tuple[PhoneOrder, ...] = ()
    centre: Behaviour = Behaviour()
    faults: tuple[dict[str, Any], ...] = ()
    source: str = ""


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))


def _problems(source: SourceFile, contract: Contract) -> list[ContractProblem]:
    """Schema problems, then what the schema cannot say: codes from the contract, operations, faults, unique ids."""
    found = [source.problem("/" + "/".join(escape_pointer_token(str(p)) for p in error.absolute_path), error.message)
             for error in sorted(_validator().iter_errors(source.data), key=lambda e: list(map(str, e.absolute_path)))]
    if found:
        return found
    data = source.data
    tables = {name: set(table.values) for name, table in contract.code_tables.items()}

    def code(pointer: str, table: str, value: str) -> None:
        if value not in tables.get(table, {value}):
            found.append(source.problem(pointer, f"{value!r} is not in the contract's code table {table!r}"))

    for n, limit in enumerate(data.get("stock", [])):
        code(f"/stock/{n}/product", "product", limit["product"])
        code(f"/stock/{n}/abo", "abo", limit["abo"])
        code(f"/stock/{n}/rhd", "rhd", limit["rhd"])
    for n, order in enumerate(data.get("orders", [])):
        code(f"/orders/{n}/urgency", "urgency", order["urgency"])
        for m, item in enumerate(order["items"]):
            code(f"/orders/{n}/items/{m}/product", "product", item["product"])
            code(f"/orders/{n}/items/{m}/abo", "abo", item["abo"])
            code(f"/orders/{n}/items/{m}/rhd", "rhd", item["rhd"])
    for n, fault in enumerate(data.get("faults", [])):
        try:
            made = Fault.from_dict(dict(fault))
        except UsageError as exc:
            found.append(source.problem(f"/faults/{n}", str(exc)))
            continue
        if made.operation is not None and made.operation not in contract.operations:
            found.append(source.problem(f"/faults/{n}/operation", f"{made.operation!r} is not an operation of {contract.ref}"))
    seen: set[str] = set()
    for n, goal in enumerate(data["goals"]):
        if goal["id"] in seen:
            found.append(source.problem(f"/goals/{n}/id", f"goal id {goal['id']!r} is used twice"))
        seen.add(goal["id"])
        operation = goal["when"]["operation"]
        if operation != ANY and operation not in contract.operations:
            found.append(source.problem(f"/goals/{n}/when/operation", f"{operation!r} is not an operation of {contract.ref}"))
        for side in ("request", "answer"):
            for path, expected in goal["when"].get(side, {}).items():
                named = expected.get("contains") if isinstance(expected, dict) else None
                if isinstance(named, str) and named not in FACTS:
                    found.append(source.problem(f"/goals/{n}/when/{side}/{escape_pointer_token(path)}",
                                                f"{named} is not a known value (known: {', '.join(FACTS)})"))
    return found


def _drill(source: SourceFile) -> Drill:
    data = source.data
    centre = data.get("centre", {})
    return Drill(
        id=data["id"], title=data["title"], summary=data["summary"], briefing=data["briefing"].strip(),
        goals=tuple(Goal(g["id"], g["title"], Match(
            g["when"]["operation"], dict(g["when"].get("request", {})),
            {**({"ResultCode": g["when"]["result"]} if "result" in g["when"] else {}), **g["when"].get("answer", {})},
            g["when"].get("fault")), g.get("hint", "")) for g in data["goals"]),
        stock=tuple(StockLimit(s["product"], s["abo"], s["rhd"], s["keep"]) for s in data.get("stock", [])),
        orders=tuple(PhoneOrder(o["orderNo"], o["urgency"],
                                tuple((i["product"], i["abo"], i["rhd"], Decimal(str(i["quantity"]))) for i in o["items"]),
                                o.get("department", ""), o.get("issue", True)) for o in data.get("orders", [])),
        centre=Behaviour(**centre),
        faults=tuple(dict(f) for f in data.get("faults", [])),
        source=str(source.path),
    )


def load_drill(path: Path, contract: Contract) -> Drill:
    """One drill file, checked against the schema and the contract; ContractError (path:line: message) otherwise."""
    source = load_source(path)
    problems = _problems(source, contract)
    if problems:
        raise ContractError(problems)
    return _drill(source)


def load_drills(contract: Contract, folders: list[Path] | None = None) -> dict[str, Drill]:
    """The shipped drills and those of `folders` (default: $HIH_BLOOD_CENTER_DRILLS, when set), by id; a later
    folder's drill replaces one with the same id. UsageError (one line) for a file or folder that cannot be used."""
    if folders is None:
        extra = os.environ.get(FOLDER_ENV, "").strip()
        folders = [SHIPPED, *([Path(extra)] if extra else [])]
    drills: dict[str, Drill] = {}
    for folder in folders:
        if not folder.is_dir():
            raise UsageError(f"{FOLDER_ENV}={folder}: not a folder of drill files")
        for path in sorted(folder.glob("*.yaml")):
            try:
                drill = load_drill(path, contract)
            except ContractError as exc:
                raise UsageError(f"drill {exc}") from None
            drills[drill.id] = drill
    return drills
