"""The trainer's web console of the blood-centre mock: plain server-side pages under /console/.

A trainer sees incoming orders, accepts, partly accepts or rejects them, issues bags, decides returns, posts notices
and recalls bags, while staff practise on the hospital system. Forms post and redirect back (no JavaScript). When
the mock listens off loopback the console asks for a token (HIH_CONSOLE_TOKEN, else HIH_ADMIN_TOKEN) once and keeps
it in an HttpOnly, SameSite=Strict cookie.

Three layers wrap the routes, so that later pages inherit them: the Host allow-list and same-origin check
(`origin.guard_origin`: a request from another site or by another host name is refused), the input limits
(`limits.guard`: a form over 64 KiB is refused before it is read), and the centre's vetting of every write (a
refusal comes back to the form as a Chinese message). A redirect goes only to a path of the console itself. Records
of a loaded state file that cannot be served are listed on every page and on /console/problems.
"""

from __future__ import annotations

import hmac
from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from jinja2 import DictLoader, Environment, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from mocks.blood_center.centre import RECORD_ZH, CentreError
from mocks.blood_center.inventory import PRODUCTS
from mocks.transport.limits import FORM_BODY_BYTES, ASGIApp, InputLimits, guard
from mocks.transport.origin import guard_origin, same_origin_path

if TYPE_CHECKING:
    from mocks.blood_center.service import BloodCenterMock

COOKIE = "hih_console"
MAX_FORM = FORM_BODY_BYTES
HOME = "/console/"
STATUS_ZH = {"RECEIVED": "待审核", "ACCEPTED": "已确认", "PARTIAL": "部分确认", "REJECTED": "已拒绝", "ISSUED": "已发血",
             "CANCELLED": "已取消", "PENDING": "待审核", "APPROVED": "已同意"}

_BASE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{% block title %}血液中心 训练控制台{% endblock %}</title>
<style>
body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei",sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #bbb;padding:.25em .5em;text-align:left}
th{background:#eee}.msg{padding:.5em;background:#e8f4e8;border:1px solid #6a6}.err{background:#fbe9e9;border-color:#c66}
form.inline{display:inline}nav a{margin-right:1em}input[type=text]{width:16em}
</style></head><body>
<nav><a href="/console/">预约单 Orders</a><a href="/console/returns">退血 Returns</a><a href="/console/notices">通知 Notices</a><a href="/console/inventory">库存 Inventory</a></nav>
{% if damaged %}<p class="msg err" id="damaged">状态文件中有 {{ damaged|length }} 条记录已损坏，未提供给医院系统：<a href="/console/problems">查看</a></p>{% endif %}
{% if msg %}<p class="msg{% if err %} err{% endif %}" id="message">{{ msg }}</p>{% endif %}
{% block body %}{% endblock %}</body></html>"""

_ORDERS = """{% extends "base" %}{% block body %}
<h1>预约单 Incoming orders</h1>
<table id="orders"><tr><th>预约单号</th><th>医院</th><th>紧急程度</th><th>要求送达</th><th>科室</th><th>状态</th><th>明细</th><th>操作</th></tr>
{% for o in orders %}<tr data-order="{{ o.orderNo }}">
<td><a href="/console/orders/{{ o.key|urlencode }}">{{ o.orderNo }}</a></td><td>{{ o.hospital }}</td><td>{{ o.urgency }}</td>
<td>{{ o.wantedAt }}</td><td>{{ o.department or "" }}</td><td class="status">{{ o.status }} {{ zh.get(o.status, "") }}</td>
<td>{% for i in o["items"] %}{{ i.lineNo }}. {{ products[i.productCode].name }} {{ i.abo }} {{ i.rhd }} {{ i.requested }} {{ i.unit }}{% if i.confirmed != "0" %}（确认 {{ i.confirmed }}）{% endif %}<br>{% endfor %}</td>
<td>{% if o.status == "RECEIVED" %}
<form class="inline" method="post" action="/console/orders/{{ o.key|urlencode }}/accept"><button name="go" value="accept">确认</button></form>
<a href="/console/orders/{{ o.key|urlencode }}">部分确认/拒绝</a>
{% elif o.status in ("ACCEPTED", "PARTIAL") %}
<form class="inline" method="post" action="/console/orders/{{ o.key|urlencode }}/issue"><button name="go" value="issue">发血</button></form>
{% endif %}</td></tr>{% else %}<tr><td colspan="8">还没有预约单</td></tr>{% endfor %}
</table>{% endblock %}"""

_ORDER = """{% extends "base" %}{% block body %}
<h1>预约单 {{ o.orderNo }}</h1>
<p>医院 {{ o.hospital }} · {{ o.urgency }} · 要求送达 {{ o.wantedAt }} · 状态 <b id="status">{{ o.status }}</b> {{ zh.get(o.status, "") }}{% if o.reason %} · 原因：{{ o.reason }}{% endif %}</p>
{% if o.status == "RECEIVED" %}
<form method="post" action="/console/orders/{{ o.key|urlencode }}/partial" id="partial">
<table><tr><th>行</th><th>产品</th><th>血型</th><th>申请</th><th>确认数量</th></tr>
{% for i in o["items"] %}<tr><td>{{ i.lineNo }}</td><td>{{ products[i.productCode].name }}</td><td>{{ i.abo }} {{ i.rhd }}</td><td>{{ i.requested }} {{ i.unit }}</td>
<td><input type="text" name="line-{{ i.lineNo }}" value="{{ i.requested }}"></td></tr>{% endfor %}</table>
<label>原因 <input type="text" name="reason" value="库存不足"></label> <button>部分确认</button></form>
<form method="post" action="/console/orders/{{ o.key|urlencode }}/reject" id="reject"><label>拒绝原因 <input type="text" name="reason" value="血型库存不足"></label> <button>拒绝</button></form>
<form method="post" action="/console/orders/{{ o.key|urlencode }}/accept"><button>全部确认</button></form>
{% elif o.status in ("ACCEPTED", "PARTIAL") %}
<form method="post" action="/console/orders/{{ o.key|urlencode }}/issue" id="issue"><label>指定献血码（空：按效期先发）<input type="text" name="dins"></label> <button>发血</button></form>
{% endif %}
{% for n in notes %}<h2>发血单 {{ n.issueNo }}（{{ n.issuedAt }}）</h2>
<table class="issue"><tr><th>献血码</th><th>产品</th><th>血型</th><th>容量</th><th>有效期</th><th>价格</th></tr>
{% for b in n.units %}<tr><td>{{ b.din }}</td><td>{{ products[b.productCode].name }}</td><td>{{ b.abo }} {{ b.rhd }}</td><td>{{ b.volume }} mL</td><td>{{ b.expiresAt }}</td><td>{{ b.price }}</td></tr>{% endfor %}
</table>{% endfor %}{% endblock %}"""

_RETURNS = """{% extends "base" %}{% block body %}
<h1>退血申请 Returns</h1>
<table id="returns"><tr><th>退血单号</th><th>医院</th><th>献血码</th><th>原因</th><th>状态</th><th>操作</th></tr>
{% for r in returns %}<tr data-return="{{ r.returnNo }}"><td>{{ r.returnNo }}</td><td>{{ r.hospital }}</td><td>{{ r.din|join(", ") }}</td><td>{{ r.reason }} {{ r.remark or "" }}</td>
<td class="status">{{ r.status }} {{ zh.get(r.status, "") }}</td><td>{% if r.status == "PENDING" %}
<form class="inline" method="post" action="/console/returns/{{ r.key|urlencode }}/approve"><button>同意</button></form>
<form class="inline" method="post" action="/console/returns/{{ r.key|urlencode }}/reject"><input type="text" name="reason" value="血袋已开封，不予退回"><button>拒绝</button></form>
{% endif %}</td></tr>{% else %}<tr><td colspan="6">没有退血申请</td></tr>{% endfor %}</table>{% endblock %}"""

_NOTICES = """{% extends "base" %}{% block body %}
<h1>血站通知 Notices</h1>
<form method="post" action="/console/notices" id="notice"><select name="type"><option value="SHORTAGE">库存紧张</option><option value="POLICY">政策通知</option><option value="RECALL">召回</option></select>
<input type="text" name="title" placeholder="标题"> <input type="text" name="content" placeholder="内容"> <input type="text" name="dins" placeholder="献血码（召回时必填，逗号分隔）"> <button>发布</button></form>
<table id="notices"><tr><th>编号</th><th>类型</th><th>标题</th><th>内容</th><th>献血码</th><th>发布时间</th></tr>
{% for n in notices %}<tr><td>{{ n.noticeId }}</td><td>{{ n.type }}</td><td>{{ n.title }}</td><td>{{ n.content }}</td><td>{{ n.din|join(", ") }}</td><td>{{ n.publishedAt }}</td></tr>{% endfor %}
</table>{% endblock %}"""

_INVENTORY = """{% extends "base" %}{% block body %}
<h1>库存 Inventory</h1>
<table id="inventory"><tr><th>产品</th><th>血型</th><th>可发</th><th>已过期</th><th>已发出</th><th>已召回</th><th>已退回</th></tr>
{% for row in rows %}<tr><td>{{ row.product }}</td><td>{{ row.group }}</td><td>{{ row.AVAILABLE }}</td><td>{{ row.EXPIRED }}</td><td>{{ row.ISSUED }}</td><td>{{ row.RECALLED }}</td><td>{{ row.RETURNED }}</td></tr>{% endfor %}
</table>{% endblock %}"""

_PROBLEMS = """{% extends "base" %}{% block body %}
<h1>已损坏的记录 Damaged records</h1>
<p>这些记录从状态文件载入时未通过接口规范校验：医院系统查询它们时得到结果代码 9999，而不是不合规范的应答。重置训练服务器（管理接口 reset）会清除它们。</p>
<table id="problems"><tr><th>类别</th><th>编号</th><th>问题</th></tr>
{% for p in problems %}<tr><td>{{ p.kind }}</td><td>{{ p.key }}</td><td>{{ p.reason }}</td></tr>{% else %}<tr><td colspan="3">没有损坏的记录</td></tr>{% endfor %}
</table>{% endblock %}"""

_LOGIN = """{% extends "base" %}{% block body %}
<h1>血液中心 训练控制台</h1><form method="post" action="/console/login"><label>令牌 Token <input type="password" name="token" autofocus></label> <button>进入</button></form>
{% endblock %}"""

_ENV = Environment(loader=DictLoader({"base": _BASE, "orders": _ORDERS, "order": _ORDER, "returns": _RETURNS,
                                      "notices": _NOTICES, "inventory": _INVENTORY, "login": _LOGIN,
                                      "problems": _PROBLEMS}),
                   autoescape=select_autoescape(default=True, default_for_string=True))


def console_app(mock: BloodCenterMock) -> ASGIApp:
    """The console's routes for one mock, wrapped in the origin and input-limit guards; `mock.console_token` (set
    when it listens off loopback) guards them too."""
    centre = lambda: mock.centre  # noqa: E731 - the centre is replaced on reset

    def page(request: Request, name: str, status: int = 200, **data: Any) -> HTMLResponse:
        values = {"msg": request.query_params.get("msg", ""), "err": request.query_params.get("err") == "1",
                  "zh": STATUS_ZH, "products": PRODUCTS, "damaged": centre().damaged, **data}
        html = _ENV.get_template(name).render(**values)
        return HTMLResponse(html, status, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                                   "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"})

    def allowed(request: Request) -> bool:
        token = mock.console_token
        if token is None:
            return True
        given = request.cookies.get(COOKIE) or request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())

    def back(to: str, message: str, error: bool = False) -> RedirectResponse:
        sep = "&" if "?" in to else "?"
        return RedirectResponse(f"{to}{sep}msg={quote(message)}{'&err=1' if error else ''}", 303)

    async def form(request: Request) -> dict[str, str]:
        """The posted fields (the body is already within MAX_FORM: the input-limits guard read it)."""
        try:
            text = (await request.body()).decode("utf-8")
            fields = parse_qs(text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=1000)
        except (UnicodeDecodeError, ValueError):
            raise CentreError("1001", "表单内容不是 UTF-8 编码的表单，请在浏览器中重新提交") from None
        return {k: v[0] for k, v in fields.items()}

    def guarded(handler: Any, action: bool = False) -> Any:
        async def endpoint(request: Request) -> Response:
            if not allowed(request):
                return page(request, "login", 401)
            if action:
                try:
                    result: Response = await handler(request, await form(request))
                except CentreError as refused:
                    return back(same_origin_path(request.headers.get("referer"), "/console", HOME), refused.message,
                                error=True)
                return result
            try:
                response: Response = await handler(request)
            except CentreError as refused:  # e.g. a record set aside as damaged
                return page(request, "orders", 404, orders=centre().orders(), msg=refused.message, err=True)
            return response

        return endpoint

    async def orders(request: Request) -> Response:
        return page(request, "orders", orders=centre().orders())

    async def order(request: Request) -> Response:
        key = request.path_params["key"]
        found = centre().store.get("orders", key)
        if found is None:
            return page(request, "orders", 404, orders=centre().orders(), msg=f"预约单 {key} 不存在")
        notes = centre().issue_notes(found["hospital"], found["orderNo"])
        return page(request, "order", o=found, notes=notes)

    async def accept(request: Request, data: dict[str, str]) -> Response:
        done = centre().accept(request.path_params["key"])
        return back("/console/", f"预约单 {done['orderNo']} 已确认")

    async def partial(request: Request, data: dict[str, str]) -> Response:
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
        return back("/console/", f"预约单 {done['orderNo']} 已部分确认")

    async def reject(request: Request, data: dict[str, str]) -> Response:
        done = centre().reject(request.path_params["key"], data.get("reason", "").strip() or "血型库存不足")
        return back("/console/", f"预约单 {done['orderNo']} 已拒绝")

    async def issue(request: Request, data: dict[str, str]) -> Response:
        dins = [d.strip() for d in data.get("dins", "").replace("，", ",").split(",") if d.strip()]
        done = centre().issue(request.path_params["key"], dins or None)
        return back("/console/", f"预约单 {done['orderNo']} 已发血，发血单 {done['issueNo']}，{len(done['dins'])} 袋")

    async def returns(request: Request) -> Response:
        return page(request, "returns", returns=centre().returns())

    async def approve_return(request: Request, data: dict[str, str]) -> Response:
        done = centre().decide_return(request.path_params["key"], True)
        return back("/console/returns", f"退血单 {done['returnNo']} 已同意")

    async def reject_return(request: Request, data: dict[str, str]) -> Response:
        done = centre().decide_return(request.path_params["key"], False, data.get("reason", "").strip() or "不符合退血条件")
        return back("/console/returns", f"退血单 {done['returnNo']} 已拒绝")

    async def notices(request: Request) -> Response:
        rows = sorted((n for _, n in centre().store.items("notices")), key=lambda n: n["publishedAt"], reverse=True)
        return page(request, "notices", notices=rows)

    async def post_notice(request: Request, data: dict[str, str]) -> Response:
        dins = [d.strip() for d in data.get("dins", "").replace("，", ",").split(",") if d.strip()]
        kind = data.get("type", "")
        if kind == "RECALL" and not dins:
            raise CentreError("1001", "召回通知需要献血码")
        done = centre().post_notice(kind, data.get("title", ""), data.get("content", ""), dins)
        return back("/console/notices", f"通知 {done['noticeId']} 已发布")

    async def inventory(request: Request) -> Response:
        counts: Counter[tuple[str, str, str]] = Counter()
        for bag in centre().bags():
            state = "EXPIRED" if bag["status"] == "AVAILABLE" and centre().expired(bag) else bag["status"]
            counts[(bag["productCode"], f"{bag['abo']} {bag['rhd']}", state)] += 1
        keys = sorted({(p, g) for p, g, _ in counts})
        rows = [{"product": f"{p} {PRODUCTS[p].name}", "group": g,
                 **{s: counts[(p, g, s)] for s in ("AVAILABLE", "EXPIRED", "ISSUED", "RECALLED", "RETURNED")}} for p, g in keys]
        return page(request, "inventory", rows=rows)

    async def problems(request: Request) -> Response:
        rows = [{"kind": RECORD_ZH.get(table, table), "key": key, "reason": reason}
                for (table, key), reason in sorted(centre().damaged.items())]
        return page(request, "problems", problems=rows)

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return page(request, "login")
        try:
            data = await form(request)
        except CentreError as refused:
            return page(request, "login", 400, msg=refused.message, err=True)
        token = mock.console_token
        if token is None:
            return RedirectResponse("/console/", 303)
        if not hmac.compare_digest(data.get("token", "").encode(), token.encode()):
            return page(request, "login", 401, msg="令牌错误")
        response = RedirectResponse("/console/", 303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/console")
        return response

    async def root(request: Request) -> Response:
        return RedirectResponse(HOME, 308)

    routes = Starlette(routes=[
        Route("/console", root),
        Route("/console/", guarded(orders)),
        Route("/console/login", login, methods=["GET", "POST"]),
        Route("/console/orders/{key:path}/accept", guarded(accept, True), methods=["POST"]),
        Route("/console/orders/{key:path}/partial", guarded(partial, True), methods=["POST"]),
        Route("/console/orders/{key:path}/reject", guarded(reject, True), methods=["POST"]),
        Route("/console/orders/{key:path}/issue", guarded(issue, True), methods=["POST"]),
        Route("/console/orders/{key:path}", guarded(order)),
        Route("/console/returns", guarded(returns)),
        Route("/console/returns/{key:path}/approve", guarded(approve_return, True), methods=["POST"]),
        Route("/console/returns/{key:path}/reject", guarded(reject_return, True), methods=["POST"]),
        Route("/console/notices", guarded(notices)),
        Route("/console/notices", guarded(post_notice, True), methods=["POST"]),
        Route("/console/inventory", guarded(inventory)),
        Route("/console/problems", guarded(problems)),
    ])
    return guard_origin(guard(routes, InputLimits(max_body_bytes=MAX_FORM)), lambda: mock.allowed_hosts)
