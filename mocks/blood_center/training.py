"""The training side of the blood-centre mock: drills and their runs, named snapshots, and the change counter the
console's live updates follow. The SOAP service calls `after` once it has answered an operation with success, so a
running drill's autopilot can act."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mocks.blood_center.centre import CentreError
from mocks.blood_center.drill import load_drills
from mocks.blood_center.drill_runs import DrillRuns
from mocks.blood_center.snapshots import SEED, Snapshots

if TYPE_CHECKING:
    from mocks.blood_center.service import BloodCenterMock


class Training:
    """Drills, runs and snapshots of one blood-centre mock."""

    def __init__(self, mock: BloodCenterMock) -> None:
        self.mock = mock
        self.drills = load_drills(mock.contract)
        self.snapshots = Snapshots(mock.store, lambda: mock.centre.now())
        self.runs = DrillRuns(mock, self.drills, lambda: self.restore(SEED))

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

    def after(self, operation: str, request: Any, hospital: str) -> None:
        """Called by the SOAP service after an operation it answered with success."""
        pilot = self.runs.autopilot()
        if pilot is not None:
            pilot.after(operation, request, hospital)

    def revision(self) -> tuple[int, int, int]:
        """Changes whenever what the console shows may have: a new exchange, a state change, a fault armed or fired."""
        faults = self.mock.faults
        return (self.mock.journal.last_id, self.mock.store.revision,
                hash(tuple((f.kind, f.operation, f.times) for f in faults.armed())) ^ len(faults.fired))
