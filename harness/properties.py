"""Names of the user properties the hih pytest plugin puts on a scenario's report, which the runner reads from
the event stream and junit.xml: in a module of their own, so that the runner knows them without importing pytest."""

from __future__ import annotations

KEY_PROPERTY = "hih_key"
"""A scenario's key: a digest of its real node id, which names no patient; the runner matches what was collected,
what reported, what a restart leaves out and what the deadline ended by it."""
CONNECTOR_ERROR = "hih_connector_error"
"""Set on a scenario whose connector factory raised (the runner stops with exit 2)."""
