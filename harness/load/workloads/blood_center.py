"""Blood-centre workloads: urgent orders during a shortage (order, then its feedback)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from harness.load.engine import Step
from harness.load.workloads import Target, Workload
from harness.ports.blood_center import BloodOrder, OrderItem

GROUPS = (("O", "POS"), ("A", "POS"), ("B", "POS"), ("AB", "POS"), ("O", "NEG"))


class ShortageOrders:
    """Each iteration: an urgent red-cell order (SubmitBloodOrder), then the ward asks for its feedback
    (QueryOrderFeedback), as wards do when stock is short."""

    def __init__(self, target: Target) -> None:
        assert target.connector is not None
        self.connector: Any = target.connector()
        self.tag = target.tag

    def iteration(self, number: int, step: Step) -> None:
        abo, rhd = GROUPS[number % len(GROUPS)]
        order = BloodOrder(f"BO{self.tag}{number:07d}", "URGENT", datetime.now().replace(microsecond=0) + timedelta(hours=2),
                           "急诊科", "王医生", (OrderItem(1, "E0001", abo, rhd, Decimal(2), "U"),))
        step("SubmitBloodOrder", lambda: self.connector.submit_order(order))
        step("QueryOrderFeedback", lambda: self.connector.order_feedback(order.order_no))

    def close(self) -> None:
        self.connector.close()


WORKLOADS = (
    Workload("shortage-orders", "blood-center", "urgent red-cell orders during a shortage, each followed by its feedback",
             {"SubmitBloodOrder": 1, "QueryOrderFeedback": 1}, ShortageOrders),
)
