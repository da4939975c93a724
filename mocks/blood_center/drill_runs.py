"""Drill runs: starting a drill for a trainee, following their progress through the journal, and the completion
records kept in the state database (exported as CSV).

One drill runs at a time (the training centre is one centre). Starting it puts the centre back to its seeded state,
applies the drill's stock and telephone orders, arms its faults and switches on its autopilot. Progress is read from
the journal: each new exchange of the hospital system is checked against the next goal not yet met, and a goal met
is written to the run's record at once, with the time of the exchange that met it, so progress survives a restart.
When the last goal is met the run is completed; the trainer may also abandon it. Either way the drill's faults are
disarmed and its autopilot stops.

Bounded: at most `MAX_RECORDS` records (starting another is refused until the trainer exports and clears them: none
is dropped silently), `MAX_NOTES` autopilot notes per run, trainee names of 1 to 40 characters.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mocks.blood_center.autopilot import Autopilot
from mocks.blood_center.centre import CentreError
from mocks.blood_center.drill import Drill
from mocks.blood_center.drill_match import met
from mocks.blood_center.inventory import PRODUCTS
from mocks.blood_center.labels import local_time
from mocks.blood_center.vetting import checked_text
from mocks.transport.faults import Fault

if TYPE_CHECKING:
    from mocks.blood_center.service import BloodCenterMock

RUNS = "drill_runs"
STATE = "drill_state"
MAX_RECORDS = 10_000
MAX_NOTES = 50
MAX_TRAINEE = 40
STATUS_ZH = {"running": "进行中", "completed": "已完成", "abandoned": "已放弃"}
CSV_COLUMNS = ("记录编号", "学员", "演练编号", "演练", "状态", "开始时间", "结束时间", "用时（分钟）", "完成目标数", "目标总数",
               "各目标完成时间")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula is prefixed with ' (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


@dataclass(frozen=True)
class Progress:
    """A run as the console shows it."""

    record: dict[str, Any]
    drill: Drill | None

    @property
    def done(self) -> int:
        return sum(1 for g in self.record["goals"] if g["doneAt"])

    @property
    def total(self) -> int:
        return len(self.record["goals"])

    @property
    def current(self) -> dict[str, Any] | None:
        """The next goal not yet met (None once all are)."""
        return next((g for g in self.record["goals"] if not g["doneAt"]), None)


class DrillRuns:
    """The drill runs of one blood-centre mock."""

    def __init__(self, mock: BloodCenterMock, drills: dict[str, Drill], restore_seed: Callable[[], None]) -> None:
        self.mock = mock
        self.drills = drills
        self.restore_seed = restore_seed
        self._lock = threading.RLock()
        self._cursor = 0
        """The newest journal entry already checked (kept in memory: a restarted server has a new journal)."""
        self._pilot: tuple[str, Autopilot] | None = None
        self._running = self.store.get(STATE, "active") is not None

    @property
    def store(self) -> Any:
        return self.mock.store

    def _now(self) -> datetime:
        return self.mock.centre.now()

    # -- reading --------------------------------------------------------------------------------------------------
    def active(self) -> Progress | None:
        pointer = self.store.get(STATE, "active")
        record = self.store.get(RUNS, pointer["run"]) if isinstance(pointer, dict) else None
        if not isinstance(record, dict) or record.get("status") != "running":
            return None
        return Progress(record, self.drills.get(record["drill"]))

    def records(self, limit: int | None = None) -> list[Progress]:
        """Runs, newest first."""
        rows = sorted((r for _, r in self.store.items(RUNS) if isinstance(r, dict)), key=lambda r: r["id"], reverse=True)
        return [Progress(r, self.drills.get(r["drill"])) for r in rows[:limit]]

    def count(self) -> int:
        return int(self.store.count(RUNS))

    # -- starting and ending --------------------------------------------------------------------------------------
    def start(self, drill_id: str, trainee: str) -> Progress:
        """Start `drill_id` for `trainee`: the centre reset to its seed, the drill's setting applied, faults armed."""
        trainee = checked_text(trainee, "学员姓名", MAX_TRAINEE)
        drill = self.drills.get(drill_id)
        if drill is None:
            raise CentreError("1001", f"没有演练 {drill_id[:40]}")
        if self.mock.workers > 1:  # goals are met by exchanges in this process's journal: the others' would be missed
            raise CentreError("1001", f"演练需要单进程的血液中心：本服务由 {self.mock.workers} 个进程（--workers）共同提供，"
                                      "医院的报文分散在各进程，演练无法跟踪；请不带 --workers 启动 hih mock serve 再开始演练")
        with self._lock:
            running = self.active()
            if running is not None:
                raise CentreError("1001", f"演练「{running.record['title']}」（{running.record['trainee']}）正在进行：请先结束它")
            if self.count() >= MAX_RECORDS:
                raise CentreError("1001", f"完成记录已满 {MAX_RECORDS} 条：请先导出 CSV，再清除记录")
            with self.store.transaction():
                self.restore_seed()
                self._setting(drill)
                state = self.store.get(STATE, "seq") or {"next": 1}
                run_id = f"R{state['next']:06d}"
                self.store.put(STATE, "seq", {"next": state["next"] + 1})
                record: dict[str, Any] = {
                    "id": run_id, "drill": drill.id, "title": drill.title, "trainee": trainee,
                    "hospital": self.mock.hospital, "status": "running", "started": self._now().isoformat(),
                    "finished": None, "facts": {"recalled": []}, "notes": [],
                    "goals": [{"id": g.id, "title": g.title, "doneAt": None, "exchange": None} for g in drill.goals]}
                self.store.put(RUNS, run_id, record)
                self.store.put(STATE, "active", {"run": run_id})
            self._cursor = self.mock.journal.last_id
            self._running = True
            for fault in drill.faults:
                self.mock.faults.add(Fault.from_dict(dict(fault)))
            return Progress(record, drill)

    def _setting(self, drill: Drill) -> None:
        """The drill's starting point on a freshly seeded centre: stock run short, telephone orders issued."""
        centre = self.mock.centre
        for limit in drill.stock:
            centre.limit_stock(limit.product, limit.abo, limit.rhd, limit.keep)
        for phone in drill.orders:
            order = {"orderNo": phone.order_no, "urgency": phone.urgency, "wantedAt": self._now().isoformat(),
                     "department": phone.department or None, "orderedBy": None, "remark": "电话预约",
                     "item": [{"lineNo": n, "productCode": p, "abo": a, "rhd": r, "quantity": format(q, "f"),
                               "unit": PRODUCTS[p].unit} for n, (p, a, r, q) in enumerate(phone.items, 1)]}
            centre.submit_order(self.mock.hospital, order)
            key = f"{self.mock.hospital}/{phone.order_no}"
            centre.accept(key)
            if phone.issue:
                centre.issue(key)

    def abandon(self) -> Progress:
        with self._lock:
            running = self.active()
            if running is None:
                raise CentreError("1001", "没有正在进行的演练")
            return self._end(running.record, "abandoned", self._now())

    def _end(self, record: dict[str, Any], status: str, when: datetime) -> Progress:
        record.update(status=status, finished=when.isoformat())
        with self.store.transaction():
            self.store.put(RUNS, record["id"], record)
            self.store.delete(STATE, "active")
        self.mock.faults.clear()
        self._pilot = None
        self._running = False
        return Progress(record, self.drills.get(record["drill"]))

    def clear_records(self) -> int:
        """Delete every finished record (the running one is kept); returns how many were deleted."""
        with self._lock, self.store.transaction():
            running = self.active()
            gone = [key for key, r in self.store.items(RUNS) if running is None or key != running.record["id"]]
            for key in gone:
                self.store.delete(RUNS, key)
            return len(gone)

    # -- progress -------------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether a drill may be running (kept in memory: the journal's listener costs nothing when none is)."""
        return self._running

    def sync(self) -> Progress | None:
        """Check the exchanges journaled since the last call against the running drill's goals, in order."""
        with self._lock:
            running = self.active()
            self._running = running is not None
            newest = self.mock.journal.last_id
            if running is None or running.drill is None or newest <= self._cursor:
                self._cursor = max(self._cursor, newest)
                return running
            record, drill = running.record, running.drill
            cursor = self._cursor
            fresh = self.mock.journal.entries(predicate=lambda e: e.id > cursor)
            self._cursor = newest
            changed = False
            for exchange in fresh:
                index = next((n for n, g in enumerate(record["goals"]) if not g["doneAt"]), None)
                if index is None:
                    break
                if met(drill.goals[index].when, exchange, record["facts"]):
                    at = datetime.fromtimestamp(exchange.started).replace(microsecond=0)
                    record["goals"][index].update(doneAt=at.isoformat(), exchange=exchange.id)
                    changed = True
            if not changed:
                return running
            if all(g["doneAt"] for g in record["goals"]):
                return self._end(record, "completed", datetime.fromisoformat(record["goals"][-1]["doneAt"]))
            self.store.put(RUNS, record["id"], record)
            return Progress(record, drill)

    # -- the autopilot's side -------------------------------------------------------------------------------------
    def autopilot(self) -> Autopilot | None:
        """The running drill's autopilot (None when no drill runs or its centre is left to the trainer)."""
        running = self.active()
        if running is None or running.drill is None:
            self._pilot = None
            return None
        if self._pilot is None or self._pilot[0] != running.record["id"]:
            self._pilot = (running.record["id"], Autopilot(lambda: self.mock.centre, running.drill.centre,
                                                           self.mock.labels, self.note, self.recalled))
        return self._pilot[1]

    def note(self, text: str) -> None:
        with self._lock:
            running = self.active()
            if running is None:
                return
            record = running.record
            record["notes"] = [*record["notes"], {"at": self._now().isoformat(), "text": text[:300]}][-MAX_NOTES:]
            self.store.put(RUNS, record["id"], record)

    def recalled(self, dins: list[str]) -> None:
        with self._lock:
            running = self.active()
            if running is None:
                return
            record = running.record
            record["facts"]["recalled"] = list(dict.fromkeys([*record["facts"].get("recalled", []), *dins]))
            self.store.put(RUNS, record["id"], record)

    # -- export ---------------------------------------------------------------------------------------------------
    def csv(self) -> bytes:
        """Every record as CSV, UTF-8 with a byte-order mark (so that spreadsheet programs read the Chinese)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for progress in reversed(self.records()):
            r = progress.record
            minutes = ""
            if r["finished"]:
                spent = datetime.fromisoformat(r["finished"]) - datetime.fromisoformat(r["started"])
                minutes = str((Decimal(spent.total_seconds()) / 60).quantize(Decimal("0.1")))
            goals = "；".join(f"{n}. {g['title']} {local_time(g['doneAt'], seconds=True) or '未完成'}"
                             for n, g in enumerate(r["goals"], 1))
            writer.writerow([csv_cell(v) for v in (
                r["id"], r["trainee"], r["drill"], r["title"], STATUS_ZH.get(r["status"], r["status"]),
                local_time(r["started"], seconds=True), local_time(r["finished"], seconds=True), minutes,
                progress.done, progress.total, goals)])
        return ("\ufeff" + out.getvalue()).encode("utf-8")
