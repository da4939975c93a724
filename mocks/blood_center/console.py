"""The trainer's web console of the blood-centre mock: server-side pages under /console/.

A trainer sees incoming orders, accepts, partly accepts or rejects them, issues bags, decides returns, posts notices
and recalls bags (from the list of in-stock DINs), arms faults per operation, follows what the hospital system sent
and got, resets the centre to a named snapshot and runs drills, while staff practise on the hospital system. Every
code is shown with its Chinese label and every time in local time; pages follow the hospital's actions live (a small
script listens to /console/events and refreshes the parts that changed). When the mock listens off loopback the
console asks for a token (HIH_CONSOLE_TOKEN, else HIH_ADMIN_TOKEN) once and keeps it in an HttpOnly,
SameSite=Strict cookie.

Three layers wrap every route, so later pages inherit them: the Host allow-list and same-origin check
(`origin.guard_origin`: a request from another site or by another host name is refused), the input limits
(`limits.guard`: a form over 64 KiB is refused before it is read), and the centre's vetting of every write (a
refusal comes back to the form as a Chinese message). A redirect goes only to a path of the console itself. Records
of a loaded state file that cannot be served are listed on every page and on /console/problems.
"""

from __future__ import annotations

import hmac
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mocks.blood_center import console_drills, console_stock, console_training
from mocks.blood_center.centre import RECORD_ZH, CentreError
from mocks.blood_center.console_kit import COOKIE, HOME, Console, Form
from mocks.transport.limits import FORM_BODY_BYTES, ASGIApp, InputLimits, guard
from mocks.transport.origin import guard_origin

if TYPE_CHECKING:
    from mocks.blood_center.service import BloodCenterMock

MAX_FORM = FORM_BODY_BYTES


def _dins(text: str) -> list[str]:
    return [d.strip() for d in text.replace("，", ",").split(",") if d.strip()]


def centre_routes(console: Console) -> list[Route]:
    """Orders, returns, notices and damaged records: the centre's daily work."""
    centre = lambda: console.centre  # noqa: E731 - the centre is replaced on reset

    async def orders(request: Request) -> Response:
        return console.page(request, "orders.html", orders=centre().orders())

    async def order(request: Request) -> Response:
        key = request.path_params["key"]
        found = centre().store.get("orders", key)
        if found is None:
            return console.page(request, "orders.html", 404, orders=centre().orders(), msg=f"预约单 {key} 不存在")
        notes = centre().issue_notes(found["hospital"], found["orderNo"])
        stock = {i["lineNo"]: centre().stock_quantity(centre().in_stock(i["productCode"], i["abo"], i["rhd"]), i["productCode"])
                 for i in found["items"]}
        return console.page(request, "order.html", o=found, notes=notes, stock=stock)

    async def accept(request: Request, data: Form) -> Response:
        done = centre().accept(request.path_params["key"])
        return console.back(HOME, f"预约单 {done['orderNo']} 已确认")

    async def partial(request: Request, data: Form) -> Response:
        confirmed = {}
        for name, value in data.items():
            if name.startswith("line-"):
                try:
                    confirmed[int(name[5:])] = Decimal(value.strip())
                except (ValueError, InvalidOperation):
                    raise CentreError("1001", f"第 {name[5:40]} 行的确认数量 {value[:40]!r} 不是数字") from None
                if not confirmed[int(name[5:])].is_finite():
                    raise CentreError("1001", f"第 {name[5:40]} 行的确认数量 {value[:40]!r} 不是数字")
        done = centre().accept_partially(request.path_params["key"], confirmed, data.get("reason", "").strip() or "库存不足")
        return console.back(HOME, f"预约单 {done['orderNo']} 已部分确认")

    async def reject(request: Request, data: Form) -> Response:
        done = centre().reject(request.path_params["key"], data.get("reason", "").strip() or "血型库存不足")
        return console.back(HOME, f"预约单 {done['orderNo']} 已拒绝")

    async def issue(request: Request, data: Form) -> Response:
        done = centre().issue(request.path_params["key"], _dins(data.get("dins", "")) or None)
        return console.back(HOME, f"预约单 {done['orderNo']} 已发血，发血单 {done['issueNo']}，{len(done['dins'])} 袋")

    async def returns(request: Request) -> Response:
        return console.page(request, "returns.html", returns=centre().returns())

    async def approve_return(request: Request, data: Form) -> Response:
        done = centre().decide_return(request.path_params["key"], True)
        return console.back("/console/returns", f"退血单 {done['returnNo']} 已同意")

    async def reject_return(request: Request, data: Form) -> Response:
        done = centre().decide_return(request.path_params["key"], False, data.get("reason", "").strip() or "不符合退血条件")
        return console.back("/console/returns", f"退血单 {done['returnNo']} 已拒绝")

    async def notices(request: Request) -> Response:
        rows = sorted((n for _, n in centre().store.items("notices")), key=lambda n: n["publishedAt"], reverse=True)
        return console.page(request, "notices.html", notices=rows)

    async def post_notice(request: Request, data: Form) -> Response:
        dins = _dins(data.get("dins", ""))
        kind = data.get("type", "")
        if kind == "RECALL" and not dins:
            raise CentreError("1001", "召回通知需要献血码")
        done = centre().post_notice(kind, data.get("title", ""), data.get("content", ""), dins)
        return console.back("/console/notices", f"通知 {done['noticeId']} 已发布")

    async def problems(request: Request) -> Response:
        rows = [{"kind": RECORD_ZH.get(table, table), "key": key, "reason": reason}
                for (table, key), reason in sorted(centre().damaged.items())]
        return console.page(request, "problems.html", problems=rows)

    page, action = console.guarded, console.action
    return [
        Route("/console/", page(orders)),
        Route("/console/orders/{key:path}/accept", action(accept), methods=["POST"]),
        Route("/console/orders/{key:path}/partial", action(partial), methods=["POST"]),
        Route("/console/orders/{key:path}/reject", action(reject), methods=["POST"]),
        Route("/console/orders/{key:path}/issue", action(issue), methods=["POST"]),
        Route("/console/orders/{key:path}", page(order)),
        Route("/console/returns", page(returns)),
        Route("/console/returns/{key:path}/approve", action(approve_return), methods=["POST"]),
        Route("/console/returns/{key:path}/reject", action(reject_return), methods=["POST"]),
        Route("/console/notices", page(notices)),
        Route("/console/notices", action(post_notice), methods=["POST"]),
        Route("/console/problems", page(problems)),
    ]


def console_app(mock: BloodCenterMock) -> ASGIApp:
    """The console's routes for one mock, wrapped in the origin and input-limit guards; `mock.console_token` (set
    when it listens off loopback) guards them too."""
    console = Console(mock)

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return console.login_page(request, 200)
        try:
            data = await console.form(request)
        except CentreError as refused:
            return console.login_page(request, 400, msg=refused.message, err=True)
        token = mock.console_token
        if token is None:
            return RedirectResponse(HOME, 303)
        if not hmac.compare_digest(data.get("token", "").encode(), token.encode()):
            return console.login_page(request, 401, msg="令牌错误")
        response = RedirectResponse(HOME, 303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/console")
        return response

    async def root(request: Request) -> Response:
        return RedirectResponse(HOME, 308)

    routes = Starlette(routes=[
        Route("/console", root),
        Route("/console/login", login, methods=["GET", "POST"]),
        *centre_routes(console),
        *console_stock.routes(console),
        *console_training.routes(console),
        *console_drills.routes(console),
    ])
    return guard_origin(guard(routes, InputLimits(max_body_bytes=MAX_FORM)), lambda: mock.allowed_hosts)
