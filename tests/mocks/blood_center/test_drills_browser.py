"""Each shipped drill end to end in headless Chromium: the trainer starts it for a trainee on /console/drills, the
trainee's hospital system (the reference connector over SOAP) does the work, the page follows each goal live without
a reload, the trainer acts where the drill needs it, and the completion record comes out of the CSV export. Also the
trainer's tools by clicking: a fault button and its banner, a recall picked from the in-stock DINs, a snapshot."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from harness.ports.blood_center import Unavailable
from mocks.blood_center import BloodCenterMock
from tests.browser import skip_without_chromium
from tests.mocks.blood_center.trainee import Trainee

pytestmark = skip_without_chromium
LIVE_MS = 10_000


@pytest.fixture
def trainee(hospital: Any) -> Trainee:
    return Trainee(hospital)


def start(page: Any, centre: BloodCenterMock, drill: str, name: str) -> None:
    assert centre.endpoint is not None
    page.goto(f"{centre.endpoint.url}/console/drills")
    page.fill("#start input[name=trainee]", name)
    page.select_option("#start select[name=drill]", drill)
    page.locator("#start button").click()
    page.wait_for_url("**/console/drills?msg=*")
    assert "已开始" in page.locator("#message").inner_text()


def progress(page: Any, shown: str) -> None:
    """Wait until the running drill's panel shows `shown` (e.g. 2/5) by itself: the page is never reloaded."""
    page.locator("#drill-progress .progress", has_text=shown).wait_for(timeout=LIVE_MS)


def finished(page: Any, title: str, total: int) -> None:
    page.locator("#last-run", has_text="已完成").wait_for(timeout=LIVE_MS)
    text = page.locator("#last-run").inner_text()
    assert title in text and f"{total}/{total}" in text


def exported(page: Any, tmp_path: Path) -> list[dict[str, str]]:
    with page.expect_download() as download:
        page.locator("#export").click()
    path = tmp_path / "records.csv"
    download.value.save_as(path)
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))


def test_emergency_order_with_no_stock(centre: BloodCenterMock, trainee: Trainee, page: Any, tmp_path: Path) -> None:
    start(page, centre, "emergency-shortage", "急诊 张护士")
    progress(page, "0/6")
    trainee.order("ORD40001", [("E0002", "O", "NEG", 4)], urgency="EMERGENCY")
    progress(page, "1/6")
    refused = trainee.feedback("ORD40001")
    assert refused.status == "REJECTED"
    progress(page, "2/6")
    trainee.order("ORD40002", [("E0002", "O", "POS", 4)], urgency="EMERGENCY")
    assert trainee.feedback("ORD40002").status == "ACCEPTED"
    progress(page, "4/6")
    note, receipt = trainee.receive_order("ORD40002")
    assert note.units and not receipt.discrepancies
    finished(page, "紧急用血且库存不足", 6)
    assert page.locator("#records tr", has_text="急诊 张护士").locator(".status").inner_text() == "已完成"
    [row] = exported(page, tmp_path)
    assert (row["学员"], row["演练"], row["状态"], row["完成目标数"], row["目标总数"]) == ("急诊 张护士", "紧急用血且库存不足", "已完成", "6", "6")


def test_partial_fulfilment(centre: BloodCenterMock, trainee: Trainee, page: Any, tmp_path: Path) -> None:
    start(page, centre, "partial", "心外 李医生")
    trainee.order("ORD40003", [("E0002", "A", "POS", 4), ("E0005", "A", "POS", 2)])
    progress(page, "1/4")
    feedback = trainee.feedback("ORD40003")
    assert feedback.status == "PARTIAL" and [str(i.confirmed) for i in feedback.items] == ["4", "1"]
    progress(page, "2/4")
    page.locator("#drill-progress #notes", has_text="血站已发血").wait_for(timeout=LIVE_MS)
    trainee.receive_order("ORD40003")
    finished(page, "部分满足", 4)
    [row] = exported(page, tmp_path)
    assert (row["学员"], row["状态"], row["完成目标数"]) == ("心外 李医生", "已完成", "4")


def test_bag_recall(centre: BloodCenterMock, trainee: Trainee, page: Any, tmp_path: Path) -> None:
    start(page, centre, "recall", "输血科 王技师")
    trainee.order("ORD40004", [("E0001", "O", "POS", 2)])
    trainee.feedback("ORD40004")
    note, _ = trainee.receive_order("ORD40004")
    progress(page, "2/5")
    [recall] = trainee.recalls()
    assert set(recall.dins) <= {u.din for u in note.units}
    progress(page, "3/5")
    trainee.give_back("TH40004", list(recall.dins), "RECALLED")
    assert trainee.return_status("TH40004").status == "APPROVED"
    finished(page, "血袋召回", 5)
    [row] = exported(page, tmp_path)
    assert (row["学员"], row["状态"]) == ("输血科 王技师", "已完成")


def test_return_approved_by_the_trainer(centre: BloodCenterMock, trainee: Trainee, page: Any, tmp_path: Path) -> None:
    start(page, centre, "return-approval", "输血科 赵技师")
    trainee.order("ORD40005", [("E0004", "B", "POS", 400)])
    trainee.feedback("ORD40005")
    note, _ = trainee.receive_order("ORD40005")
    trainee.give_back("TH40005", [note.units[0].din], "DAMAGED")
    assert trainee.return_status("TH40005").status == "PENDING"
    progress(page, "3/5")

    page.get_by_role("link", name="退血 Returns").click()
    row = page.locator("tr[data-return=TH40005]")
    assert "待审核" in row.locator(".status").inner_text() and "血袋破损" in row.inner_text()
    row.get_by_role("button", name="同意").click()
    page.wait_for_url("**/console/returns?msg=*")
    assert "已同意" in page.locator("tr[data-return=TH40005] .status").inner_text()

    assert trainee.return_status("TH40005").status == "APPROVED"
    assert note.units[0].din not in {fee.din for fee in trainee.fees()}
    page.get_by_role("link", name="演练 Drills").click()
    finished(page, "退血审批", 5)
    [row_] = exported(page, tmp_path)
    assert (row_["学员"], row_["状态"], row_["完成目标数"]) == ("输血科 赵技师", "已完成", "5")


def test_backfill_after_a_network_outage(centre: BloodCenterMock, trainee: Trainee, page: Any, tmp_path: Path) -> None:
    start(page, centre, "outage-backfill", "输血科 钱技师")
    assert "故障已布置" in page.locator("#fault-banner").inner_text()
    with pytest.raises(Unavailable):
        trainee.feedback("DH000001")
    progress(page, "1/4")
    page.locator("#fault-banner").wait_for(state="detached", timeout=LIVE_MS)
    note, receipt = trainee.receive_order("DH000001")
    assert note.order_no == "DH000001" and receipt.accepted == len(note.units)
    progress(page, "3/4")
    assert trainee.feedback("DH000001").status == "ISSUED"
    finished(page, "网络中断后补录", 4)
    [row] = exported(page, tmp_path)
    assert (row["学员"], row["状态"]) == ("输血科 钱技师", "已完成")


def test_the_trainers_tools_by_clicking(centre: BloodCenterMock, trainee: Trainee, page: Any) -> None:
    assert centre.endpoint is not None
    page.goto(f"{centre.endpoint.url}/console/faults")
    page.select_option("#arm select[name=times]", "3")
    page.locator("tr[data-operation=QueryNotices]").get_by_role("button", name="血站繁忙").click()
    page.wait_for_url("**/console/faults?msg=*")
    assert "血站通知 QueryNotices — 血站繁忙（剩 3 次" in page.locator("#fault-banner").inner_text()
    page.goto(f"{centre.endpoint.url}/console/")
    assert page.locator("#fault-banner").is_visible(), "the banner is on every page"
    with pytest.raises(Unavailable):
        trainee.recalls()  # busy three times: the connector gives up after its two resends
    page.locator("#fault-banner").wait_for(state="detached", timeout=LIVE_MS)

    page.goto(f"{centre.endpoint.url}/console/inventory?product=E0005&abo=B&rhd=NEG")
    dins = page.locator("#bags tr[data-din]").evaluate_all("rows => rows.map(r => r.dataset.din)")
    assert dins and set(dins) == {b["din"] for b in centre.centre.in_stock("E0005", "B", "NEG")}
    page.locator(f"tr[data-din='{dins[0]}'] input[type=checkbox]").check()
    page.locator("#recall button").click()
    page.wait_for_url("**/console/inventory?msg=*")
    assert "1 袋不再发出" in page.locator("#message").inner_text()
    assert [n.dins for n in trainee.recalls()] == [(dins[0],)]

    page.get_by_role("link", name="活动记录 Activity").click()
    newest = page.locator("#activity tr[data-exchange]").first
    assert "血站通知" in newest.inner_text() and "0 成功" in newest.inner_text()
    trainee.order("ORD40006", [("E0001", "A", "POS", 2)])
    page.locator("#activity tr[data-exchange]", has_text="ORD40006").wait_for(timeout=LIVE_MS)

    page.get_by_role("link", name="快照 Snapshots").click()
    page.fill("#save input[name=name]", "第三课")
    page.locator("#save button").click()
    page.wait_for_url("**/console/snapshots?msg=*")
    trainee.order("ORD40007", [("E0001", "A", "POS", 2)])
    page.locator("tr[data-snapshot=第三课]").get_by_role("button", name="恢复").click()
    page.wait_for_url("**/console/snapshots?msg=*")
    assert [o["orderNo"] for o in centre.centre.orders()] == ["ORD40006"]
