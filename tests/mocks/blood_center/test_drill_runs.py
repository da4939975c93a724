"""Drill runs over a real socket, the hospital side played by the reference connector: what starting a drill sets
up, goals met in order by the hospital's exchanges, the centre's autopilot, abandoning, the completion records and
their CSV, their bound, and a run that survives a restart of the training server."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.blood_center import BloodCenterConnector
from harness.ports.blood_center import Unavailable
from mocks.blood_center import BloodCenterMock
from mocks.blood_center import drill_runs as runs_module
from mocks.blood_center.centre import CentreError
from mocks.state import open_store
from mocks.transport.runtime import Runtime
from tests.mocks.blood_center.trainee import Trainee


@pytest.fixture
def trainee(hospital: BloodCenterConnector) -> Trainee:
    return Trainee(hospital)


def goals_done(centre: BloodCenterMock) -> list[str]:
    progress = centre.training.runs.sync()
    record = progress.record if progress else centre.training.runs.records(1)[0].record
    return [g["id"] for g in record["goals"] if g["doneAt"]]


def test_starting_a_drill_resets_the_centre_and_applies_its_setting(centre: BloodCenterMock, trainee: Trainee) -> None:
    trainee.order("ORD30001", [("E0001", "A", "POS", 2)])
    assert centre.centre.orders()

    progress = centre.training.runs.start("emergency-shortage", "张三")

    assert progress.record["status"] == "running" and progress.done == 0 and progress.total == 6
    assert centre.centre.orders() == [], "the centre is back to its seed"
    assert centre.centre.in_stock("E0002", "O", "NEG") == [] and centre.centre.in_stock("E0001", "O", "NEG") == []
    assert len(centre.centre.in_stock("E0002", "O", "POS")) == 6, "other groups keep their stock"
    assert len(centre.journal) == 0 and centre.faults.armed() == []


def test_the_outage_drill_places_the_telephone_order_and_arms_the_outage(centre: BloodCenterMock, trainee: Trainee) -> None:
    centre.training.runs.start("outage-backfill", "李四")
    order = centre.centre.order(centre.hospital, "DH000001")
    assert order["status"] == "ISSUED" and order["remark"] == "电话预约"
    assert [(f.kind, f.operation, f.times, f.phase) for f in centre.faults.armed()] == [("reset", None, 3, "before")]

    with pytest.raises(Unavailable):
        trainee.feedback("DH000001")  # three attempts, all cut: the network is down
    assert goals_done(centre) == ["outage"]
    note, receipt = trainee.receive_order("DH000001")
    assert receipt.accepted == len(note.units) and not receipt.discrepancies
    assert goals_done(centre) == ["outage", "download", "receive"]
    assert trainee.feedback("DH000001").status == "ISSUED"

    record = centre.training.runs.records(1)[0].record
    assert record["status"] == "completed" and record["finished"] == record["goals"][-1]["doneAt"]
    assert centre.training.runs.active() is None


def test_goals_are_met_in_order_only(centre: BloodCenterMock, trainee: Trainee) -> None:
    centre.training.runs.start("recall", "王五")
    trainee.recalls()  # a notices query before anything was recalled: not the third goal yet
    assert goals_done(centre) == []
    trainee.order("ORD30002", [("E0001", "O", "POS", 2)])
    assert goals_done(centre) == ["order"]
    trainee.recalls()
    assert goals_done(centre) == ["order"], "reading the notices before the receipt meets nothing"


def test_by_stock_the_centre_rejects_what_it_cannot_cover_and_issues_after_the_feedback(centre: BloodCenterMock,
                                                                                       trainee: Trainee) -> None:
    centre.training.runs.start("emergency-shortage", "张三")
    trainee.order("ORD30003", [("E0002", "O", "NEG", 4)], urgency="EMERGENCY")
    refused = trainee.feedback("ORD30003")
    assert refused.status == "REJECTED" and "O 型 RhD 阴性红细胞库存为零" in (refused.reason or "")

    trainee.order("ORD30004", [("E0002", "O", "POS", 4)], urgency="EMERGENCY")
    assert trainee.feedback("ORD30004").status == "ACCEPTED", "the hospital reads the decision first"
    assert trainee.feedback("ORD30004").status == "ISSUED", "then the centre issues"
    note, receipt = trainee.receive_order("ORD30004")
    assert sum(Decimal(u.volume) for u in note.units) > 0 and not receipt.discrepancies
    record = centre.training.runs.records(1)[0].record
    assert record["status"] == "completed"
    assert [n["text"] for n in record["notes"]][:2] == ["血站已审核预约单 ORD30003：已拒绝", "血站已审核预约单 ORD30004：已确认"]


def test_by_stock_the_centre_confirms_part_of_a_line(centre: BloodCenterMock, trainee: Trainee) -> None:
    centre.training.runs.start("partial", "赵六")
    trainee.order("ORD30005", [("E0002", "A", "POS", 4), ("E0005", "A", "POS", 2)])

    feedback = trainee.feedback("ORD30005")

    assert feedback.status == "PARTIAL"
    lines = {i.product_code: (i.requested, i.confirmed, i.reason) for i in feedback.items}
    assert lines["E0002"][:2] == (Decimal(4), Decimal(4))
    assert lines["E0005"] == (Decimal(2), Decimal(1), "单采血小板库存紧张，仅能部分满足")
    note, receipt = trainee.receive_order("ORD30005")
    assert [u.product_code for u in note.units].count("E0005") == 1 and not receipt.discrepancies
    assert goals_done(centre) == ["order", "read-partial", "download", "receive"]


def test_the_return_drill_waits_for_the_trainer(centre: BloodCenterMock, trainee: Trainee) -> None:
    centre.training.runs.start("return-approval", "钱七")
    trainee.order("ORD30006", [("E0004", "B", "POS", 400)])
    trainee.feedback("ORD30006")
    note, _ = trainee.receive_order("ORD30006")
    trainee.give_back("TH30006", [note.units[0].din], "DAMAGED")
    assert trainee.return_status("TH30006").status == "PENDING"
    assert goals_done(centre) == ["order", "receive", "return"]

    centre.centre.decide_return(f"{centre.hospital}/TH30006", True)  # the trainer, on the console
    assert trainee.return_status("TH30006").status == "APPROVED"
    billed = {fee.din for fee in trainee.fees()}
    assert note.units[0].din not in billed and {u.din for u in note.units[1:]} <= billed
    assert centre.training.runs.records(1)[0].record["status"] == "completed"


def test_abandoning_ends_the_run_disarms_its_faults_and_stops_its_autopilot(centre: BloodCenterMock, trainee: Trainee) -> None:
    centre.training.runs.start("outage-backfill", "孙八")
    ended = centre.training.runs.abandon()

    assert ended.record["status"] == "abandoned" and ended.record["finished"]
    assert centre.faults.armed() == []
    centre.training.runs.start("recall", "孙八")
    centre.training.runs.abandon()
    trainee.order("ORD30007", [("E0001", "O", "POS", 2)])
    assert trainee.feedback("ORD30007").status == "RECEIVED", "no autopilot once the drill ended"
    with pytest.raises(CentreError, match="没有正在进行的演练"):
        centre.training.runs.abandon()


def test_a_second_drill_and_a_snapshot_restore_wait_for_the_running_one(centre: BloodCenterMock) -> None:
    centre.training.runs.start("partial", "周九")
    with pytest.raises(CentreError, match="正在进行"):
        centre.training.runs.start("recall", "吴十")
    with pytest.raises(CentreError, match="结束演练后再恢复快照"):
        centre.training.reset_to("初始库存")


@pytest.mark.parametrize(("drill", "trainee_name", "refusal"), [
    ("no-such-drill", "张三", "没有演练 no-such-drill"),
    ("partial", "   ", "请填写学员姓名"),
    ("partial", "张" * 41, "学员姓名最长 40 个字符，现为 41 个"),
    ("partial", "张\x07三", "学员姓名含有控制字符 U+0007"),
])
def test_a_drill_start_with_bad_input_is_refused(centre: BloodCenterMock, drill: str, trainee_name: str, refusal: str) -> None:
    with pytest.raises(CentreError) as refused:
        centre.training.runs.start(drill, trainee_name)
    assert refusal in refused.value.message
    assert centre.training.runs.count() == 0


def test_the_records_are_bounded_and_cleared_only_on_purpose(centre: BloodCenterMock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs_module, "MAX_RECORDS", 2)
    for name in ("甲", "乙"):
        centre.training.runs.start("partial", name)
        centre.training.runs.abandon()
    with pytest.raises(CentreError, match="完成记录已满 2 条：请先导出 CSV，再清除记录"):
        centre.training.runs.start("partial", "丙")
    assert centre.training.runs.count() == 2, "no record dropped to make room"

    assert centre.training.runs.clear_records() == 2
    centre.training.runs.start("partial", "丙")
    assert [p.record["trainee"] for p in centre.training.runs.records()] == ["丙"]


def test_the_csv_has_a_row_per_run_with_every_goal_time(centre: BloodCenterMock, trainee: Trainee) -> None:
    centre.training.runs.start("recall", "=HYPERLINK(\"http://x\")")
    trainee.order("ORD30008", [("E0001", "O", "POS", 2)])
    centre.training.runs.sync()
    centre.training.runs.abandon()

    data = centre.training.runs.csv()

    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == list(runs_module.CSV_COLUMNS)
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["学员"] == "'=HYPERLINK(\"http://x\")", "a formula is never written as one"
    assert (row["演练"], row["状态"], row["完成目标数"], row["目标总数"]) == ("血袋召回", "已放弃", "1", "5")
    assert row["各目标完成时间"].startswith("1. 提交用血预约单 20") and "2. 下载发血单并扫描入库 未完成" in row["各目标完成时间"]
    assert "T" not in row["开始时间"] and float(row["用时（分钟）"]) >= 0


@pytest.fixture
def state_file(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "training.sqlite"


def test_a_running_drill_and_its_progress_survive_a_restart(centre: BloodCenterMock, state_file: Path,
                                                           runtime: Runtime) -> None:
    first = BloodCenterMock(centre.contract, open_store(state_file))
    first.start(runtime)
    first.training.runs.start("recall", "郑十一")
    first.training.snapshots.save("开课前")
    connector = Trainee(_connector(first))
    connector.order("ORD30009", [("E0001", "O", "POS", 2)])
    assert goals_done(first) == ["order"]
    connector.hospital.close()
    first.store.close()

    second = BloodCenterMock(centre.contract, open_store(state_file))
    running = second.training.runs.active()

    assert running is not None and running.record["trainee"] == "郑十一" and running.done == 1
    assert [s["name"] for s in second.training.snapshots.list()] == ["开课前"]
    assert second.centre.order(second.hospital, "ORD30009")["status"] == "ACCEPTED"
    second.store.close()


def _connector(mock: BloodCenterMock) -> BloodCenterConnector:
    from connectors.blood_center import reference
    from harness.ports.blood_center import BloodCenterSettings

    return reference(BloodCenterSettings(wsdl_url=f"{mock.service_url}?wsdl", hospital_code=mock.hospital,
                                         token=mock.token, timeout_s=3.0, contract_folder=str(mock.contract.folder)))
