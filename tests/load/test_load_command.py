"""`hih load` over real sockets: the reference connectors against the in-process mocks, and the mock LIS pushing to
a hospital listener in another process (black-box). SLAs come from a copy of the contracts with lower rates."""

from __future__ import annotations

import json
import shutil
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.cli import main
from tests.run.test_blackbox import his  # noqa: F401 - the fixture: a hospital's listener in its own process

ROOT = Path(__file__).resolve().parents[2]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def contracts_with(tmp: Path, interface: str, version: str, sla: str) -> Path:
    """A copy of the project's contracts whose `interface@version` has `sla` as its SLA list."""
    root = tmp / "contracts"
    shutil.copytree(ROOT / "contracts", root)
    path = root / interface / version / "contract.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("\nsla:")] + "\nsla:\n" + sla, encoding="utf-8")
    return root


@pytest.fixture
def loose(tmp_path: Path) -> Path:
    return contracts_with(tmp_path, "insurance", "2025.1", '  - {transaction: "2207", percentile: 99, max_ms: 3000, at_rate: 5}\n'
                                                           '  - {transaction: "1101", percentile: 95, max_ms: 3000, at_rate: 5}\n')


def test_an_outpatient_peak_that_meets_its_slas_opens_the_gate(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                               loose: Path) -> None:
    out_dir = tmp_path / "load"
    code, out, err = run_cli(capsys, "load", "--interface", "insurance", "--profile", "outpatient-peak", "--rate", "8",
                             "--duration", "1.5", "--concurrency", "4", "--contracts-dir", str(loose),
                             "--report-dir", str(out_dir))
    assert code == 0, out + err
    doc = json.loads((out_dir / "load.json").read_text(encoding="utf-8"))
    assert list(doc["transactions"]) == ["1101", "2201", "2204", "2206", "2207"]
    for name, tx in doc["transactions"].items():
        assert tx["count"] == 12 and tx["errors"] == 0, (name, tx)
        assert 0 < tx["p50_ms"] <= tx["p99_ms"] <= tx["max_ms"]
    assert [v["sla"] for v in doc["slas"]] == ["2207 p99 <= 3000 ms at 5/s", "1101 p95 <= 3000 ms at 5/s"]
    assert all(v["passed"] for v in doc["slas"]) and doc["decision"] == "pass"
    assert sum(row["transactions"]["2207"]["done"] for row in doc["timeline"] if "2207" in row["transactions"]) == 12
    cases = ET.parse(out_dir / "junit.xml").getroot().findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == ["2207 p99 <= 3000 ms at 5/s", "1101 p95 <= 3000 ms at 5/s"]
    assert not any(c.find("failure") is not None for c in cases)
    page = (out_dir / "load.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 3 and "SLA 全部满足" in page and "http" not in page.split("<svg", 1)[0].lower()
    assert "PASS 2207 p99 <= 3000 ms at 5/s" in out
    # every settlement reached the platform and was settled
    assert "2207" in out


def test_a_latency_over_the_sla_closes_the_gate_and_says_by_how_much(capsys: pytest.CaptureFixture[str],
                                                                     tmp_path: Path) -> None:
    tight = contracts_with(tmp_path, "insurance", "2025.1", '  - {transaction: "2207", percentile: 50, max_ms: 0.001, at_rate: 5}\n')
    out_dir = tmp_path / "load"
    code, out, _ = run_cli(capsys, "load", "--interface", "insurance", "--profile", "outpatient-peak", "--rate", "6",
                           "--duration", "1", "--concurrency", "2", "--contracts-dir", str(tight),
                           "--report-dir", str(out_dir))
    assert code == 1
    assert "FAIL 2207 p50 <= 0.001 ms at 5/s: P50 响应时间" in out and "超过 0.001 ms" in out
    failure = ET.parse(out_dir / "junit.xml").getroot().find("./testsuite/testcase/failure")
    assert failure is not None and "超过 0.001 ms" in (failure.get("message") or "")
    assert json.loads((out_dir / "load.json").read_text(encoding="utf-8"))["decision"] == "fail"


def test_a_run_below_the_slas_rate_does_not_prove_it(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                     loose: Path) -> None:
    code, out, _ = run_cli(capsys, "load", "--interface", "insurance", "--profile", "outpatient-peak", "--rate", "2",
                           "--duration", "1", "--concurrency", "1", "--contracts-dir", str(loose),
                           "--report-dir", str(tmp_path / "load"))
    assert code == 1
    assert "施加的负载 2/s 低于 SLA 规定的 5/s" in out


def test_the_morning_results_load_a_hospitals_own_listener(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                           his: tuple[dict[str, str], Path]) -> None:  # noqa: F811
    addresses, folder = his
    contracts = contracts_with(tmp_path, "lis", "2024.1", '  - {transaction: "ORU^R01", percentile: 99, max_ms: 5000, at_rate: 10}\n')
    out_dir = tmp_path / "load"
    code, out, err = run_cli(capsys, "load", "--interface", "lis", "--profile", "morning-results", "--rate", "10",
                             "--duration", "1.5", "--listener", addresses["lis"], "--contracts-dir", str(contracts),
                             "--report-dir", str(out_dir))
    assert code == 0, out + err
    doc = json.loads((out_dir / "load.json").read_text(encoding="utf-8"))
    assert doc["transactions"]["ORU^R01"]["count"] == 15 and doc["transactions"]["ORU^R01"]["errors"] == 0
    assert doc["connector"] == f"the hospital's listener {addresses['lis']}"
    with sqlite3.connect(folder / "lis.sqlite") as db:
        kinds = [row[0] for row in db.execute("SELECT message_type FROM received")]
    assert kinds.count("ORU^R01") == 15, "every result the load sent was stored by the hospital's listener"


def test_an_unknown_profile_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "load", "--interface", "insurance", "--profile", "night-shift", "--rate", "1",
                           "--duration", "1")
    assert code == 2
    assert err.strip() == ("hih: error: --profile night-shift: no such workload for insurance (workloads for "
                           "insurance: outpatient-peak)")


@pytest.mark.parametrize(("args", "says"), [
    (("--rate", "0"), "--rate 0: give iterations per second above 0"),
    (("--duration", "-1"), "--duration -1: give seconds above 0"),
    (("--concurrency", "0"), "--concurrency 0: give 1 to 512 workers"),
    (("--listener", "nowhere"), "--listener nowhere: expected HOST:PORT"),
    (("--connector", "lis=x:y"), "--connector lis=x:y: name the interface being loaded"),
])
def test_bad_options_are_one_line_usage_errors(capsys: pytest.CaptureFixture[str], args: tuple[str, ...], says: str) -> None:
    given = {"--rate": "1", "--duration": "1"}
    given.update(dict(zip(args[::2], args[1::2], strict=True)))
    code, _, err = run_cli(capsys, "load", "--interface", "insurance", "--profile", "outpatient-peak",
                           *[x for pair in given.items() for x in pair])
    assert code == 2
    assert says in err and len(err.strip().splitlines()) == 1


def test_an_sla_for_a_transaction_the_contract_lacks_is_a_contract_problem(capsys: pytest.CaptureFixture[str],
                                                                           tmp_path: Path) -> None:
    broken = contracts_with(tmp_path, "insurance", "2025.1", '  - {transaction: "9999", max_ms: 10, at_rate: 1}\n')
    code, _, err = run_cli(capsys, "contract", "check", str(broken / "insurance" / "2025.1"))
    assert code == 2
    assert "no transaction '9999' in this contract" in err and "contract.yaml:" in err
