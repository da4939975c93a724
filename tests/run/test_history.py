"""The run history: where it lives, what a run records, the grid `hih history` prints, flaky scenarios, and a missing
or corrupt database. Every database here is under tmp_path."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.run import history
from harness.run.history import (
    HistoryError,
    field_pointers,
    history_path,
    query,
    record,
    record_run,
    render_text,
)

A = "features/insurance/test_insurance.py::test_a"
B = "features/insurance/test_insurance.py::test_b[1101]"


def run_summary(statuses: dict[str, str], contract: str = "2024.1", connector: str = "connectors.insurance:reference",
                started: str = "2026-11-22T10:00:00+08:00", **extra: Any) -> dict[str, Any]:
    scenarios = [{"interface": "insurance", "feature": "结算", "name": nodeid.rsplit("::", 1)[-1], "status": status,
                  "duration_s": 0.01, "nodeid": nodeid} for nodeid, status in statuses.items()]
    counts = {s: sum(1 for v in statuses.values() if v == s) for s in ("passed", "failed", "skipped")}
    return {"decision": "pass" if counts["failed"] == 0 else "fail", "started": started, "finished": started,
            "duration_s": 1.0, "workers": 1, "tags": None, "totals": counts,
            "interfaces": {"insurance": {"contract": contract, "connector": connector, **counts, "duration_s": 0.02}},
            "scenarios": scenarios, **extra}


EVIDENCE: dict[str, list[dict[str, Any]]] = {A: [{"operation": "2207", "request": {"infno": "2207", "input": {"data": {"card_sn": "X"}}},
                 "response": {"infcode": 0, "output": {"setlinfo": {"balc": 1}}}},
                {"operation": "2601", "request": {"infno": "2601"}, "response": None, "fault": "reset"}]}


# -- location ----------------------------------------------------------------------------------------------------
def test_the_database_sits_beside_the_report_dir_unless_hih_history_says(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIH_HISTORY", raising=False)
    assert history_path(tmp_path / "reports" / "latest") == tmp_path / "reports" / "history.sqlite"
    monkeypatch.chdir(tmp_path)
    assert history_path() == tmp_path / "reports" / "history.sqlite"
    monkeypatch.setenv("HIH_HISTORY", str(tmp_path / "elsewhere.sqlite"))
    assert history_path(tmp_path / "x") == tmp_path / "elsewhere.sqlite"
    monkeypatch.setenv("HIH_HISTORY", "off")
    assert history_path(tmp_path / "x") is None


def test_record_run_writes_beside_the_report_dir_in_wal_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIH_HISTORY", raising=False)
    record_run(run_summary({A: "passed"}), EVIDENCE, tmp_path / "reports" / "latest")
    db = tmp_path / "reports" / "history.sqlite"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        run = conn.execute("SELECT decision, passed, failed, skipped, report_dir FROM runs").fetchone()
        assert run == ("pass", 1, 0, 0, str(tmp_path / "reports" / "latest"))
        assert conn.execute("SELECT interface, contract, connector FROM run_interfaces").fetchall() == [
            ("insurance", "2024.1", "connectors.insurance:reference")]
        row = conn.execute("SELECT nodeid, feature, status, operations, fields FROM scenario_results").fetchone()
    assert row[:3] == (A, "结算", "passed")
    assert json.loads(row[3]) == ["2207", "2601"]
    fields = json.loads(row[4])
    assert "/input/data/card_sn" in fields["2207"]["request"] and "/output/setlinfo/balc" in fields["2207"]["response"]
    assert fields["2601"] == {"request": ["/infno"]}  # no reply: no response side


def test_switched_off_records_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIH_HISTORY", "off")
    record_run(run_summary({A: "passed"}), {}, tmp_path / "reports" / "latest")
    assert not (tmp_path / "reports").exists()


def test_a_corrupt_database_costs_a_warning_not_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "history.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    monkeypatch.setenv("HIH_HISTORY", str(bad))
    record_run(run_summary({A: "passed"}), {}, tmp_path / "reports")
    err = capsys.readouterr().err
    assert err.startswith("hih: warning: run not recorded in the history: run history ") and err.count("\n") == 1


def test_field_pointers() -> None:
    assert field_pointers({"a": [{"b": 1}, {"c": None}], "x/y": {"~": 0}}) == {
        "/a", "/a/*", "/a/*/b", "/a/*/c", "/x~1y", "/x~1y/~0"}
    assert field_pointers("plain text") == set() and field_pointers(None) == set()


# -- the grid and flaky scenarios --------------------------------------------------------------------------------
def test_query_aligns_results_per_run_and_marks_flaky_only_on_the_same_setup(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    record(db, run_summary({A: "passed", B: "passed"}, contract="2023.1"), {})
    record(db, run_summary({A: "failed", B: "passed"}), {})          # A: passed on 2023.1, failed on 2024.1: not flaky
    record(db, run_summary({B: "failed"}), {})                       # a partial run: A not in it
    record(db, run_summary({A: "failed", B: "passed"}), {})          # B: failed and passed on 2024.1: flaky

    document = query(db)
    data = document["interfaces"]["insurance"]
    assert [r["id"] for r in data["runs"]] == [1, 2, 3, 4]
    assert [r["contract"] for r in data["runs"]] == ["2023.1", "2024.1", "2024.1", "2024.1"]
    rows = {s["nodeid"]: s for s in data["scenarios"]}
    assert rows[A]["results"] == ["passed", "failed", None, "failed"] and rows[A]["flaky"] is False
    assert rows[B]["results"] == ["passed", "passed", "failed", "passed"] and rows[B]["flaky"] is True
    assert rows[B]["flaky_on"] == [{"contract": "2024.1", "connector": "connectors.insurance:reference",
                                     "identity": "name:connectors.insurance:reference"}]
    assert data["flaky"] == 1 and data["scenarios"][0]["nodeid"] == B  # flaky first

    text = render_text(document)
    assert "insurance: last 4 run(s), newest right" in text
    assert "  ✓✗✗✗                     gate" in text
    assert "  ✓✗·✗                     结算 · test_a" in text
    assert "  ✓✓✗✓  flaky              结算 · test_b[1101]" in text
    assert "1 flaky scenario(s)" in text


def test_a_different_connector_is_a_different_setup(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    record(db, run_summary({A: "passed"}), {})
    record(db, run_summary({A: "failed"}, connector="hospital.his:make"), {})
    scenario = query(db)["interfaces"]["insurance"]["scenarios"][0]
    assert scenario["flaky"] is False and scenario["connector_changed"] is True


def with_identity(summary: dict[str, Any], kind: str, value: str) -> dict[str, Any]:
    row = summary["interfaces"]["insurance"]
    row["connector_identity"] = {"name": row["connector"], "label": "reference", "kind": kind, "value": value,
                                 "git_commit": None}
    return summary


def test_the_same_connector_name_with_changed_code_is_not_flaky(tmp_path: Path) -> None:
    """`connectors.insurance:reference` passed, then its code changed (another SHA-256) and it failed: the grid says
    "connector changed", not flaky. Passing and failing again on one build is flaky."""
    db = tmp_path / "h.sqlite"
    record(db, with_identity(run_summary({A: "passed", B: "passed"}), "files-sha256", "1" * 64), {})
    record(db, with_identity(run_summary({A: "failed", B: "passed"}), "files-sha256", "2" * 64), {})
    record(db, with_identity(run_summary({A: "failed", B: "failed"}), "files-sha256", "2" * 64), {})

    data = query(db)["interfaces"]["insurance"]
    assert [r["connector_changed"] for r in data["runs"]] == [False, True, False]
    assert data["runs"][1]["connector_identity"]["value"] == "2" * 64
    rows = {s["nodeid"]: s for s in data["scenarios"]}
    assert rows[A]["flaky"] is False and rows[A]["connector_changed"] is True
    assert rows[B]["flaky"] is True and rows[B]["flaky_on"][0]["identity"] == "files-sha256:" + "2" * 64
    assert rows[B]["connector_changed"] is False
    text = render_text(query(db))
    assert "  ✓✗✗  connector changed  结算 · test_a" in text
    assert "  ✓✓✗  flaky              结算 · test_b[1101]" in text
    assert "reference sha256:222222222222" in text and "connector changed" in text.splitlines()[4]
    assert "1 flaky scenario(s); 1 changed with the connector" in text


def test_a_black_box_build_is_told_by_hih_connector_version(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    record(db, with_identity(run_summary({A: "passed"}), "env", "HIS 5.2.0"), {})
    record(db, with_identity(run_summary({A: "failed"}), "env", "HIS 5.2.1"), {})
    record(db, with_identity(run_summary({A: "failed"}), "env", "HIS 5.2.1"), {})
    rows = query(db)["interfaces"]["insurance"]["scenarios"]
    assert rows[0]["flaky"] is False and rows[0]["connector_changed"] is True


def test_a_schema_1_history_is_upgraded_in_place(tmp_path: Path) -> None:
    """A database written before connector identities: its runs keep their connector name as identity."""
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as conn:
        conn.executescript(history._SCHEMA.replace(
            "    connector_kind TEXT,\n    connector_value TEXT,\n    connector_label TEXT,\n    git_commit TEXT,\n", ""))
        conn.execute("PRAGMA user_version = 1")
    record(db, run_summary({A: "passed"}), {})
    record(db, with_identity(run_summary({A: "failed"}), "files-sha256", "3" * 64), {})
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == history.SCHEMA_VERSION
    data = query(db)["interfaces"]["insurance"]
    assert data["runs"][0]["connector_identity"] is None and data["runs"][1]["connector_changed"] is True


def test_last_keeps_the_newest_runs(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    for status in ("failed", "passed", "passed"):
        record(db, run_summary({A: status}), {})
    data = query(db, last=2)["interfaces"]["insurance"]
    assert [r["id"] for r in data["runs"]] == [2, 3] and data["scenarios"][0]["results"] == ["passed", "passed"]
    with pytest.raises(HistoryError, match="--last must be at least 1"):
        query(db, last=0)


def test_a_partial_run_is_labelled(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    selection = {"changed_since": {"insurance": "2023.1"}, "new": {"insurance": "2024.1"}, "selected": 1, "of": 70}
    record(db, run_summary({A: "passed"}, selection=selection), {})
    text = render_text(query(db))
    assert "changed since 2023.1: 1 selected" in text


def test_template_named_outline_rows_get_their_example_id(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    summary = run_summary({"f.py::test_t[\\u4ea4\\u6613-1101]": "skipped"})
    summary["scenarios"][0]["name"] = "办理 <交易>"
    record(db, summary, {})
    assert query(db)["interfaces"]["insurance"]["scenarios"][0]["name"] == "办理 <交易> [交易-1101]"


def test_recorded_takes_each_scenarios_latest_run_that_exchanged_something(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    record(db, run_summary({A: "passed"}), EVIDENCE)
    record(db, run_summary({A: "skipped"}), {})
    found = history.recorded(db, "insurance")
    assert [(r.nodeid, r.run_id) for r in found.records] == [(A, 1)]
    assert found.records[0].exchanges["2207"]["request"] >= {"/input/data/card_sn"}
    assert history.recorded(db, "lis").problem == f"no run of lis recorded in {db}"


# -- missing, corrupt and foreign databases ------------------------------------------------------------------------
def test_missing_corrupt_and_foreign_databases_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match=r"^no run history at .*none\.sqlite"):
        query(tmp_path / "none.sqlite")
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"\x00garbage" * 512)
    with pytest.raises(HistoryError, match=r"is unreadable: file is not a database$"):
        query(corrupt)
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE something (x)")
    with pytest.raises(HistoryError, match=r"is not a hih run history \(tables run_interfaces, runs, scenario_results missing\)"):
        query(foreign)
    db = tmp_path / "h.sqlite"
    record(db, run_summary({A: "passed"}), {})
    with pytest.raises(HistoryError, match=r"no run of interface 'lis' recorded in .* \(recorded: insurance\)"):
        query(db, "lis")


# -- the command ----------------------------------------------------------------------------------------------------
def test_hih_history_text_json_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "h.sqlite"
    record(db, run_summary({A: "passed", B: "failed"}), {})
    monkeypatch.setenv("HIH_HISTORY", str(db))

    assert main(["history"]) == 0
    assert "  ✓  flaky" not in capsys.readouterr().out
    assert main(["history", "--interface", "insurance", "--last", "5", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document) == ["database", "last", "runs_recorded", "interfaces"]
    data = document["interfaces"]["insurance"]
    assert set(data) == {"runs", "scenarios", "flaky", "connector_changed"}
    assert set(data["runs"][0]) == {"id", "started", "decision", "gate", "contract", "connector", "connector_identity",
                                     "connector_changed", "passed", "failed", "skipped", "selection"}
    assert set(data["scenarios"][0]) == {"nodeid", "feature", "name", "results", "flaky", "flaky_on",
                                         "connector_changed", "passed", "failed", "skipped"}

    for args, message in ((["history", "--db", str(tmp_path / "none.sqlite")], "hih: error: no run history at "),
                          (["history", "--format", "xml"], "hih: error: --format must be text or json, not 'xml'"),
                          (["history", "--interface", "lis"], "hih: error: no run of interface 'lis' recorded")):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith(message) and err.count("\n") == 1
    monkeypatch.setenv("HIH_HISTORY", "off")
    assert main(["history"]) == 2
    assert "switched off" in capsys.readouterr().err


def test_previous_runs_gives_each_interface_its_latest_earlier_run(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    record(db, run_summary({A: "passed"}, contract="2023.1", started="2026-11-20T10:00:00+08:00"), {})
    second = record(db, run_summary({A: "failed", B: "passed"}, started="2026-11-21T10:00:00+08:00"), {})
    record(db, run_summary({A: "passed"}, started="2026-11-22T10:00:00+08:00"), {})

    found = history.previous_runs(db, ["insurance", "lis"], "2026-11-22T10:00:00+08:00")

    assert set(found) == {"insurance"}, "no run of lis: no entry"
    assert found["insurance"]["id"] == second and found["insurance"]["contract"] == "2024.1"
    assert {n: s["status"] for n, s in found["insurance"]["scenarios"].items()} == {A: "failed", B: "passed"}
    assert history.previous_runs(tmp_path / "none.sqlite", ["insurance"], None) == {}
    (tmp_path / "bad.sqlite").write_text("not a database", encoding="utf-8")
    assert history.previous_runs(tmp_path / "bad.sqlite", ["insurance"], None) == {}


# -- end to end: the same connector name, changed code -----------------------------------------------------------------
def test_a_connector_whose_code_changed_is_not_called_flaky(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`hisadapt_e2e.adapter:make` passes; its code then changes (it stops signing) and the same name fails. The
    history shows two identities and marks the failing scenarios "connector changed", not flaky."""
    import io
    import sys

    from rich.console import Console

    from harness.run.options import RunOptions
    from harness.run.runner import run
    from tests.conftest import DATA

    package = tmp_path / "hisadapt_e2e"  # a name of its own: the module stays imported in this process
    package.mkdir()
    for name in ("hisadapt_e2e", "hisadapt_e2e.adapter"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    (package / "__init__.py").write_text("", encoding="utf-8")
    good = "from connectors.insurance import reference as make\n"
    (package / "adapter.py").write_text(good, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HIH_HISTORY", str(tmp_path / "history.sqlite"))
    options = RunOptions(features_dir=DATA / "features", report_dir=tmp_path / "reports", workers=1,
                         connectors={"insurance": "hisadapt_e2e.adapter:make"}, signoff_pdf=False)

    assert run(options, Console(file=io.StringIO())) == 0
    (package / "adapter.py").write_text("from tests.data.connectors.unsigned_connector import make\n", encoding="utf-8")
    assert run(options, Console(file=io.StringIO())) == 1

    data = query(tmp_path / "history.sqlite")["interfaces"]["insurance"]
    first, second = data["runs"]
    assert first["connector"] == second["connector"] == "hisadapt_e2e.adapter:make"
    assert first["connector_identity"]["value"] != second["connector_identity"]["value"]
    assert second["connector_changed"] is True
    changed = [s for s in data["scenarios"] if s["connector_changed"]]
    assert changed and not any(s["flaky"] for s in data["scenarios"])
    assert main(["history", "--db", str(tmp_path / "history.sqlite")]) == 0
    assert "connector changed" in capsys.readouterr().out
