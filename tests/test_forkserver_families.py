"""The fork server's families (tests/forkserver.py): a forked run's pytest process starts with no module that a fresh
run of its interfaces would not import (one interface, or several in one process), hih's plugins come rewritten by pytest's own hook (no
PytestAssertRewriteWarning, the same assertion messages as in a fresh process), each order goes to its family, and a
test process keeps a bounded number of servers."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.run import warm
from harness.run.options import RunOptions
from harness.run.runner import run
from tests.forkserver import MAX_SERVERS, ROOT, Family, ForkServer, Server, family_of

PROBE_SITE = """
import atexit, json, os, sys

_OUT = os.environ.get("FORK_FAMILY_PROBE")


def _modules():
    return {n: type(getattr(m, "__loader__", None)).__name__ for n, m in list(sys.modules.items()) if m is not None}


if _OUT:
    _START = _modules()  # a forked process imports this just before pytest starts: the server's modules

    def _dump():
        with open(os.path.join(_OUT, f"{os.getpid()}.json"), "w", encoding="utf-8") as f:
            json.dump({"argv": sys.orig_argv, "start": _START, "exit": _modules()}, f)

    atexit.register(_dump)
"""
"""A sitecustomize that records a process's modules and their loaders when it starts and when it ends (a run's
pytest process runs its exit functions before it exits: harness.run.collector.QuickExit)."""


def run_modules(folder: Path) -> dict[str, Any]:
    """The record of the run's pytest process among the processes recorded in `folder`."""
    records = [json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")]
    runs = [r for r in records if "--hih-events" in r["argv"]]
    assert len(runs) == 1, [r["argv"][:4] for r in records]
    return dict(runs[0])


def with_probe(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`PROBE_SITE` in `folder`, ahead on the import path of the processes started from now."""
    site = folder / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(PROBE_SITE, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    return site


@pytest.fixture
def probe_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return with_probe(tmp_path, monkeypatch)


RUNS = [("lis", "clock", "hl7@2.5.1"), ("blood-center", "auth", "soap"), ("insurance", "clock", "insurance"),
        ("insurance,lis", "clock", "hl7@2.5.1+insurance")]
"""The runs below: interfaces, tags, and the family of their pytest process."""
FAMILIES = {family for _, _, family in RUNS}


@pytest.fixture
def forked_here(fork_server: ForkServer) -> ForkServer:
    """The test process's fork server (tests/conftest.py `fork_server`, which forks the in-process runs' pytest
    processes) with room for this module's families: it may hold `MAX_SERVERS` already when these tests come (the
    planted rounds' sets of interfaces each make one), and then sends a new family's runs to its `run` server, which
    is what it should do but not what these tests look at."""
    fork_server.make_room(FAMILIES)
    return fork_server


@pytest.fixture(scope="module")
def plain_start(tmp_path_factory: pytest.TempPathFactory, fork_server: ForkServer) -> set[str]:
    """The modules a process forked from the test process's `plain` server starts with (every family's server comes from
    it): what a forked process holds before its family adds anything."""
    folder = tmp_path_factory.mktemp("plain")
    (folder / "test_nothing.py").write_text("def test_nothing():\n    pass\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        with_probe(folder, patch)
        patch.chdir(folder)
        patch.setenv("FORK_FAMILY_PROBE", str(folder))
        plain = fork_server.fork(["-q", "-p", "no:cacheprovider", "test_nothing.py"], folder / "plain.log",
                                 dict(os.environ))
        assert plain.wait(120) == 0
    return set(json.loads(next(folder.glob("*.json")).read_text(encoding="utf-8"))["start"])


def one_run(tmp_path: Path, name: str, interfaces: str, tags: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A run of the interfaces (comma-separated) in one pytest process, its processes' modules recorded."""
    out = tmp_path / name
    out.mkdir()
    monkeypatch.setenv("FORK_FAMILY_PROBE", str(out))
    code = run(RunOptions(features_dir=ROOT / "features", interfaces=interfaces.split(","), tags=tags, workers=1,
                          signoff_pdf=False, report_dir=out / "reports"), Console(file=io.StringIO()))
    warm.reap()
    assert code == 0, (out / "reports" / "pytest.log").read_text(encoding="utf-8")
    return out


@pytest.mark.parametrize(("interface", "tags", "family"), RUNS)
def test_a_forked_run_starts_with_what_a_fresh_run_of_its_interface_imports(
        interface: str, tags: str, family: str, tmp_path: Path, plain_start: set[str], probe_site: Path,
        forked_here: ForkServer, monkeypatch: pytest.MonkeyPatch) -> None:
    forked = run_modules(one_run(tmp_path, "forked", interface, tags, monkeypatch))
    assert family in forked_here.servers
    with monkeypatch.context() as fresh_start:
        fresh_start.setattr(warm, "take", lambda argv, log: None)  # started with its command line, as hih does
        fresh = run_modules(one_run(tmp_path, "fresh", interface, tags, monkeypatch))

    added = set(forked["start"]) - plain_start
    assert "harness.plugin" in added, "the family's server imported hih's plugins ahead"
    unknown = added - set(fresh["exit"])
    assert not unknown, f"modules a fresh {interface} run does not import: {unknown}"
    argv = fresh["argv"]
    plugins = [v for o, v in zip(argv, argv[1:], strict=False) if o == "-p" and not v.startswith("no:")]
    assert {p: fresh["exit"].get(p) for p in plugins} == {p: forked["exit"].get(p) for p in plugins}
    assert all(forked["start"][p] == "AssertionRewritingHook" for p in plugins if p in added), forked["start"]
    log = (tmp_path / "forked" / "reports" / "pytest.log").read_text(encoding="utf-8")
    assert "PytestAssertRewriteWarning" not in log, log


PROBE_PLUGIN = """
def check(value):
    expected = {"total": 2}
    assert {"total": value} == expected
"""
PROBE_TEST = """
import probe_plugin

def test_checks():
    probe_plugin.check(1)
"""


def failure(text: str) -> list[str]:
    """The `E` lines of pytest's failure report, without addresses."""
    return [re.sub(r"0x[0-9a-f]+", "0x", line) for line in text.splitlines() if line.startswith("E ")]


@pytest.mark.parametrize("ahead", ["rewritten", "imported"])
def test_a_plugin_imported_ahead_reports_a_failed_assert_as_a_fresh_process_does(
        ahead: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin's assertion, failing in a test: the same report from a process forked from a server that imported the
    plugin through pytest's rewriting hook as from a fresh one; imported plainly instead, pytest warns and cannot
    explain the assertion (what the check tells apart)."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "probe_plugin.py").write_text(PROBE_PLUGIN, encoding="utf-8")
    (tmp_path / "test_probe.py").write_text(PROBE_TEST, encoding="utf-8")
    argv = ["-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), "--disable-plugin-autoload",
            "-p", "no:cacheprovider", "-p", "probe_plugin", "-q", "test_probe.py"]
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    monkeypatch.chdir(tmp_path)
    fresh = subprocess.run([sys.executable, "-m", "pytest", *argv], capture_output=True, text=True, env=env,
                           timeout=120, check=False)
    assert fresh.returncode == 1, fresh.stdout
    family = Family(ahead, tuple(argv[:8]), (), (str(tmp_path),)) if ahead == "rewritten" \
        else Family(ahead, (), ("probe_plugin",), (str(tmp_path),))
    server = Server(tmp_path / "server", family)
    try:
        process = server.fork({"argv": argv, "log": str(tmp_path / "log"), "env": env, "cwd": str(tmp_path)}, argv)
        assert process.wait(120) == 1
    finally:
        server.close()
    log = (tmp_path / "log").read_text(encoding="utf-8")
    assert "assert {'total': 1} == {'total': 2}" in fresh.stdout, fresh.stdout
    if ahead == "rewritten":
        assert failure(log) == failure(fresh.stdout), log
        assert "PytestAssertRewriteWarning" not in log, log
    else:
        assert failure(log) != failure(fresh.stdout)
        assert "PytestAssertRewriteWarning: Module already imported so cannot be rewritten; probe_plugin" in log, log


def run_argv(*contracts: str) -> list[str]:
    """The parts of a run's pytest command line that choose its family."""
    return ["-c", "ini", "--disable-plugin-autoload", "-p", "harness.plugin", "--hih-events", "events.jsonl",
            *[arg for c in contracts for arg in ("--hih-contract", c)], "features"]


def test_each_order_goes_to_its_family(tmp_path: Path) -> None:
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    assert family_of(["-q", "test_x.py"], env, str(tmp_path)).name == "plain"
    assert family_of(run_argv("lis=2024.1"), env, str(tmp_path)).name == "hl7@2.5.1"
    assert family_of(run_argv("lis=2023.1"), env, str(tmp_path)).name == "hl7@2.4"
    assert family_of(run_argv("pacs=2024.1"), env, str(tmp_path)).name == "hl7@2.4@2.5.1"
    assert "hl7apy.v2_4" in family_of(run_argv("pacs=2024.1"), env, str(tmp_path)).modules
    assert family_of(run_argv("blood-center=2025.1"), env, str(tmp_path)).name == "soap"
    assert family_of(run_argv("mch-platform=2025.1"), env, str(tmp_path)).name == "soap"
    assert family_of(run_argv("insurance=2024.1"), env, str(tmp_path)).name == "insurance"
    both = family_of(run_argv("lis=2024.1", "insurance=2024.1"), env, str(tmp_path))
    assert both.name == "hl7@2.5.1+insurance"
    assert both.pytest_args == ("-c", "ini", "--disable-plugin-autoload", "-p", "harness.plugin")
    assert len(both.modules) == len(set(both.modules)), "a module the two families share is imported once"
    assert {"mocks.insurance", "hl7apy.v2_5_1", "mocks.transport.mllp"} <= set(both.modules)
    every = family_of(run_argv("pacs=2024.1", "blood-center=2025.1", "lis=2024.1", "insurance=2024.1"), env,
                      str(tmp_path))
    assert every.name == "hl7@2.4@2.5.1+insurance+soap"
    assert family_of(run_argv("blood-center=2025.1", "mch-platform=2025.1"), env, str(tmp_path)).name == "soap"
    assert family_of(run_argv("lis=2024.1", "x-ray=1"), env, str(tmp_path)).name == "run", "an unknown interface"
    assert family_of(run_argv(), env, str(tmp_path)).name == "run"
    assert family_of(run_argv("lis=2024.1"), {}, str(tmp_path)).name == "plain", "this checkout not on its path"
    (tmp_path / "mocks").mkdir()
    assert family_of(run_argv("lis=2024.1"), env, str(tmp_path)).name == "plain", "another `mocks` comes first"


def test_a_test_process_keeps_a_bounded_number_of_servers(tmp_path: Path) -> None:
    servers = ForkServer(tmp_path)
    others = [f"f{i}" for i in range(MAX_SERVERS - 1)]
    chosen = [servers.server(Family(name)).family.name for name in ["plain", "run", *others]]
    assert len(servers.servers) == MAX_SERVERS
    assert chosen[-1] == "run" and chosen[2] == "f0"
    servers.make_room({"g0", "g1", "f5"})
    assert list(servers.servers) == ["plain", "run", *others[2:-1]], "the two oldest others end, not a wanted one"
    assert [servers.server(Family(name)).family.name for name in ("g0", "g1", "g2")] == ["g0", "g1", "run"]
    assert len(servers.servers) == MAX_SERVERS
    servers.close()
