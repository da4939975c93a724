"""The console's training tools: fault buttons per operation, the activity log, named snapshots, and the event
stream that keeps open pages live.

Faults: delay, no reply, SOAP fault and centre busy, for one operation or all, once, three times or until cleared,
before or after the centre processes the request; at most `MAX_ARMED` armed at a time. Every page shows the armed
ones in a banner. The event stream (`/console/events`, server-sent events) tells a page when the journal, the state
or the faults changed; each stream ends after `STREAM_S` seconds (the browser reconnects) and at most `MAX_STREAMS`
are open at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from mocks.blood_center.activity import activity
from mocks.blood_center.centre import CentreError
from mocks.blood_center.console_kit import BUSY, FAULT_KINDS, SECURITY_HEADERS, Console, Form
from mocks.blood_center.snapshots import SEED
from mocks.transport.faults import Fault

STATIC = Path(__file__).resolve().parent / "static"
ANY = "*"
ARMABLE = {"latency": "延迟", "no_reply": "不应答", "soap_fault": "SOAP 故障", "busy": "血站繁忙"}
"""The fault buttons of each operation (the admin API arms every other kind)."""
MAX_ARMED = 50
MAX_DELAY_S = Decimal(300)
ACTIVITY_SHOWN = 200
MAX_STREAMS = 32
STREAM_S = 60.0
TICK_S = 0.25
KEEPALIVE_S = 15.0


def fault_of(operation: str, kind: str, delay: str, times: str, phase: str, operations: dict[str, str]) -> Fault:
    """The fault a button arms, its fields checked (CentreError with the reason otherwise)."""
    if operation != ANY and operation not in operations:
        raise CentreError("1001", f"没有操作 {operation[:40]}")
    if kind not in ARMABLE:
        raise CentreError("1001", f"没有故障类型 {kind[:40]}")
    if times not in ("1", "3", "always"):
        raise CentreError("1001", "次数只能是 1 次、3 次或持续")
    if phase not in ("before", "after"):
        raise CentreError("1001", "时机只能是处理前或处理后")
    seconds = Decimal(0)
    if kind == "latency":
        try:
            seconds = Decimal(delay.strip())
        except InvalidOperation:
            raise CentreError("1001", f"延迟秒数 {delay[:20]!r} 不是数字") from None
        if not seconds.is_finite() or not Decimal("0.1") <= seconds <= MAX_DELAY_S:
            raise CentreError("1001", f"延迟秒数要在 0.1 到 {MAX_DELAY_S} 之间，现为 {delay[:20]}")
    target = None if operation == ANY else operation
    count = None if times == "always" else int(times)
    if kind == "latency":
        return Fault("latency", target, count, phase, delay_s=float(seconds))
    if kind == "no_reply":
        return Fault("no_reply", target, count, phase)
    if kind == "busy":
        return Fault("error_reply", target, count, phase, code=BUSY, message="血液中心系统繁忙，请稍后再试")
    return Fault("error_reply", target, count, phase, code="Server", message="血液中心系统内部错误")


def routes(console: Console) -> list[Route]:
    mock = console.mock
    operations = dict(mock.labels.operations)
    streams = 0

    # -- faults ---------------------------------------------------------------------------------------------------
    async def faults(request: Request) -> Response:
        rows = [{"key": ANY, "name": "全部操作（网络中断）", "idempotent": False}]
        rows += [{"key": key, "name": name, "idempotent": mock.contract.operations[key].idempotent}
                 for key, name in operations.items()]
        return console.page(request, "faults.html", operations=rows, kinds=ARMABLE,
                            fired=console.fault_rows(mock.faults.fired[-20:][::-1]))

    async def arm(request: Request, data: Form) -> Response:
        operation, _, kind = data.get("arm", "").partition("|")
        fault = fault_of(operation, kind, data.get("delay_s", "10"), data.get("times", "1"), data.get("phase", "before"),
                         operations)
        if len(mock.faults.armed()) >= MAX_ARMED:
            raise CentreError("1001", f"最多同时布置 {MAX_ARMED} 个故障：请先清除")
        mock.faults.add(fault)
        shown = console.fault_rows([fault])[0]
        return console.back("/console/faults", f"已布置故障：{shown['operation']} — {shown['kind']}（{shown['times']}）")

    async def clear(request: Request, data: Form) -> Response:
        mock.faults.clear()
        return console.back("/console/faults", "已清除全部故障")

    # -- activity -------------------------------------------------------------------------------------------------
    async def log(request: Request) -> Response:
        chosen = request.query_params.get("operation", "")
        if chosen and chosen not in operations:
            chosen = ""
        entries = mock.journal.entries(chosen or None)
        rows = activity(entries[-ACTIVITY_SHOWN * 2:], mock.labels, FAULT_KINDS)[:ACTIVITY_SHOWN]
        return console.page(request, "activity.html", rows=rows, operations=operations, chosen=chosen,
                            limit=ACTIVITY_SHOWN)

    # -- snapshots ------------------------------------------------------------------------------------------------
    async def snapshots(request: Request) -> Response:
        return console.page(request, "snapshots.html", snapshots=mock.training.snapshots.list(), seed=SEED)

    async def save(request: Request, data: Form) -> Response:
        done = mock.training.snapshots.save(data.get("name", ""))
        return console.back("/console/snapshots", f"已保存快照「{done['name']}」")

    async def restore(request: Request, data: Form) -> Response:
        name = data.get("name", "")
        mock.training.reset_to(name)
        return console.back("/console/snapshots", f"血站已恢复到快照「{name}」")

    async def delete(request: Request, data: Form) -> Response:
        mock.training.snapshots.delete(data.get("name", ""))
        return console.back("/console/snapshots", f"已删除快照「{data.get('name', '')}」")

    # -- live updates ---------------------------------------------------------------------------------------------
    async def events(request: Request) -> Response:
        nonlocal streams
        if streams >= MAX_STREAMS:
            return Response("too many open event streams\n", 503, headers={"Retry-After": "5"}, media_type="text/plain")
        since = request.query_params.get("since", "")[:80]

        async def stream() -> AsyncIterator[str]:
            nonlocal streams
            streams += 1
            try:
                yield "retry: 1000\n\n"
                seen, quiet, left = since, 0.0, STREAM_S
                while left > 0:
                    current = console.revision()
                    if current != seen:
                        if seen != "":
                            mock.training.runs.sync()
                            current = console.revision()
                            yield f"event: change\ndata: {current}\n\n"
                        seen, quiet = current, 0.0
                    elif quiet >= KEEPALIVE_S:
                        yield ": keep-alive\n\n"
                        quiet = 0.0
                    await asyncio.sleep(TICK_S)
                    quiet += TICK_S
                    left -= TICK_S
            finally:
                streams -= 1

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def script(request: Request) -> Response:
        return Response((STATIC / "console.js").read_bytes(), media_type="text/javascript; charset=utf-8",
                        headers=SECURITY_HEADERS)

    page, action = console.guarded, console.action
    return [
        Route("/console/faults", page(faults)),
        Route("/console/faults", action(arm), methods=["POST"]),
        Route("/console/faults/clear", action(clear), methods=["POST"]),
        Route("/console/activity", page(log)),
        Route("/console/snapshots", page(snapshots)),
        Route("/console/snapshots", action(save), methods=["POST"]),
        Route("/console/snapshots/restore", action(restore), methods=["POST"]),
        Route("/console/snapshots/delete", action(delete), methods=["POST"]),
        Route("/console/events", page(events)),
        Route("/console/static/console.js", page(script)),
    ]
