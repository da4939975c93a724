"""Admin HTTP API of `hih mock serve`: read and clear journals, arm and clear faults, reset state, read the seeded
population (people, orders, bags) a hospital system can use.

It answers only requests by one of its host names and from no other site (`origin.guard_origin`: DNS rebinding and
cross-site requests from a browser), bodies within 64 KiB and JSON within the depth limit (`limits.guard`).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.contract import jsonsafe
from harness.errors import HihError
from mocks.base import MockService
from mocks.transport.faults import KINDS, Fault
from mocks.transport.limits import FORM_BODY_BYTES, ASGIApp, InputLimits, guard
from mocks.transport.origin import HostAllowList, guard_origin

MockEndpoint = Callable[[Request, MockService], Awaitable[Response]]


MAX_LIMIT = 10_000


def bearer_check(token: str | None) -> Callable[[Request], Response | None]:
    """A request's refusal (401) when `token` is set and the request does not carry `Authorization: Bearer <token>`."""

    def denied(request: Request) -> Response | None:
        if token is None:
            return None
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return JSONResponse({"error": "missing or wrong token"}, 401)
        return None

    return denied


def journal_query(request: Request) -> tuple[int, int] | Response:
    """`limit` and `since` of a journal request, or the refusal (400) of values that are not whole numbers in range."""
    try:
        limit = int(request.query_params.get("limit", "100")[:12])
        since = int(request.query_params.get("since", "0")[:20])
    except ValueError:
        return JSONResponse({"error": "limit and since are whole numbers"}, 400)
    if not 1 <= limit <= MAX_LIMIT:
        return JSONResponse({"error": f"limit is from 1 to {MAX_LIMIT}"}, 400)
    return limit, since


def admin_app(mocks: dict[str, MockService], token: str | None = None, hosts: HostAllowList | None = None,
              view: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> ASGIApp:
    """Routes under /__hih/. With a token, every call must carry `Authorization: Bearer <token>`. `hosts`: the names
    it answers to (default: the loopback names). `view`: what a journal entry is shown as (`hih proxy` masks the
    identifiers of real traffic); as recorded by default."""
    denied = bearer_check(token)

    def for_mock(handler: MockEndpoint) -> Callable[[Request], Awaitable[Response]]:
        """The token check and the `{interface}` lookup every per-mock route starts with."""

        async def endpoint(request: Request) -> Response:
            refusal = denied(request)
            if refusal is not None:
                return refusal
            name = request.path_params["interface"]
            if name not in mocks:
                return JSONResponse({"error": f"no mock {name!r} here", "mocks": sorted(mocks)}, 404)
            return await handler(request, mocks[name])

        return endpoint

    async def index(request: Request) -> Response:
        return denied(request) or JSONResponse({"mocks": [m.describe() for m in mocks.values()], "fault_kinds": KINDS})

    async def journal(request: Request, mock: MockService) -> Response:
        if request.method == "DELETE":
            mock.journal.clear()
            return Response(status_code=204)
        asked = journal_query(request)
        if isinstance(asked, Response):
            return asked
        limit, since = asked
        entries = [e for e in mock.journal.entries(request.query_params.get("operation")) if e.id > since]
        return JSONResponse({"total": len(mock.journal), "dropped": mock.journal.dropped,
                             "entries": [view(e.to_dict()) if view else e.to_dict() for e in entries[-limit:]]})

    async def faults(request: Request, mock: MockService) -> Response:
        if request.method == "DELETE":
            mock.faults.clear()
            return Response(status_code=204)
        if request.method == "POST":
            try:
                data: Any = jsonsafe.loads(await request.body())
                if not isinstance(data, dict):
                    raise HihError("a fault is a JSON object")
                fault = mock.faults.add(Fault.from_dict(data))
            except jsonsafe.JsonRefused as exc:
                return JSONResponse({"error": f"invalid JSON: {exc}"}, 400)
            except (HihError, ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, 400)
            return JSONResponse(fault.to_dict(), 201)
        return JSONResponse({"armed": [f.to_dict() for f in mock.faults.armed()],
                             "fired": [f.to_dict() for f in mock.faults.fired]})

    async def population(request: Request, mock: MockService) -> Response:
        return JSONResponse(mock.population_data())

    async def reset(request: Request, mock: MockService) -> Response:
        mock.reset()
        return Response(status_code=204)

    routes = Starlette(routes=[
        Route("/__hih/", index),
        Route("/__hih/{interface}/journal", for_mock(journal), methods=["GET", "DELETE"]),
        Route("/__hih/{interface}/faults", for_mock(faults), methods=["GET", "POST", "DELETE"]),
        Route("/__hih/{interface}/reset", for_mock(reset), methods=["POST"]),
        Route("/__hih/{interface}/population", for_mock(population)),
    ])
    limits = InputLimits(max_body_bytes=FORM_BODY_BYTES, json_depth=True, max_depth=jsonsafe.DEFAULT_MAX_DEPTH)
    return guard_origin(guard(routes, limits), hosts or HostAllowList.for_bind("127.0.0.1"))
