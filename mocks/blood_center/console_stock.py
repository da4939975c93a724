"""The console's inventory: every bag with its DIN, filtered by product, ABO/RhD, state and expiry, counts per product
and group, and the recall of bags picked from the list (a recall drill needs the DINs that are in stock).

Filters come from the query string and are checked against their choices: an unknown value is a message on the
page, never an error page. The list shows at most `MAX_LISTED` bags (the filters narrow it).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mocks.blood_center.centre import CentreError
from mocks.blood_center.console_kit import Console, Form
from mocks.blood_center.inventory import PRODUCTS

MAX_LISTED = 500
STATES = {"AVAILABLE": "在库可发", "all": "全部", "EXPIRED": "已过期", "ISSUED": "已发出", "RECALLED": "已召回",
          "RETURNED": "已退回"}
EXPIRIES = {"": "不限", "1": "24 小时内到期", "3": "3 天内到期", "7": "7 天内到期", "later": "7 天后到期"}


def bag_state(console: Console, bag: dict[str, Any]) -> str:
    return "EXPIRED" if bag["status"] == "AVAILABLE" and console.centre.expired(bag) else str(bag["status"])


def _days_left(expires: datetime, now: datetime) -> str | None:
    if expires <= now:
        return None
    left = expires - now
    return f"剩 {left.days} 天" if left.days else f"剩 {left.seconds // 3600} 小时"


def routes(console: Console) -> list[Route]:
    labels = console.mock.labels

    def filters(request: Request) -> dict[str, str]:
        query = request.query_params
        chosen = {"product": query.get("product", ""), "abo": query.get("abo", ""), "rhd": query.get("rhd", ""),
                  "state": query.get("state", "AVAILABLE"), "expiry": query.get("expiry", "")}
        choices = {"product": labels.tables["productCode"], "abo": labels.tables["abo"], "rhd": labels.tables["rhd"],
                   "state": STATES, "expiry": EXPIRIES}
        for name, value in chosen.items():
            if value and value not in choices[name]:
                raise CentreError("1001", f"筛选条件 {name}={value[:40]!r} 不在可选范围内")
        return chosen

    def listed(chosen: dict[str, str]) -> list[dict[str, Any]]:
        now = console.centre.now()
        bags = []
        for bag in console.centre.bags():
            state = bag_state(console, bag)
            expires = datetime.fromisoformat(bag["expiresAt"])
            if any(chosen[k] and bag[field] != chosen[k] for k, field in (("product", "productCode"), ("abo", "abo"), ("rhd", "rhd"))):
                continue
            if chosen["state"] != "all" and state != chosen["state"]:
                continue
            if chosen["expiry"] == "later" and expires <= now + timedelta(days=7):
                continue
            if chosen["expiry"] not in ("", "later") and not now < expires <= now + timedelta(days=int(chosen["expiry"])):
                continue
            unit = PRODUCTS[bag["productCode"]].unit
            quantity = f"{bag['volume']} mL" if unit == "mL" else f"{bag['units']} {labels.code('unit', unit)}"
            bags.append({**bag, "state": state, "quantity": quantity, "days_left": _days_left(expires, now)})
        return sorted(bags, key=lambda b: (b["productCode"], b["abo"], b["rhd"], b["expiresAt"], b["din"]))

    def summary() -> list[dict[str, Any]]:
        counts: Counter[tuple[str, str, str]] = Counter()
        for bag in console.centre.bags():
            counts[(bag["productCode"], f"{labels.code('abo', bag['abo'])} {labels.code('rhd', bag['rhd'])}",
                    bag_state(console, bag))] += 1
        keys = sorted({(p, g) for p, g, _ in counts})
        return [{"product": f"{p} {labels.code('productCode', p)}", "group": g,
                 "counts": {s: counts[(p, g, s)] for s in labels.tables["bag"]}} for p, g in keys]

    async def inventory(request: Request) -> Response:
        try:
            chosen = filters(request)
        except CentreError as refused:
            chosen = {"product": "", "abo": "", "rhd": "", "state": "AVAILABLE", "expiry": ""}
            return console.page(request, "inventory.html", 400, f=chosen, bags=[], total=0, rows=summary(),
                                states=STATES, expiries=EXPIRIES, msg=refused.message, err=True)
        bags = listed(chosen)
        return console.page(request, "inventory.html", f=chosen, bags=bags[:MAX_LISTED], total=len(bags),
                            rows=summary(), states=STATES, expiries=EXPIRIES)

    async def recall(request: Request, data: Form) -> Response:
        dins = list(dict.fromkeys(d.strip() for d in data.lists.get("din", []) if d.strip()))
        if not dins:
            raise CentreError("1001", "请先勾选要召回的血袋")
        content = data.get("content", "").strip() or "献血者回访发现风险，请立即隔离并退回以下血袋"
        done = console.centre.recall(dins, content)
        return console.back("/console/inventory", f"召回通知 {done['noticeId']} 已发布，{len(dins)} 袋不再发出")

    return [
        Route("/console/inventory", console.guarded(inventory)),
        Route("/console/inventory/recall", console.action(recall), methods=["POST"]),
    ]
