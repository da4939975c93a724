"""The centre acting by itself while a drill runs: deciding orders by stock, issuing, deciding returns, recalling.

It reacts to what the hospital system just did (each exchange as the journal records it, before the answer leaves),
so a trainee can run a drill alone; the trainer can still act on the console. It acts only on what the centre's
state says happened (an order RECEIVED, bags received, a return PENDING), so a refused request moves nothing. What it cannot do (an issue refused
because the stock ran out meanwhile) is reported back as a note for the console, never as a failed answer to the
hospital.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from mocks.blood_center.centre import BloodCentre, CentreError
from mocks.blood_center.drill import Behaviour
from mocks.blood_center.inventory import PRODUCTS
from mocks.blood_center.labels import Labels

Note = Callable[[str], None]
"""Where the autopilot says what it did or could not do (Chinese, for the console's drill panel)."""
Recalled = Callable[[list[str]], None]
"""Told the DINs the autopilot recalled (goals may name them as $recalled)."""


class Autopilot:
    """One drill's behaviour of the centre; `centre` is read at each call (a reset replaces it)."""

    def __init__(self, centre: Callable[[], BloodCentre], behaviour: Behaviour, labels: Labels, note: Note,
                 recalled: Recalled) -> None:
        self.centre = centre
        self.behaviour = behaviour
        self.labels = labels
        self.note = note
        self.recalled = recalled

    def after(self, operation: str, request: dict[str, Any], hospital: str, answered: bool) -> None:
        """React to an operation the centre processed: `request` is its decoded body, `answered` whether the
        hospital got the answer (a fault may have cut it after the centre acted)."""
        try:
            if operation == "SubmitBloodOrder":
                self._order_arrived(f"{hospital}/{request['order']['orderNo']}")
            elif operation == "QueryOrderFeedback" and self.behaviour.issue == "after_feedback" and answered:
                self._issue(f"{hospital}/{request['orderNo']}")
            elif operation == "ConfirmReceipt" and self.behaviour.recall_received:
                self._recall([unit["din"] for unit in request.get("unit") or []])
            elif operation == "SubmitReturn" and self.behaviour.returns != "manual":
                self._decide_return(f"{hospital}/{request['returnNo']}")
        except CentreError as refused:
            self.note(f"血站自动处理未成功：{refused.message}")

    # -- orders -------------------------------------------------------------------------------------------------
    def _order_arrived(self, key: str) -> None:
        centre = self.centre()
        order = centre.store.get("orders", key)
        if order is None or order["status"] != "RECEIVED":
            return  # the same order sent again: already decided
        mode, reason = self.behaviour.orders, self.behaviour.reason
        if mode == "accept":
            centre.accept(key)
        elif mode == "reject":
            centre.reject(key, reason)
        elif mode == "by_stock":
            self._by_stock(centre, order, reason)
        else:
            return
        decided = centre.order(order["hospital"], order["orderNo"])
        self.note(f"血站已审核预约单 {order['orderNo']}：{self.labels.code('order_status', decided['status'])}")
        if self.behaviour.issue == "at_once":
            self._issue(key)

    @staticmethod
    def _by_stock(centre: BloodCentre, order: dict[str, Any], reason: str) -> None:
        """Confirm per line what the stock covers (lines of the same product and group share it)."""
        left: dict[tuple[str, str, str], Decimal] = {}
        confirmed: dict[int, Decimal] = {}
        for item in order["items"]:
            group = (item["productCode"], item["abo"], item["rhd"])
            if group not in left:
                left[group] = centre.stock_quantity(centre.in_stock(*group), item["productCode"])
            confirmed[item["lineNo"]] = min(Decimal(item["requested"]), left[group])
            left[group] -= confirmed[item["lineNo"]]
        requested = {item["lineNo"]: Decimal(item["requested"]) for item in order["items"]}
        if confirmed == requested:
            centre.accept(order["key"])
        elif not any(confirmed.values()):
            short = "、".join(f"{PRODUCTS[i['productCode']].name} {i['abo']} {i['rhd']}" for i in order["items"])
            centre.reject(order["key"], f"{reason}（{short}）"[:200])
        else:
            centre.accept_partially(order["key"], confirmed, reason)

    def _issue(self, key: str) -> None:
        centre = self.centre()
        order = centre.store.get("orders", key)
        if order is None or order["status"] not in ("ACCEPTED", "PARTIAL"):
            return
        issue = centre.issue(key)
        self.note(f"血站已发血：预约单 {order['orderNo']}，发血单 {issue['issueNo']}，{len(issue['dins'])} 袋")

    # -- after receipt and returns ------------------------------------------------------------------------------
    def _recall(self, scanned: list[str]) -> None:
        centre = self.centre()
        received = [din for din in dict.fromkeys(scanned) if centre.store.get("received", din) is not None]
        dins = received[: self.behaviour.recall_received]
        if not dins:
            return
        notice = centre.recall(dins, "献血者回访发现风险：以下已发出血袋立即隔离，停止输注，并提交退血申请（原因：血站召回）")
        self.recalled(dins)
        self.note(f"血站已发布召回通知 {notice['noticeId']}：{'、'.join(dins)}")

    def _decide_return(self, key: str) -> None:
        centre = self.centre()
        record = centre.store.get("returns", key)
        if record is None or record["status"] != "PENDING":
            return
        approve = self.behaviour.returns == "approve"
        done = centre.decide_return(key, approve, None if approve else self.behaviour.return_reason)
        self.note(f"血站已审核退血单 {done['returnNo']}：{self.labels.code('return_status', done['status'])}")
