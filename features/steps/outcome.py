"""The outcome of a connector call inside a scenario and the checks Then steps make, told in business words.

Shared by every interface's steps so that one rule holds everywhere:
- `attempt` runs one connector call and keeps its result or its port error (and how long it took) for the Then
  steps; a port error that no Then step has read stops the next call, and the guards fail a scenario that ends
  with one (a failed call cannot hide behind later steps).
- Every failed expectation is a `harness.failure.SpecFailure`: a Chinese reason, then expected and actual. `expect`
  is the one-line form; `nonempty` guards checks over lists (a loop over nothing proves nothing); `held` reads what
  an earlier step kept, failing in words when it is missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Sized
from typing import Any, TypeVar

from harness.failure import SpecFailure

E = TypeVar("E", bound=BaseException)
T = TypeVar("T")
C = TypeVar("C", bound=Collection[Any])

UNCHECKED = "unchecked"
"""The ctx key of a port error no Then step has read yet (the guards look at it when the scenario ends)."""


def expect(ok: object, reason: str, *, expected: object = None, actual: object = None,
           transaction: str | None = None, detail: str = "") -> None:
    """Fail with `reason` (one Chinese sentence) and expected/actual unless `ok` is true."""
    if not ok:
        raise SpecFailure(reason, expected=expected, actual=actual, transaction=transaction, detail=detail)


def nonempty(items: C, reason: str, *, transaction: str | None = None) -> C:
    """`items`, which must hold something: a check over each of them would otherwise pass on nothing."""
    if not items:
        raise SpecFailure(reason, expected="至少一项", actual="没有任何一项", transaction=transaction)
    return items


def held(ctx: dict[str, Any], key: str, what: str) -> Any:
    """What an earlier step kept under `key`; a failure naming `what` (in Chinese) when no step kept it."""
    value = ctx.get(key)
    if value is None:
        error = ctx.get("error")
        happened = f"连接器报告了错误 {describe(error)}" if error is not None else "前面的步骤没有得到它"
        raise SpecFailure(f"没有{what}可供检查", expected=what, actual=happened)
    return value


def describe(error: BaseException | None) -> str:
    """A port error as a reviewer reads it: its kind and its message."""
    if error is None:
        return "无"
    return f"{type(error).__name__}（{error}）"


def shown(value: object, limit: int = 300) -> str:
    """A value in a failure text: its repr, cut to `limit` characters (no object dumps of megabytes)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"…（共 {len(text)} 个字符）"


def attempt(ctx: dict[str, Any], action: Callable[[], Any], errors: type[BaseException]) -> Any:
    """Run one connector call; keep its result, or the port error of type ``errors`` it raised, and its duration.

    A port error no Then step has checked yet stops the next call: a failed step must not hide behind later ones.
    """
    pending = ctx.get(UNCHECKED)
    expect(not pending, "前面一步连接器报告的错误没有被任何“那么”步骤检查，场景不能继续",
           expected="每个连接器错误都由一个“那么”步骤读过", actual=describe(pending))
    ctx["error"] = None
    ctx["result"] = None
    started = time.monotonic()
    try:
        ctx["result"] = action()
    except errors as exc:
        ctx["error"] = exc
        ctx[UNCHECKED] = exc
    finally:
        ctx["elapsed_s"] = time.monotonic() - started
    return ctx["result"]


def failure(ctx: dict[str, Any], kind: type[E]) -> E:
    """The port error of the last call, which must be a ``kind``; reading it counts as checking it."""
    expect("result" in ctx or "error" in ctx, "没有“当”步骤调用连接器，无从检查它报告的错误",
           expected=f"连接器报告 {kind.__name__}", actual="连接器没有被调用")
    error = ctx.get("error")
    expect(error is not None, "连接器应当报告错误，却正常返回了",
           expected=f"连接器报告 {kind.__name__}", actual=f"返回 {shown(ctx.get('result'))}")
    ctx[UNCHECKED] = None
    expect(isinstance(error, kind), "连接器报告的错误种类不对",
           expected=kind.__name__, actual=describe(error))
    return error  # type: ignore[return-value]


def success(ctx: dict[str, Any]) -> Any:
    """The result of the last call, which must not have raised."""
    expect("result" in ctx or "error" in ctx, "没有“当”步骤调用连接器，无从检查结果",
           expected="连接器被调用并成功", actual="连接器没有被调用")
    error = ctx.get("error")
    if error is not None:
        ctx[UNCHECKED] = None
        raise SpecFailure("连接器应当成功，却报告了错误", expected="操作成功", actual=describe(error))
    return ctx["result"]


def same_items(actual: Iterable[T], expected: Iterable[T], reason: str, *, transaction: str | None = None) -> None:
    """The two sequences are equal, element by element and in order."""
    got, wanted = list(actual), list(expected)
    expect(got == wanted, reason, expected=wanted, actual=got, transaction=transaction)


def count_of(items: Sized, n: int, reason: str, *, transaction: str | None = None, detail: str = "") -> None:
    """`items` holds exactly `n` entries."""
    expect(len(items) == n, reason, expected=f"{n} 项", actual=f"{len(items)} 项", transaction=transaction,
           detail=detail)


def table_rows(datatable: list[list[str]]) -> list[dict[str, str]]:
    """A Gherkin data table as one dict per row, keyed by the header row."""
    header, *body = nonempty(datatable, "步骤的数据表是空的")
    return [dict(zip(header, row, strict=True)) for row in body]
