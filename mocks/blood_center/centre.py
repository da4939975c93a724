"""The blood centre's business rules over the mock's store: orders and feedback, issue, receipt, returns, fees,
notices and recalls. The SOAP operations and the trainer's console both act through `BloodCentre`.

Every change happens inside one store transaction, so a refused request or action leaves nothing behind and, with a
SQLite store, whatever was answered is on disk.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from harness.contract.isbt128 import din_problem
from mocks.blood_center.inventory import PRODUCTS, seed_bags
from mocks.state import Store

OK = "0"
MAX_FEE_DAYS = 92
OPEN = ("RECEIVED", "ACCEPTED", "PARTIAL")


DAMAGED = "9999"
"""The result code of a record that cannot be served (the contract's 系统内部错误): the hospital gets a proper answer."""
RECORD_ZH = {"orders": "预约单", "issues": "发血单", "inventory": "血袋", "returns": "退血单", "crossmatch": "配型结果",
             "notices": "通知"}

Vet = Callable[[str, dict[str, Any]], None]
"""Checks a record as the answer it feeds (kinds: order, issue, return, notice, sample, bag); raises CentreError."""


class CentreError(Exception):
    """A business refusal: answered with this result code and message (the console shows the message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def fingerprint(content: Any) -> str:
    """What makes two submissions of the same order number 'the same content': a digest of its JSON, keys sorted."""
    try:
        return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()
    except TypeError:  # what orjson does not write (an integer over 64 bits ...): the standard library does
        return _json_fingerprint(content)


def _json_fingerprint(content: Any) -> str:
    """The digest as the standard library's JSON writes it: how state files written before orjson hold it."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def same_content(known: str, content: Any, digest: str | None = None) -> bool:
    """Whether `content` is what the stored digest `known` was made of (either way of writing it)."""
    return known == (digest or fingerprint(content)) or known == _json_fingerprint(content)


def _key(hospital: str, number: str) -> str:
    return f"{hospital}/{number}"


class BloodCentre:
    """The partner's state and rules; `now` is the clock (tests may replace it)."""

    def __init__(self, store: Store, now: Callable[[], datetime] | None = None, vet: Vet | None = None) -> None:
        self.store = store
        self.now = now or (lambda: datetime.now().replace(microsecond=0))
        self.vet = vet
        """Checks each record the trainer or the hospital changes before it is kept (see `vetting.py`)."""
        self.damaged: dict[tuple[str, str], str] = {}
        """(table, key) of stored records that are not served, with why (in Chinese): found when state is loaded."""

    # -- records that cannot be served ----------------------------------------------------------------------
    def _get(self, table: str, key: str) -> Any:
        if (table, key) in self.damaged:
            shown = key.split("/")[-1]
            raise CentreError(DAMAGED, f"{RECORD_ZH.get(table, table)} {shown} 的记录已损坏，暂不能提供：请联系血站处理")
        return self.store.get(table, key)

    def _rows(self, table: str) -> list[tuple[str, Any]]:
        return [(k, v) for k, v in self.store.items(table) if (table, k) not in self.damaged]

    def _vetted(self, kind: str, record: dict[str, Any]) -> None:
        if self.vet is not None:
            self.vet(kind, record)

    # -- seed -----------------------------------------------------------------------------------------------
    def seed(self) -> None:
        if self.store.count("inventory"):
            return
        now = self.now()
        with self.store.transaction():
            for bag in seed_bags(now):
                self.store.put("inventory", bag["din"], bag)
            for notice in _seed_notices(now):
                self.store.put("notices", notice["noticeId"], notice)
            for sample in _seed_samples(now):
                self.store.put("crossmatch", sample["sampleNo"], sample)
            self.store.put("meta", "seq", {"issue": 0, "receipt": 0, "notice": len(_seed_notices(now))})

    def _next(self, counter: str, prefix: str) -> str:
        seq = self.store.get("meta", "seq") or {}
        seq[counter] = seq.get(counter, 0) + 1
        self.store.put("meta", "seq", seq)
        return f"{prefix}{self.now():%y%m%d}{seq[counter]:05d}"

    # -- orders (hospital side) -----------------------------------------------------------------------------
    def submit_order(self, hospital: str, order: dict[str, Any]) -> dict[str, Any]:
        """A new order is RECEIVED; the same number again answers as the first time, other content is 2001."""
        key = _key(hospital, order["orderNo"])
        print_ = fingerprint(order)
        with self.store.transaction():
            known = self._get("orders", key)
            if known is not None:
                if not same_content(known["fingerprint"], order, print_):
                    raise CentreError("2001", f"预约单号 {order['orderNo']} 已用于内容不同的预约单")
                answer: dict[str, Any] = known["answer"]
                return answer
            lines = [int(item["lineNo"]) for item in order["item"]]
            if len(set(lines)) != len(lines):
                raise CentreError("1001", "预约单明细行号重复")
            for item in order["item"]:
                product = PRODUCTS[item["productCode"]]
                if item["unit"] != product.unit:
                    raise CentreError("1001", f"第 {item['lineNo']} 行：{product.name} 以 {product.unit} 计量，不是 {item['unit']}")
            received = self.now()
            answer = {"orderNo": order["orderNo"], "status": "RECEIVED", "receivedAt": received.isoformat()}
            self.store.put("orders", key, {
                "key": key, "hospital": hospital, "orderNo": order["orderNo"], "fingerprint": print_,
                "urgency": order["urgency"], "wantedAt": order["wantedAt"], "department": order.get("department"),
                "orderedBy": order.get("orderedBy"), "remark": order.get("remark"),
                "status": "RECEIVED", "receivedAt": received.isoformat(), "updatedAt": received.isoformat(), "reason": None,
                "items": [{"lineNo": int(i["lineNo"]), "productCode": i["productCode"], "abo": i["abo"], "rhd": i["rhd"],
                           "requested": str(i["quantity"]), "unit": i["unit"], "confirmed": "0", "reason": None}
                          for i in order["item"]],
                "issues": [], "answer": answer,
            })
            return answer

    def order(self, hospital: str, order_no: str) -> dict[str, Any]:
        found: dict[str, Any] | None = self._get("orders", _key(hospital, order_no))
        if found is None:
            raise CentreError("2002", f"预约单 {order_no} 不存在")
        return found

    def cancel_order(self, hospital: str, order_no: str, reason: str) -> dict[str, Any]:
        with self.store.transaction():
            order = self.order(hospital, order_no)
            if order["status"] == "CANCELLED":
                return order
            if order["status"] == "ISSUED":
                raise CentreError("2003", f"预约单 {order_no} 已发血，不能取消")
            if order["status"] == "REJECTED":
                raise CentreError("2004", f"预约单 {order_no} 已被拒绝")
            order.update(status="CANCELLED", reason=reason, updatedAt=self.now().isoformat())
            self._vetted("order", order)
            self.store.put("orders", order["key"], order)
            return order

    def issue_notes(self, hospital: str, order_no: str) -> list[dict[str, Any]]:
        """The order's issue notes, each with its bags (empty before the order is issued)."""
        order = self.order(hospital, order_no)
        notes = []
        for issue_no in order["issues"]:
            issue = self._get("issues", issue_no)
            issue["units"] = [self._get("inventory", din) for din in issue["dins"]]
            notes.append(issue)
        return notes

    # -- orders (the centre's side: trainer or spec) ----------------------------------------------------------
    def _open_order(self, key: str) -> dict[str, Any]:
        order: dict[str, Any] | None = self._get("orders", key)
        if order is None:
            raise CentreError("2002", f"预约单 {key} 不存在")
        if order["status"] != "RECEIVED":
            raise CentreError("1001", f"预约单 {order['orderNo']} 的状态是 {order['status']}，只有 RECEIVED 的预约单可以审核")
        return order

    def accept(self, key: str) -> dict[str, Any]:
        with self.store.transaction():
            order = self._open_order(key)
            for item in order["items"]:
                item["confirmed"], item["reason"] = item["requested"], None
            order.update(status="ACCEPTED", reason=None, updatedAt=self.now().isoformat())
            self._vetted("order", order)
            self.store.put("orders", key, order)
            return order

    def accept_partially(self, key: str, confirmed: dict[int, Decimal], reason: str) -> dict[str, Any]:
        """Confirm less than requested on some lines (0 declines a line); `reason` says why."""
        with self.store.transaction():
            order = self._open_order(key)
            lines = {item["lineNo"]: item for item in order["items"]}
            unknown = sorted(set(confirmed) - set(lines))
            if unknown:
                raise CentreError("1001", f"预约单 {order['orderNo']} 没有第 {unknown[0]} 行")
            short = False
            for number, item in lines.items():
                quantity = Decimal(confirmed.get(number, Decimal(item["requested"])))
                if quantity < 0 or quantity > Decimal(item["requested"]):
                    raise CentreError("1001", f"第 {number} 行确认数量 {quantity} 不在 0 到 {item['requested']} 之间")
                item["confirmed"] = format(quantity, "f")
                if quantity < Decimal(item["requested"]):
                    item["reason"], short = reason, True
            if not short:
                raise CentreError("1001", "部分确认至少要少确认一行；全部确认请用确认")
            if all(Decimal(item["confirmed"]) == 0 for item in lines.values()):
                raise CentreError("1001", "一行都不确认是拒绝，不是部分确认")
            order.update(status="PARTIAL", reason=reason, updatedAt=self.now().isoformat())
            self._vetted("order", order)
            self.store.put("orders", key, order)
            return order

    def reject(self, key: str, reason: str) -> dict[str, Any]:
        with self.store.transaction():
            order = self._open_order(key)
            for item in order["items"]:
                item["confirmed"], item["reason"] = "0", reason
            order.update(status="REJECTED", reason=reason, updatedAt=self.now().isoformat())
            self._vetted("order", order)
            self.store.put("orders", key, order)
            return order

    def _usable(self, bag: dict[str, Any] | None, now: datetime) -> str | None:
        if bag is None:
            return "不在库存中"
        if bag["status"] == "RECALLED":
            return "已召回"
        if bag["status"] != "AVAILABLE":
            return "已发出"
        if datetime.fromisoformat(bag["expiresAt"]) <= now:
            return "已过期"
        return None

    def issue(self, key: str, dins: list[str] | None = None) -> dict[str, Any]:
        """Issue an ACCEPTED or PARTIAL order: the given bags, or first-expiring available bags per line.

        Never an expired or recalled bag, and every bag matches its line's product, ABO and RhD.
        """
        with self.store.transaction():
            order: dict[str, Any] | None = self._get("orders", key)
            if order is None:
                raise CentreError("2002", f"预约单 {key} 不存在")
            if order["status"] not in ("ACCEPTED", "PARTIAL"):
                raise CentreError("1001", f"预约单 {order['orderNo']} 的状态是 {order['status']}，确认后才能发血")
            now = self.now()
            chosen = self._chosen(order, dins, now) if dins else self._pick(order, now)
            if not chosen:
                raise CentreError("1001", f"预约单 {order['orderNo']} 没有需要发出的血液")
            issue_no = self._next("issue", "FX")
            self._vetted("issue", {"issueNo": issue_no, "orderNo": order["orderNo"], "issuedAt": now.isoformat(),
                                   "units": chosen})
            for bag in chosen:
                bag.update(status="ISSUED", issueNo=issue_no, hospital=order["hospital"])
                self.store.put("inventory", bag["din"], bag)
            issue = {"issueNo": issue_no, "orderNo": order["orderNo"], "hospital": order["hospital"],
                     "issuedAt": now.isoformat(), "dins": [bag["din"] for bag in chosen]}
            self.store.put("issues", issue_no, issue)
            order["issues"].append(issue_no)
            order.update(status="ISSUED", updatedAt=now.isoformat())
            self.store.put("orders", key, order)
            return issue

    def _pick(self, order: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
        available = [bag for _, bag in self._rows("inventory") if self._usable(bag, now) is None]
        available.sort(key=lambda bag: (bag["expiresAt"], bag["din"]))
        chosen: list[dict[str, Any]] = []
        for item in order["items"]:
            wanted = Decimal(item["confirmed"])
            unit = PRODUCTS[item["productCode"]].unit
            got = Decimal(0)
            for bag in available:
                if got >= wanted:
                    break
                if (bag["productCode"], bag["abo"], bag["rhd"]) != (item["productCode"], item["abo"], item["rhd"]) or bag in chosen:
                    continue
                chosen.append(bag)
                got += Decimal(bag["volume"]) if unit == "mL" else Decimal(bag["units"])
            if got < wanted:
                name = PRODUCTS[item["productCode"]].name
                raise CentreError("1001", f"第 {item['lineNo']} 行 {name} {item['abo']} {item['rhd']} 库存不足"
                                          f"（需要 {wanted} {unit}，可发 {got} {unit}）：请部分确认或拒绝")
        return chosen

    def _chosen(self, order: dict[str, Any], dins: list[str], now: datetime) -> list[dict[str, Any]]:
        groups = {(i["productCode"], i["abo"], i["rhd"]) for i in order["items"] if Decimal(i["confirmed"]) > 0}
        chosen = []
        for din in dict.fromkeys(dins):
            bag = self._get("inventory", din)
            why = self._usable(bag, now)
            if why:
                raise CentreError("1001", f"血袋 {din} {why}，不能发出")
            if (bag["productCode"], bag["abo"], bag["rhd"]) not in groups:
                raise CentreError("1001", f"血袋 {din}（{bag['productCode']} {bag['abo']} {bag['rhd']}）与预约单各行的产品或血型不符")
            chosen.append(bag)
        return chosen

    # -- receipt ----------------------------------------------------------------------------------------------
    def confirm_receipt(self, hospital: str, issue_no: str, received_at: str, received_by: str,
                        units: list[dict[str, Any]], reported: list[dict[str, Any]]) -> dict[str, Any]:
        """Record the bags the hospital scanned in; a bag is received once. The answer lists every discrepancy."""
        with self.store.transaction():
            issue = self._get("issues", issue_no)
            if issue is None or issue["hospital"] != hospital:
                raise CentreError("2104", f"发血单 {issue_no} 不存在")
            for unit in units:
                problem = din_problem(unit["din"])
                if problem:
                    raise CentreError("2101", f"献血码 {unit['din']} 无效：{problem}")
                if self.store.get("received", unit["din"]) is not None:
                    raise CentreError("2102", f"血袋 {unit['din']} 已入库，不能重复入库")
            receipt_no = self._next("receipt", "RK")
            found: list[dict[str, Any]] = []
            accepted = 0
            scanned = set()
            for unit in units:
                din = unit["din"]
                scanned.add(din)
                if din not in issue["dins"]:
                    found.append({"din": din, "type": "EXTRA", "note": f"发血单 {issue_no} 中没有这袋血"})
                    continue
                bag = self._get("inventory", din)
                if (unit["abo"], unit["rhd"]) != (bag["abo"], bag["rhd"]):
                    found.append({"din": din, "type": "WRONG_GROUP",
                                  "note": f"扫描为 {unit['abo']} {unit['rhd']}，发血单为 {bag['abo']} {bag['rhd']}"})
                if unit["condition"] == "DAMAGED":
                    found.append({"din": din, "type": "DAMAGED", "note": "入库时血袋破损"})
                self.store.put("received", din, {"din": din, "receiptNo": receipt_no, "issueNo": issue_no,
                                                 "hospital": hospital, "receivedAt": received_at, "condition": unit["condition"]})
                accepted += 1
            for din in issue["dins"]:
                if din not in scanned and self.store.get("received", din) is None:
                    found.append({"din": din, "type": "MISSING", "note": "发血单上有，入库未扫描到"})
            known = {(d["din"], d["type"]) for d in found}
            found += [{"din": d["din"], "type": d["type"], "note": d.get("note")} for d in reported
                      if (d["din"], d["type"]) not in known]
            self.store.put("receipts", receipt_no, {"receiptNo": receipt_no, "issueNo": issue_no, "hospital": hospital,
                                                    "receivedAt": received_at, "receivedBy": received_by,
                                                    "accepted": accepted, "discrepancies": found})
            return {"receiptNo": receipt_no, "accepted": accepted, "discrepancy": found}

    # -- returns ----------------------------------------------------------------------------------------------
    def submit_return(self, hospital: str, return_no: str, dins: list[str], reason: str, remark: str | None) -> dict[str, Any]:
        key = _key(hospital, return_no)
        content = {"din": dins, "reason": reason, "remark": remark}
        with self.store.transaction():
            known = self._get("returns", key)
            if known is not None:
                if not same_content(known["fingerprint"], content):
                    raise CentreError("2202", f"退血单号 {return_no} 已用于内容不同的退血申请")
                return known
            for din in dins:
                problem = din_problem(din)
                if problem:
                    raise CentreError("2101", f"献血码 {din} 无效：{problem}")
                received = self.store.get("received", din)
                if received is None or received["hospital"] != hospital:
                    raise CentreError("2201", f"血袋 {din} 未入库，不能退血")
                bag = self._get("inventory", din)
                if bag.get("returnNo"):
                    raise CentreError("2204", f"血袋 {din} 已在退血单 {bag['returnNo'].split('/')[-1]} 中")
            for din in dins:
                bag = self._get("inventory", din)
                bag["returnNo"] = key
                self.store.put("inventory", din, bag)
            record = {"key": key, "hospital": hospital, "returnNo": return_no, "din": list(dins), "reason": reason,
                      "remark": remark, "status": "PENDING", "submittedAt": self.now().isoformat(),
                      "decidedAt": None, "decision": None, "fingerprint": fingerprint(content)}
            self.store.put("returns", key, record)
            return record

    def return_record(self, hospital: str, return_no: str) -> dict[str, Any]:
        found: dict[str, Any] | None = self._get("returns", _key(hospital, return_no))
        if found is None:
            raise CentreError("2203", f"退血单 {return_no} 不存在")
        return found

    def decide_return(self, key: str, approve: bool, reason: str | None = None) -> dict[str, Any]:
        with self.store.transaction():
            record: dict[str, Any] | None = self._get("returns", key)
            if record is None:
                raise CentreError("2203", f"退血单 {key} 不存在")
            if record["status"] != "PENDING":
                raise CentreError("1001", f"退血单 {record['returnNo']} 已审核（{record['status']}）")
            record.update(status="APPROVED" if approve else "REJECTED", decision=reason, decidedAt=self.now().isoformat())
            self._vetted("return", record)
            for din in record["din"]:
                bag = self._get("inventory", din)
                if approve:
                    bag["status"] = "RETURNED"
                else:
                    bag.pop("returnNo", None)
                self.store.put("inventory", din, bag)
            self.store.put("returns", key, record)
            return record

    # -- fees, cross-match, notices ---------------------------------------------------------------------------
    def unit_fees(self, hospital: str, start: date, end: date) -> list[dict[str, Any]]:
        """Per-bag fees of what was issued to the hospital in [start, end]; bags whose return was approved are not billed."""
        if end < start:
            raise CentreError("2301", f"查询区间无效：结束日期 {end} 早于开始日期 {start}")
        if any(table == "issues" for table, _ in self.damaged):
            raise CentreError(DAMAGED, "发血记录中有损坏的记录，出库费用暂不能核对：请联系血站处理")
        if (end - start).days > MAX_FEE_DAYS:
            raise CentreError("2301", f"查询区间最长 {MAX_FEE_DAYS} 天")
        fees = []
        for _, issue in self._rows("issues"):
            issued = datetime.fromisoformat(issue["issuedAt"])
            if issue["hospital"] != hospital or not start <= issued.date() <= end:
                continue
            for din in issue["dins"]:
                bag = self._get("inventory", din)
                if bag["status"] == "RETURNED":
                    continue
                fees.append({"issueNo": issue["issueNo"], "din": din, "productCode": bag["productCode"],
                             "volume": bag["volume"], "price": bag["price"], "issuedAt": issue["issuedAt"]})
        return sorted(fees, key=lambda f: (f["issuedAt"], f["din"]))

    def crossmatch(self, sample_no: str | None, since: datetime | None) -> list[dict[str, Any]]:
        rows = [s for _, s in self._rows("crossmatch")]
        rows = [s for s in rows if (sample_no is None or s["sampleNo"] == sample_no)
                and (since is None or datetime.fromisoformat(s["reportedAt"]) >= since)]
        return sorted(rows, key=lambda s: s["reportedAt"])

    def notices(self, since: datetime) -> list[dict[str, Any]]:
        rows = [n for _, n in self._rows("notices") if datetime.fromisoformat(n["publishedAt"]) >= since]
        return sorted(rows, key=lambda n: (n["publishedAt"], n["noticeId"]))

    def post_notice(self, kind: str, title: str, content: str, dins: list[str] | None = None) -> dict[str, Any]:
        if kind not in ("SHORTAGE", "RECALL", "POLICY"):
            raise CentreError("1001", f"通知类型 {kind} 无效")
        if not title.strip() or not content.strip():
            raise CentreError("1001", "通知需要标题和内容")
        with self.store.transaction():
            for din in dins or []:
                bag = self._get("inventory", din)
                if bag is None:
                    raise CentreError("1001", f"血袋 {din} 不在血站记录中")
                if kind == "RECALL" and bag["status"] == "AVAILABLE":
                    bag["status"] = "RECALLED"
                bag["recalled"] = bag.get("recalled") or kind == "RECALL"
                self.store.put("inventory", din, bag)
            notice_id = self._next("notice", "TZ")
            notice = {"noticeId": notice_id, "type": kind, "title": title.strip(), "content": content.strip(),
                      "publishedAt": self.now().isoformat(), "din": list(dins or [])}
            self._vetted("notice", notice)
            self.store.put("notices", notice_id, notice)
            return notice

    def recall(self, dins: list[str], content: str = "献血者回访发现风险，请立即隔离并退回以下血袋") -> dict[str, Any]:
        """A look-back recall: the bags are never issued again, and a RECALL notice names them."""
        if not dins:
            raise CentreError("1001", "召回需要至少一个献血码")
        return self.post_notice("RECALL", "血液召回通知", content, dins)

    # -- views for the console and the steps ------------------------------------------------------------------
    def orders(self, status: str | None = None) -> list[dict[str, Any]]:
        rows = [o for _, o in self._rows("orders") if status is None or o["status"] == status]
        return sorted(rows, key=lambda o: o["receivedAt"], reverse=True)

    def returns(self, status: str | None = None) -> list[dict[str, Any]]:
        rows = [r for _, r in self._rows("returns") if status is None or r["status"] == status]
        return sorted(rows, key=lambda r: r["submittedAt"], reverse=True)

    def bags(self, **match: Any) -> list[dict[str, Any]]:
        return [b for _, b in self._rows("inventory") if all(b.get(k) == v for k, v in match.items())]

    def expired(self, bag: dict[str, Any]) -> bool:
        return datetime.fromisoformat(bag["expiresAt"]) <= self.now()

    def in_stock(self, product: str, abo: str, rhd: str) -> list[dict[str, Any]]:
        """The bags of a product and group that can be issued now (available, in date), first to expire first."""
        now = self.now()
        bags = [b for b in self.bags(productCode=product, abo=abo, rhd=rhd) if self._usable(b, now) is None]
        return sorted(bags, key=lambda b: (b["expiresAt"], b["din"]))

    def stock_quantity(self, bags: list[dict[str, Any]], product: str) -> Decimal:
        """How much of an order line `bags` cover, in the product's unit (U and TQ: units per bag; mL: volume)."""
        if PRODUCTS[product].unit == "mL":
            return sum((Decimal(b["volume"]) for b in bags), Decimal(0))
        return sum((Decimal(b["units"]) for b in bags), Decimal(0))

    def limit_stock(self, product: str, abo: str, rhd: str, keep: int) -> list[str]:
        """Leave only `keep` issuable bags of a product and group (first to expire kept): the others went to other
        hospitals. Returns the DINs taken out of the inventory."""
        with self.store.transaction():
            gone = [bag["din"] for bag in self.in_stock(product, abo, rhd)[keep:]]
            for din in gone:
                self.store.delete("inventory", din)
            return gone


def _seed_notices(now: datetime) -> list[dict[str, Any]]:
    day = now.replace(hour=8, minute=0, second=0) - timedelta(days=1)
    return [
        {"noticeId": f"TZ{day:%y%m%d}00001", "type": "POLICY", "title": "冬季用血预约时间调整",
         "content": "即日起常规用血预约请提前 24 小时提交，急诊用血不受影响。", "publishedAt": day.isoformat(), "din": []},
        {"noticeId": f"TZ{day:%y%m%d}00002", "type": "SHORTAGE", "title": "RhD 阴性血液库存紧张",
         "content": "RhD 阴性红细胞库存紧张，请优先保障急诊和手术用血。", "publishedAt": (day + timedelta(hours=2)).isoformat(), "din": []},
    ]


def _seed_samples(now: datetime) -> list[dict[str, Any]]:
    day = now.replace(hour=9, minute=30, second=0) - timedelta(days=1)
    return [
        {"sampleNo": "PX0000000001", "PatientId": "ZY2025000123", "PatientName": "张秀英", "abo": "A", "rhd": "POS",
         "antibodyScreen": "POS", "antibody": "抗-E", "units": [], "conclusion": "检出抗-E，需选择 E 抗原阴性血液",
         "reportedAt": day.isoformat()},
        {"sampleNo": "PX0000000002", "PatientId": "ZY2025000456", "PatientName": "李建国", "abo": "O", "rhd": "NEG",
         "antibodyScreen": "NEG", "antibody": None, "units": [], "conclusion": "O 型 RhD 阴性，抗体筛查阴性",
         "reportedAt": (day + timedelta(hours=3)).isoformat()},
    ]
