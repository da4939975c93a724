"""The project's planted-defect suite: realistic bugs, each a small subclass or wrapper of a reference connector.

Each interface's module lists its defects in `DEFECTS`; tests/run/test_planted_defects.py runs the specs against
every one and asserts that the gate closes, that the scenarios named in `caught_by` are among those that fail, and
that every failure says in business words what was expected and what happened. docs/defect-classes.md lists the
classes of defect covered (`kind`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = {
    "restart": "durable state across a restart (outbox, listener store, stock, identifiers)",
    "after": "life after cancel, withdraw and reversal",
    "clock": "the hospital's clock in the timestamps it sends",
    "time": "bounded time: timeouts and resends",
    "safety": "safety fields end to end (what the hospital holds against what the partner sent)",
    "money": "money after reversals and returns",
    "store-ack": "store before acknowledge",
    "data": "accidents of data: rounding, insured area, identifiers",
    "contract": "messages that break the contract, and recovery from lost replies",
}


SLOW_TIMES = 3
"""How many times the hospital's configured timeout the `SlowToGiveUp` defects wait for each reply. The specs' "gives
up within N times the timeout" allows N × T + 0.5 s + N × T / 4 (features/steps/common.py): a defect that waits 3 T
on each of its N or more tries takes at least 3 N T, over that bound for any timeout T above 0.1 s (with the suite's
0.3 s: 2.7 s against 1.63 s for the three tries of insurance, the blood centre and the platform, 1.8 s against 1.25 s
for the two of LIS and PACS). A timeout never fires early, so no load hides the defect; it only adds to the time.
The defect waited 1.5 s whatever the setting before: 1.5 to 3 s more per scenario, for no more proof."""


@dataclass(frozen=True)
class Defect:
    """One planted defect: which interface, the factory `hih run --connector` takes, what it breaks."""

    interface: str
    factory: str
    """module:attribute for --connector: the defective connector class itself (it takes the settings)."""
    kind: str
    """The class of defect (a key of KINDS)."""
    story: str
    """What the bug is, as a hospital's integration engineer would find it."""
    tags: str
    """The scenarios to run (a Gherkin tag expression): those that should catch it."""
    caught_by: tuple[str, ...]
    """Parts of scenario names of which at least one must fail."""


def planted(interface: str, connector: type[Any], kind: str, tags: str, *caught_by: str) -> Defect:
    """The defect a connector class carries (its docstring tells the story); `--connector` takes the class."""
    return Defect(interface, f"{connector.__module__}:{connector.__name__}", kind, connector.__doc__ or "", tags, caught_by)
