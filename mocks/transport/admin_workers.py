"""The admin API of `hih mock serve --workers N`: the same routes as `admin.admin_app`, answered by asking every
worker's own admin API (loopback, a token of this run) and merging what they say.

A journal is the workers' entries merged by time, each entry's `id` made unique across workers (`(id - 1) × N +
worker`, so ids still grow with time within a worker) and its worker named in `worker`; `since` and `limit` apply
to the merged list. Faults, resets and clearing go to every worker: an armed fault fires on the next matching
exchange each worker handles (with N workers up to N times; arm it with `times` divided accordingly). The
population and ledger (`population`) is the first worker's: every worker holds every row, the others' read from
their logs before it answers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.contract import jsonsafe
from mocks.transport.admin import MAX_LIMIT, bearer_check, journal_query
from mocks.transport.limits import FORM_BODY_BYTES, ASGIApp, InputLimits, guard
from mocks.transport.origin import HostAllowList, guard_origin

TIMEOUT_S = 10.0


def fanout_app(ports: list[int], secret: str, token: str | None = None, hosts: HostAllowList | None = None) -> ASGIApp:
    """Routes under /__hih/ over the workers whose admin APIs listen on 127.0.0.1:`ports` (asked with `secret`)."""
    count = len(ports)
    denied = bearer_check(token)

    async def each(method: str, path: str, of: list[int] | None = None, **kwargs: Any) -> list[httpx.Response]:
        headers = {"authorization": f"Bearer {secret}", "host": "127.0.0.1"}
        async with httpx.AsyncClient(timeout=TIMEOUT_S, headers=headers) as client:
            return list(await asyncio.gather(*(client.request(method, f"http://127.0.0.1:{port}{path}", **kwargs)
                                               for port in (ports if of is None else of))))

    def relay(answers: list[httpx.Response]) -> Response:
        first = answers[0]
        bad = next((a for a in answers if a.status_code >= 400), None)
        chosen = bad or first
        if not chosen.content:
            return Response(status_code=chosen.status_code)
        return Response(chosen.content, chosen.status_code, media_type="application/json")

    def route(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return denied(request) or await handler(request)

        return endpoint

    async def index(request: Request) -> Response:
        answers = await each("GET", "/__hih/")
        if any(a.status_code != 200 for a in answers):
            return relay(answers)
        docs = [a.json() for a in answers]
        mocks = docs[0]["mocks"]
        for number, mock in enumerate(mocks):
            mock["workers"] = count
            mock["journal"] = sum(d["mocks"][number]["journal"] for d in docs)
        return JSONResponse({"mocks": mocks, "fault_kinds": docs[0]["fault_kinds"], "workers": count})

    async def journal(request: Request) -> Response:
        name = request.path_params["interface"]
        if request.method == "DELETE":
            return relay(await each("DELETE", f"/__hih/{name}/journal"))
        asked = journal_query(request)
        if isinstance(asked, Response):
            return asked
        limit, since = asked
        params = {"limit": str(MAX_LIMIT)}
        if "operation" in request.query_params:
            params["operation"] = request.query_params["operation"]
        answers = await each("GET", f"/__hih/{name}/journal", params=params)
        if any(a.status_code != 200 for a in answers):
            return relay(answers)
        docs = [a.json() for a in answers]
        entries = []
        for worker, doc in enumerate(docs):
            for entry in doc["entries"]:
                entry["id"] = (entry["id"] - 1) * count + worker + 1
                entry["worker"] = worker + 1
                entries.append(entry)
        entries = sorted((e for e in entries if e["id"] > since), key=lambda e: (e["started"], e["id"]))
        return JSONResponse({"total": sum(d["total"] for d in docs), "dropped": sum(d["dropped"] for d in docs),
                             "workers": count, "entries": entries[-limit:]})

    async def faults(request: Request) -> Response:
        name = request.path_params["interface"]
        if request.method == "POST":
            body = await request.body()
            try:
                jsonsafe.loads(body)
            except jsonsafe.JsonRefused as exc:
                return JSONResponse({"error": f"invalid JSON: {exc}"}, 400)
            return relay(await each("POST", f"/__hih/{name}/faults", content=body,
                                    headers={"content-type": "application/json"}))
        if request.method == "DELETE":
            return relay(await each("DELETE", f"/__hih/{name}/faults"))
        answers = await each("GET", f"/__hih/{name}/faults")
        if any(a.status_code != 200 for a in answers):
            return relay(answers)
        docs = [a.json() for a in answers]
        return JSONResponse({"armed": [f for d in docs for f in d["armed"]], "fired": [f for d in docs for f in d["fired"]],
                             "workers": count})

    async def reset(request: Request) -> Response:
        # the state is shared: one worker resets it; the others clear their journals and faults
        name = request.path_params["interface"]
        first = await each("POST", f"/__hih/{name}/reset")
        return relay(first)

    async def population(request: Request) -> Response:
        return relay(await each("GET", f"/__hih/{request.path_params['interface']}/population", of=ports[:1]))

    routes = Starlette(routes=[
        Route("/__hih/", route(index)),
        Route("/__hih/{interface}/journal", route(journal), methods=["GET", "DELETE"]),
        Route("/__hih/{interface}/faults", route(faults), methods=["GET", "POST", "DELETE"]),
        Route("/__hih/{interface}/reset", route(reset), methods=["POST"]),
        Route("/__hih/{interface}/population", route(population)),
    ])
    limits = InputLimits(max_body_bytes=FORM_BODY_BYTES, json_depth=True, max_depth=jsonsafe.DEFAULT_MAX_DEPTH)
    return guard_origin(guard(routes, limits), hosts or HostAllowList.for_bind("127.0.0.1"))
