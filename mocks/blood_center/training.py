"""The training side of the blood-centre mock: drills and their runs, named snapshots, and the change counter the
console's live updates follow. It listens to the journal: each exchange of the hospital system, as it is recorded
(before its answer leaves), lets a running drill's centre act and is checked against the drill's goals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mocks.blood_center.centre import CentreError
from mocks.blood_center.drill import load_drills
from mocks.blood_center.drill_runs import DrillRuns
from mocks.blood_center.snapshots import SEED, Snapshots
from mocks.transport.journal import Exchange

if TYPE_CHECKING:
    from mocks.blood_center.service import BloodCenterMock


class Training:
    """Drills, runs and snapshots of one blood-centre mock."""

    def __init__(self, mock: BloodCenterMock) -> None:
        self.mock = mock
        self.drills = load_drills(mock.contract)
        self.snapshots = Snapshots(mock.store, lambda: mock.centre.now())
        self.runs = DrillRuns(mock, self.drills, lambda: self.restore(SEED))
        mock.journal.listener = self.observe

    def restore(self, name: str) -> None:
        """Put the centre back to a named snapshot (`SEED`: freshly seeded), with an empty journal and no faults."""
        self.snapshots.restore(name, self.mock.seed)
        self.mock.journal.clear()
        self.mock.faults.clear()

    def reset_to(self, name: str) -> None:
        """The trainer's reset to a snapshot: refused while a drill runs (the drill set the centre up)."""
        running = self.runs.active()
        if running is not None:
            raise CentreError("1001", f"演练「{running.record['title']}」正在进行：结束演练后再恢复快照")
        self.restore(name)

    def observe(self, exchange: Exchange) -> None:
        """The journal's listener; nothing to do while no drill runs."""
        if not self.runs.running:
            return
        pilot = self.runs.autopilot()
        body = exchange.request.get("body") if isinstance(exchange.request, dict) else None
        if pilot is not None and exchange.direction == "inbound" and exchange.operation and isinstance(body, dict):
            hospital = str((exchange.request.get("auth") or {}).get("HospitalCode", ""))
            pilot.after(exchange.operation, body, hospital, answered=exchange.response_raw is not None)
        self.runs.sync()

    def revision(self) -> tuple[int, int, int]:
        """Changes whenever what the console shows may have: a new exchange, a state change, a fault armed or fired."""
        faults = self.mock.faults
        return (self.mock.journal.last_id, self.mock.store.revision,
                hash(tuple((f.kind, f.operation, f.times) for f in faults.armed())) ^ len(faults.fired))
