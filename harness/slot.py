"""The connector under test as a scenario holds it: one instance at a time, which a restart replaces.

Steps get the slot from the `<interface>` fixture and call the port's operations on it as on the connector itself
(attributes are looked up on the current instance). `restart()` is what a hospital's process restart does to the
connector: the running instance is closed and a new one is built from the same settings, and so on the same
durable state (outbox, listener store, counters) in the scenario's work folder. A connector that kept something
only in memory has lost it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ConnectorSlot:
    """Holds the current connector instance built by `build`; forwards attribute access to it."""

    def __init__(self, build: Callable[[], Any], configured: Any = None) -> None:
        self._build = build
        self.configured = configured
        """The settings the factory was given (where hih told the connector to keep its durable state)."""
        self.current: Any = build()
        self.restarts = 0

    def __getattr__(self, name: str) -> Any:
        # only called for names the slot itself lacks: the port's operations and the connector's attributes
        return getattr(self.__dict__["current"], name)

    def __repr__(self) -> str:
        return f"ConnectorSlot({self.current!r}, restarts={self.restarts})"

    def restart(self) -> None:
        """Close the running connector as a process exit would, then start a new one on the same settings."""
        self._close_current()
        self.current = None  # a build that fails leaves nothing half-closed behind for the teardown
        self.current = self._build()
        self.restarts += 1

    def close(self) -> None:
        self._close_current()

    def _close_current(self) -> None:
        close = getattr(self.current, "close", None)
        if callable(close):
            close()
