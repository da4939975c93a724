"""pytest plugin named first on the command line of a run's pytest processes: it keeps out the modules that the
run's libraries would import for nothing (`harness.run.warm.LEFT_OUT`: httpx's command-line client, mako's Pygments
highlighting, which pytest-bdd's plugin brings), before any other plugin is imported, and has pytest's output
written to the log a line at a time (`harness.run.warm.line_buffered_log`). A warm process has done both already; a
process started with its command line (another lane, a restarted segment, an xdist worker) does them here."""

from __future__ import annotations

from harness.run.warm import leave_out, line_buffered_log

leave_out()
line_buffered_log()
