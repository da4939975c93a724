"""The outcome of a connector call inside a scenario: its result or its port error, kept for the Then steps.

Shared by every interface's steps so that "a failed call cannot hide behind later steps" is one rule everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

E = TypeVar("E", bound=BaseException)


def attempt(ctx: dict[str, Any], action: Callable[[], Any], errors: type[BaseException]) -> Any:
    """Run one connector call; keep its result, or the port error of type ``errors`` it raised.

    A port error no Then step has checked yet stops the next call: a failed step must not hide behind later ones.
    """
    pending = ctx.get("unchecked")
    assert not pending, f"an earlier step failed and no Then step checked it: {pending!r}"
    ctx["error"] = None
    ctx["result"] = None
    try:
        ctx["result"] = action()
    except errors as exc:
        ctx["error"] = exc
        ctx["unchecked"] = exc
    return ctx["result"]


def failure(ctx: dict[str, Any], kind: type[E]) -> E:
    """The port error of the last call, which must be a ``kind``; reading it counts as checking it."""
    error = ctx.get("error")
    assert error is not None, f"the connector raised nothing; it returned {ctx.get('result')!r}"
    assert isinstance(error, kind), f"the connector raised {type(error).__name__}: {error}; expected {kind.__name__}"
    ctx["unchecked"] = None
    return error


def success(ctx: dict[str, Any]) -> Any:
    """The result of the last call, which must not have raised."""
    error = ctx.get("error")
    assert error is None, f"the connector raised {type(error).__name__}: {error}"
    return ctx["result"]


def table_rows(datatable: list[list[str]]) -> list[dict[str, str]]:
    """A Gherkin data table as one dict per row, keyed by the header row."""
    header, *body = datatable
    return [dict(zip(header, row, strict=True)) for row in body]
