"""Exit statuses of a run's pytest processes that the runner tells apart from pytest's own (0, 1, 2, 5), in a
module of their own so that the runner learns them without importing the pytest plugins that use them."""

from __future__ import annotations

EXIT_STUCK = 70
"""The deadline's watchdog ended the process (EX_SOFTWARE): a scenario ignored its interruption
(harness.run.deadline)."""


GRACE_ENV = "HIH_SCENARIO_GRACE_S"
"""The grace in seconds a scenario that ignores its deadline's interruption gets before its process is ended
(harness.run.deadline reads it in each pytest process; the run's plan refuses a value that is no number above 0)."""
