"""The pytest processes of a run: one per lane (harness.run.lanes), started side by side, followed through their
event streams, stopped in order when the run is cancelled or out of time, and started again when the deadline
ended one with scenarios left (a segment). Their junit.xml, cucumber.json, events and logs become the run's.

Each process writes its files into `parts/` of the report's working directory as `<kind>.<lane>-<segment>.<ext>`;
`collect` puts them together and removes the folder.
"""

from __future__ import annotations

import functools
import json
import os
import select as selecting
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.run import warm
from harness.run.events import EventReader
from harness.run.exits import EXIT_STUCK
from harness.run.lanes import Lane
from harness.run.options import PROJECT_ROOT, RunPlan
from harness.run.progress import RunProgress
from harness.run.results import Outcome

if TYPE_CHECKING:
    from rich.console import Console

INI = Path(__file__).with_name("pytest-run.ini")
PARTS = "parts"
DEADLINE_LOG = "deadline.jsonl"
POLL_S = 0.05
SETTLING_POLL_S = 0.005
"""Once every collected scenario has its result, the processes are writing their last files: the run reads their
events this often, to take each one's last word (`finished`) as soon as it is written. So it does while the last
scenario runs when something waits for its result (`at_last_result`: the sign-off's side process, which the end of
the run then waits on, starts that much sooner than at the next 50 ms poll)."""
STOP_GRACE_S = 5.0
PLUGINS = ("harness.run.lean", "pytest_bdd.plugin", "harness.feature_cache", "harness.guards", "harness.held_clock",
           "harness.plugin", "harness.step_cache", "harness.traceback_cache")
"""The installed pytest plugins a spec run uses (and pytest-xdist's, when a lane has several workers), named with -p:
the run's pytest processes load no plugin from entry points (`--disable-plugin-autoload`). Reading every installed
distribution's entry points, and marking each plugin's package for assertion rewriting, cost each process ≈ 11 ms;
and a plugin the specs never use (respx, anyio, Hypothesis', hih-containers: fixtures for a hospital's own tests)
costs nothing. harness.run.lean comes first: it keeps out what the others would import for nothing, and loads the
plugins named after it (these, the collector, the deadline's, pytest-xdist's) without the entry-point search pytest
makes for each `-p` name;
harness.feature_cache keeps the feature files' parsed Gherkin between runs; harness.step_cache finds each step text's
definitions once per test module; harness.traceback_cache parses a source file once per process for the tracebacks of
failed scenarios. Each of hih's plugin modules is named
before a module that imports it (harness.plugin imports harness.guards and harness.held_clock,
harness.run.collector imports harness.plugin): pytest rewrites a plugin's assertions as it imports it."""


@dataclass
class Files:
    """Where one pytest process of the run writes."""

    events: Path
    junit: Path
    cucumber: Path
    log: Path
    done: Path | None = None
    """The node ids already run, to leave out (a later segment)."""

    @classmethod
    def in_folder(cls, folder: Path) -> Files:
        """The names a report directory gives them."""
        return cls(folder / "events.jsonl", folder / "junit.xml", folder / "cucumber.json", folder / "pytest.log")


BLOCKED = ("cacheprovider", "unittest", "debugging", "pastebin", "stepwise", "setuponly", "setupplan", "doctest",
           "legacypath", "subtests")
"""pytest's own plugins that a spec run never uses (the cache of --lf, unittest test cases, --pdb, the paste service,
--stepwise, --setup-only/--setup-plan, doctests, the py.path-based `tmpdir`/`testdir` fixtures and attributes of
legacypath, the `subtests` fixture), blocked with `-p no:NAME` on the command line, where pytest reads it
before it imports its built-in plugins (the same in pytest-run.ini's addopts only unregisters them once imported):
each pytest process imports and registers less before its first scenario (`pdb` behind --pdb is no longer imported;
≈ 20 ms of CPU for pytest alone on an empty folder; `unittest` comes in a spec run only with time-machine, at a
scenario's first held clock; legacypath and subtests are imported with pytest, blocking them leaves their hooks,
fixtures and ini types unregistered: ≈ 8 M instructions of each process's start)."""


def pytest_command(p: RunPlan, files: Files, deadline_log: Path, lane: Lane | None = None,
                   select: Path | None = None) -> list[str]:
    """The command line of one pytest process: the lane's interfaces (all of the plan's by default)."""
    lane = lane or Lane(0, list(p.versions), p.workers)
    args = [sys.executable, "-m", "pytest", "-c", str(INI), "--rootdir", str(PROJECT_ROOT), "--disable-plugin-autoload",
            *[arg for name in BLOCKED for arg in ("-p", f"no:{name}")], *[arg for plugin in PLUGINS for arg in ("-p", plugin)], "-p", "harness.run.collector", "--hih-events", str(files.events),
            "--junitxml", str(files.junit), "-o", "junit_suite_name=hih", "-q", "-rfE",
            "--cucumberjson", str(files.cucumber),
            "-p", "harness.run.deadline", "--hih-scenario-timeout", f"{p.scenario_timeout_s:g}",
            "--hih-deadline-log", str(deadline_log), "--hih-parent-pid", str(os.getpid()), "--hih-quick-exit"]
    if files.done is not None:
        args += ["--hih-done", str(files.done)]
    for name in lane.interfaces:
        args += ["--hih-contract", f"{name}={p.versions[name]}", "--hih-connector", f"{name}={p.connectors[name]}"]
    # `execute` checks these contracts beside the process's start (Beside) and raises that check's error: the process
    # need not check them again (on a cold cache it would, at the same moment)
    args += ["--hih-contracts-checked"]
    if p.options.contracts_dir:
        args += ["--hih-contracts-dir", str(p.options.contracts_dir)]
    if p.markexpr:
        args += ["-m", p.markexpr]
    if select is not None:  # --changed-since: the child keeps only the scenarios listed in this file
        args += ["-p", "harness.run.selection", "--hih-select", str(select)]
    if lane.workers > 1:
        args += ["-p", "xdist.plugin", "-n", str(lane.workers), "--dist", "load"]
    args += [str(p.feature_dirs[name]) for name in lane.interfaces]
    return args


@dataclass
class Runner:
    """One lane's pytest process, segment after segment."""

    lane: Lane
    parts: Path
    segment: int = 0
    process: subprocess.Popen[bytes] | None = None
    readers: list[EventReader] = field(default_factory=list)
    nodeids: set[str] = field(default_factory=set)
    returncodes: list[int] = field(default_factory=list)
    last_at: float | None = None
    exit_fd: int | None = None
    """Readable once the running process has exited (a pidfd, on Linux), so the run learns of it at once."""
    said_finished: int | None = None
    """The exit status the running segment's `finished` event gave: its last word before it exits (QuickExit)."""

    def files(self, segment: int) -> Files:
        tag = f"{self.lane.index}-{segment}"
        return Files(self.parts / f"events.{tag}.jsonl", self.parts / f"junit.{tag}.xml",
                     self.parts / f"cucumber.{tag}.json", self.parts / f"pytest.{tag}.log",
                     self.parts / f"done.{tag}.json" if segment else None)

    def start(self, p: RunPlan, work: Path, select: Path | None) -> None:
        files = self.files(self.segment)
        files.events.touch()
        self.readers.append(EventReader(files.events))
        command = pytest_command(p, files, work / DEADLINE_LOG, self.lane, select)
        self.process = warm.take(command[3:], files.log)  # the one `hih run` started at once, when still there
        if self.process is None:
            with files.log.open("wb") as log:
                # its own process group: a cancel stops pytest and its xdist workers together, and a Ctrl-C on the
                # terminal reaches hih first, which then stops pytest in order
                env = warm.child_env()
                self.process = warm.track(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                                           stdin=subprocess.DEVNULL, cwd=os.getcwd(), env=env,
                                                           start_new_session=True), env)
        self.exit_fd = _pidfd(self.process.pid)
        self.said_finished = None

    @property
    def over(self) -> bool:
        """The running segment has exited, or said its last word (everything it writes is written)."""
        return self.process is not None and (self.said_finished is not None or not self.running)

    def returncode(self) -> int:
        """The segment's exit status: the process's own once it has exited, else the one it said it exits with."""
        assert self.process is not None
        code = self.process.poll()
        if code is None and self.said_finished is not None:
            return self.said_finished
        return int(code) if code is not None else 0

    def ended(self) -> None:
        """The process has ended, said its last word, or is given up: its work root goes (emptied by the process
        before its last word), and so does the watch on its exit. One still exiting is reaped later (warm.reap)."""
        if self.process is not None:
            warm.release(self.process)
            if self.process.poll() is None and self.said_finished is not None:
                warm.exiting(self.process)
        self.process = None
        if self.exit_fd is not None:
            os.close(self.exit_fd)
            self.exit_fd = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def follow(self, outcome: Outcome, progress: RunProgress, p: RunPlan) -> None:
        from harness.report.html import prepare_exchanges  # the reports' thread imports it as the run starts

        for event in self.readers[-1].poll() if self.readers else ():
            if event.get("event") == "collected" and isinstance(event.get("keys"), list):
                self.nodeids.update(str(n) for n in event["keys"])
            if event.get("event") == "finished" and isinstance(event.get("exitstatus"), int):
                self.said_finished = int(event["exitstatus"])
            result = outcome.absorb(event)
            if result is not None:
                if not result.interface:
                    result.interface = interface_for(result.nodeid, p)
                progress.result(result)
                outcome.evidence_json.add(result.nodeid, result.evidence)  # while pytest runs, not after
                prepare_exchanges(result.evidence)  # report.html's forms of its messages, likewise
            self._clock(event, result.interface if result is not None else None, outcome)

    def _clock(self, event: dict[str, Any], interface: str | None, outcome: Outcome) -> None:
        """Time between this process's events goes to the interface of the result that ends it."""
        at = event.get("at")
        if not isinstance(at, int | float):
            return
        if interface and self.last_at is not None and self.lane.workers == 1:
            outcome.walls[interface] = outcome.walls.get(interface, 0.0) + max(0.0, at - self.last_at)
        self.last_at = float(at)

    def again(self, outcome: Outcome, work: Path) -> bool:
        """The process has exited: start another segment if the deadline ended it with scenarios left."""
        if self.returncodes[-1] != EXIT_STUCK or self.segment + 1 > len(self.nodeids):
            return False
        done = outcome.done | deadline_keys(work / DEADLINE_LOG)
        if not [n for n in self.nodeids if n not in done]:
            return False
        self.segment += 1
        path = self.files(self.segment).done
        assert path is not None
        path.write_text(json.dumps(sorted(done), ensure_ascii=False), encoding="utf-8")
        return True

    def stop(self) -> None:
        """SIGINT (pytest ends its session and writes junit.xml), then SIGTERM, then SIGKILL, to the group."""
        for sig, wait in ((signal.SIGINT, STOP_GRACE_S), (signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            if self.process is None or self.process.poll() is not None:
                return
            try:
                os.killpg(self.process.pid, sig)
            except (ProcessLookupError, PermissionError):
                return
            try:
                self.process.wait(wait)
            except subprocess.TimeoutExpired:
                continue


def deadline_keys(log: Path) -> set[str]:
    """Keys of the scenarios whose process the deadline ended."""
    try:
        return {str(json.loads(line)["key"]) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def interface_for(nodeid: str, p: RunPlan) -> str:
    """The interface whose feature folder holds a node id's file ("" when none does)."""
    return _interface_of_file(nodeid.split("::", 1)[0], tuple(p.feature_dirs.items()))


@functools.lru_cache(maxsize=4096)
def _interface_of_file(file: str, feature_dirs: tuple[tuple[str, Path], ...]) -> str:
    path = (PROJECT_ROOT / file).resolve()
    for name, folder in feature_dirs:
        if path.is_relative_to(folder.resolve()):
            return name
    return ""


class Beside(threading.Thread):
    """Work the parent does while pytest runs (checking the contract files); its exception stops the run."""

    def __init__(self, work: Callable[[], None]) -> None:
        super().__init__(name="hih-beside", daemon=True)
        self._work = work
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            self.error = exc


def execute(p: RunPlan, lanes: list[Lane], work: Path, select: Path | None, console: Console,
            beside: Beside | None = None,
            at_last_result: Callable[[Outcome], None] | None = None,
            started: Callable[[], None] | None = None,
            near_last_result: Callable[[Outcome], None] | None = None) -> tuple[Outcome, int, int]:
    """Run the lanes' pytest processes until they end, the run is cancelled or runs out of time; then collect
    their files. Returns the outcome, one exit status for the run (pytest's codes: 0, 1, 5, or another) and how
    many pytest processes ran. An error of the `beside` work stops the processes and is raised. `at_last_result`
    is called once, when every process has collected and every scenario collected has its result (the processes
    are then writing their files and exiting), unless the run was stopped first. `started` is called once every
    lane's pytest process has been started (and told its command line), before `at_last_result` can be.
    `near_last_result` is called at each look at the events while every process has collected and some scenarios
    have no result yet, unless the run was stopped (the sign-off's side process, started on the prediction that
    they pass)."""
    outcome = Outcome()
    parts = work / PARTS
    parts.mkdir()
    runners = [Runner(lane, parts) for lane in lanes]
    limit = time.monotonic() + p.timeout_s if p.timeout_s else None
    counted = 0
    with RunProgress(console) as progress, cancellable() as cancel:
        try:
            for runner in runners:
                runner.start(p, work, select)
            if started is not None:
                started()
            if beside is not None:
                beside.start()
            while any(r.process is not None for r in runners):
                if beside is not None and beside.error is not None:
                    raise beside.error
                for runner in runners:
                    runner.follow(outcome, progress, p)
                    if runner.over:
                        runner.follow(outcome, progress, p)
                        runner.returncodes.append(runner.returncode())
                        restart = outcome.incomplete is None and not outcome.connector_errors and \
                            runner.again(outcome, work)
                        runner.ended()
                        if restart:
                            runner.start(p, work, select)
                if len(outcome.nodeids) != counted and all(r.nodeids or r.process is None for r in runners):
                    counted = len(outcome.nodeids)  # every process has collected: the totals are known
                    progress.collected(Counter(interface_for(n, p) for n in outcome.shown.values()))
                reason = ("connector factory raised" if outcome.connector_errors else cancel.reason
                          or (f"the run's --timeout of {p.timeout_s:g} s was reached"
                              if limit is not None and time.monotonic() >= limit else None))
                if reason is not None and outcome.incomplete is None:
                    outcome.incomplete = reason
                    _stop_all(runners)
                progress.tick()
                left = len(outcome.nodeids) - len(outcome.done) if outcome.nodeids else None
                if near_last_result is not None and left is not None and left > 0 and \
                        counted == len(outcome.nodeids) and outcome.incomplete is None:
                    near_last_result(outcome)
                if left is not None and left <= 0 and at_last_result is not None and \
                        counted == len(outcome.nodeids) and outcome.incomplete is None:
                    at_last_result(outcome)
                    at_last_result = None
                _nap(runners, _pause(left, at_last_result is not None))
        except BaseException:
            _stop_all(runners)
            for runner in runners:
                runner.ended()
            raise
        finally:
            for runner in runners:
                runner.follow(outcome, progress, p)
                for reader in runner.readers:
                    reader.finish()
                    reader.close()
                    outcome.damaged.extend(reader.damaged)
    if beside is not None:
        beside.join()  # the contract files' check: reading and checking local files, no wait of its own
        if beside.error is not None:
            raise beside.error
    collect(runners, work)
    codes = [code for r in runners for code in r.returncodes]
    return outcome, _status(codes), len(codes)


def _pause(left: int | None, waiting_for_last: bool) -> float:
    """How long to wait before the next look at the events: `left` scenarios collected and without a result (None
    before any is collected); `waiting_for_last`: something is to be done at the last result."""
    if left is not None and (left <= 0 or (left == 1 and waiting_for_last)):
        return SETTLING_POLL_S
    return POLL_S


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when process `pid` exits; None where the system has none (not Linux,
    a kernel before 5.3): the run then notices an exit at its next poll."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _nap(runners: list[Runner], seconds: float) -> None:
    """Wait `seconds` between polls of the event streams, or less: until a running process exits. Nothing to
    wait for once every process has ended (the run goes on to its reports at once)."""
    running = [r for r in runners if r.process is not None]
    if not running:
        return
    fds = [r.exit_fd for r in running if r.exit_fd is not None]
    if fds:
        selecting.select(fds, [], [], seconds)
    else:
        time.sleep(seconds)


def _stop_all(runners: list[Runner]) -> None:
    threads = [threading.Thread(target=r.stop, daemon=True) for r in runners if r.running]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(STOP_GRACE_S + 10)


def _status(codes: list[int]) -> int:
    """One exit status for several pytest processes: the first unusual one, else 1 if any failed, 5 if none ran."""
    unusual = [c for c in codes if c not in (0, 1, 5)]
    if unusual:
        return unusual[0]
    if 1 in codes:
        return 1
    return 5 if codes and all(c == 5 for c in codes) else 0


def collect(runners: list[Runner], work: Path) -> None:
    """The parts as the run's junit.xml, cucumber.json, events.jsonl and pytest.log; the parts folder goes."""
    files = [r.files(s) for r in runners for s in range(r.segment + 1)]
    if len(files) == 1:
        only = files[0]
        for source, target in ((only.junit, "junit.xml"), (only.cucumber, "cucumber.json"),
                               (only.events, "events.jsonl"), (only.log, "pytest.log")):
            if source.is_file():
                source.replace(work / target)
    else:
        from harness.run.combine import combine_cucumber, combine_junit  # lxml: once the scenarios ran

        combine_junit([f.junit for f in files], work / "junit.xml")
        combine_cucumber([f.cucumber for f in files], work / "cucumber.json")
        _concatenate([f.events for f in files], work / "events.jsonl", header=None)
        _concatenate([f.log for f in files], work / "pytest.log", header="==== {name} ====\n")
    for path in sorted((work / PARTS).glob("*")):
        path.unlink()
    (work / PARTS).rmdir()


def _concatenate(sources: list[Path], target: Path, header: str | None) -> None:
    with target.open("wb") as out:
        for source in sources:
            if not source.is_file():
                continue
            if header is not None:
                out.write(header.format(name=source.name).encode("utf-8"))
            with source.open("rb") as part:
                while block := part.read(1 << 20):
                    out.write(block)


class Cancel:
    reason: str | None = None


@contextmanager
def cancellable() -> Iterator[Cancel]:
    """SIGTERM and SIGINT set a reason instead of killing hih, so the partial report can be written."""
    cancel = Cancel()
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return

    def handler(signum: int, frame: Any) -> None:
        cancel.reason = f"cancelled by {signal.Signals(signum).name}"

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield cancel
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

