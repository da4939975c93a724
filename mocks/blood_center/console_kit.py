"""What every page and action of the trainer's console shares: templates, the token check, form reading, redirects
back with a message, and what each page shows at its top (armed faults, the running drill, damaged records).

Every route is wrapped by `Console.guarded`: without the console's token (off loopback) it answers the login page;
an action reads its form (already within the size limit: the limits layer read it) and a `CentreError` from the
centre's checks comes back to the page it came from as a Chinese message, never as an error page.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mocks.blood_center.centre import BloodCentre, CentreError
from mocks.blood_center.labels import local_time
from mocks.transport.faults import Fault
from mocks.transport.origin import same_origin_path

if TYPE_CHECKING:
    from mocks.blood_center.service import BloodCenterMock

COOKIE = "hih_console"
HOME = "/console/"
TEMPLATES = Path(__file__).resolve().parent / "templates"
SECURITY_HEADERS = {
    "Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
}
FAULT_KINDS = {"latency": "延迟应答", "no_reply": "不应答", "reset": "连接重置", "http_status": "HTTP 错误",
               "error_reply": "SOAP 故障", "malformed": "应答损坏", "refuse": "拒绝连接", "clock": "时钟偏移"}
"""How the console names each fault kind (an `error_reply` with code Server.Busy is 血站繁忙)."""
BUSY = "Server.Busy"
PHASES = {"before": "处理前", "after": "处理后"}

Handler = Callable[[Request], Awaitable[Response]]
Action = Callable[[Request, "Form"], Awaitable[Response]]


class Form(dict[str, str]):
    """A posted form: the first value of each field, and every value in `lists` (checkboxes)."""

    def __init__(self, lists: dict[str, list[str]]) -> None:
        super().__init__({k: v[0] for k, v in lists.items()})
        self.lists = lists


class Console:
    """The shared machinery of one mock's console."""

    def __init__(self, mock: BloodCenterMock) -> None:
        self.mock = mock
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
        self.env.filters["local"] = local_time
        self.env.filters["localsec"] = partial(local_time, seconds=True)
        self.env.globals["labels"] = mock.labels

    @property
    def centre(self) -> BloodCentre:
        return self.mock.centre  # replaced on every reset

    # -- pages ----------------------------------------------------------------------------------------------------
    def fault_rows(self, faults: list[Fault]) -> list[dict[str, str]]:
        """Faults as the console names them: operation, kind, how many times left, when."""
        rows = []
        for fault in faults:
            kind = "血站繁忙" if fault.kind == "error_reply" and fault.code == BUSY else FAULT_KINDS.get(fault.kind, fault.kind)
            if fault.kind == "latency":
                kind += f" {fault.delay_s:g} 秒"
            if fault.kind == "refuse":  # the whole port, console included: armed over the admin API
                kind += f" {fault.window_s:g} 秒" if fault.window_s else "（直到清除）"
            rows.append({"operation": "全部操作" if fault.operation is None else
                         f"{self.mock.labels.operation(fault.operation)} {fault.operation}",
                         "kind": kind, "times": "持续" if fault.times is None or fault.kind == "refuse" else f"剩 {fault.times} 次",
                         "phase": PHASES.get(fault.phase, fault.phase)})
        return rows

    def revision(self) -> str:
        """Changes whenever what a page shows may have changed (the event stream compares it)."""
        return "-".join(map(str, self.mock.training.revision()))

    def page(self, request: Request, name: str, status: int = 200, public: bool = False, **data: Any) -> HTMLResponse:
        """Render a template; a page behind the token also shows the armed faults and the running drill."""
        values: dict[str, Any] = {"msg": request.query_params.get("msg", "")[:500],
                                  "err": request.query_params.get("err") == "1", "live": not public}
        if not public:
            values.update(running=self.mock.training.runs.sync(), damaged=self.centre.damaged,
                          armed=self.fault_rows(self.mock.faults.armed()))
        values["revision"] = self.revision()  # after the drill's progress was brought up to date
        values.update(data)
        html = self.env.get_template(name).render(**values)
        return HTMLResponse(html, status, headers=SECURITY_HEADERS)

    # -- access ---------------------------------------------------------------------------------------------------
    def allowed(self, request: Request) -> bool:
        token = self.mock.console_token
        if token is None:
            return True
        given = request.cookies.get(COOKIE) or request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())

    def login_page(self, request: Request, status: int = 401, **data: Any) -> HTMLResponse:
        return self.page(request, "login.html", status, public=True, **data)

    # -- actions --------------------------------------------------------------------------------------------------
    @staticmethod
    def back(to: str, message: str, error: bool = False) -> RedirectResponse:
        sep = "&" if "?" in to else "?"
        return RedirectResponse(f"{to}{sep}msg={quote(message)}{'&err=1' if error else ''}", 303)

    @staticmethod
    async def form(request: Request) -> Form:
        """The posted fields (the body is already within the form limit: the input-limits guard read it)."""
        try:
            text = (await request.body()).decode("utf-8")
            fields = parse_qs(text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=1000)
        except (UnicodeDecodeError, ValueError):
            raise CentreError("1001", "表单内容不是 UTF-8 编码的表单，请在浏览器中重新提交") from None
        return Form(fields)

    def guarded(self, handler: Handler) -> Handler:
        """A page behind the token; a refusal while reading (a damaged record) shows the orders with why."""

        async def endpoint(request: Request) -> Response:
            if not self.allowed(request):
                return self.login_page(request)
            try:
                return await handler(request)
            except CentreError as refused:
                return self.page(request, "orders.html", 404, orders=self.centre.orders(), msg=refused.message, err=True)

        return endpoint

    def action(self, handler: Action) -> Handler:
        """A form post behind the token; a refusal goes back to the page it came from, with the message."""

        async def endpoint(request: Request) -> Response:
            if not self.allowed(request):
                return self.login_page(request)
            try:
                return await handler(request, await self.form(request))
            except CentreError as refused:
                return self.back(same_origin_path(request.headers.get("referer"), "/console", HOME), refused.message,
                                 error=True)

        return endpoint
