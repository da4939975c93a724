"""The event loop hih's servers run on: uvloop's when it is installed (it comes with uvicorn[standard]), else
asyncio's own. Mocks and the connectors' listeners both use it, so neither depends on the other."""

from __future__ import annotations

import asyncio


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new uvloop loop, or asyncio's; uvloop's timers may fire up to a millisecond early."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - without uvloop everything works the same, a little slower
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
