"""Black-box runs: with HIH_LIS_LISTENER / HIH_PACS_LISTENER the partner mocks send results and reports to a
hospital's own listener (here a separate process), the `@blackbox` scenarios judge its ACKs, and the report names
that listener. A malformed address stops the run with one line; a dead one closes the gate without hanging."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from tests.cli.test_cli import one_line_error
from tests.conftest import ROOT
from tests.run.test_runner import gate
from tests.served import started


@pytest.fixture
def his(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """A hospital receiving side in its own process; yields {interface: HOST:PORT} and its store folder."""
    folder = tmp_path / "his"
    folder.mkdir()
    with started([sys.executable, str(ROOT / "tests" / "data" / "his_listener.py"), str(folder)],
                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                 env={**os.environ, "PYTHONPATH": str(ROOT)}) as child:
        assert child.stdout is not None and child.stdin is not None
        readable, _, _ = select.select([child.stdout], [], [], 60)
        assert readable, "the listener said nothing within 60 s"
        addresses = dict(child.stdout.readline().split() for _ in range(2))
        yield addresses, folder
        child.stdin.close()  # its signal to stop; whatever has not stopped in time is ended with `started`
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(10)


def stored(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return [(row[0], row[1]) for row in db.execute("SELECT message_type, control_id FROM received")]


def test_blackbox_scenarios_judge_an_outside_listener(tmp_path: Path, his: tuple[dict[str, str], Path],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    addresses, folder = his
    monkeypatch.setenv("HIH_LIS_LISTENER", addresses["lis"])
    monkeypatch.setenv("HIH_PACS_LISTENER", addresses["pacs"])

    code, document, printed = gate(tmp_path, features_dir=ROOT / "features", interfaces=["lis", "pacs"],
                                   tags="@blackbox")

    assert code == 0, printed
    for interface in ("lis", "pacs"):
        row = document["interfaces"][interface]
        assert row["failed"] == 0 and row["passed"] >= 4, row
        assert row["connector"].endswith(f"results to the hospital listener {addresses[interface]}"), row
        messages = stored(folder / f"{interface}.sqlite")
        assert any(kind == "ORU^R01" for kind, _ in messages), messages
        assert len(messages) == len(set(messages)), "the outside listener stored a duplicate"
    assert {s["interface"] for s in document["scenarios"]} == {"lis", "pacs"}
    assert all("黑盒" in s["feature"] for s in document["scenarios"]), "only the @blackbox features ran"


def test_a_dead_outside_listener_closes_the_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    monkeypatch.setenv("HIH_LIS_LISTENER", f"127.0.0.1:{dead}")

    code, document, printed = gate(tmp_path, features_dir=ROOT / "features", interfaces=["lis"], tags="@blackbox")

    assert code == 1, printed
    failed = [s for s in document["scenarios"] if s["status"] == "failed"]
    assert failed and all(f"127.0.0.1:{dead}" in s.get("message", "") for s in failed), failed


@pytest.mark.parametrize("given", ["nonsense", "10.0.0.5", "host:port", "10.0.0.5:70000", ":2575"])
def test_a_malformed_outside_listener_is_one_line(given: str, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HIH_LIS_LISTENER", given)

    code = main(["run", "--interface", "lis"])

    assert code == 2
    error = one_line_error(capsys.readouterr().err)
    assert error == f"HIH_LIS_LISTENER={given!r} is not HOST:PORT (for example 10.0.0.5:2575)"
