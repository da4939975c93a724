"""Per-scenario deadline for `hih run` (a pytest plugin): a scenario past its time fails, named, and the run goes on.

A connector that never times out would otherwise hang the whole run with no report. Each scenario gets
`--hih-scenario-timeout` seconds for its setup and steps (its teardown gets the same again). A watchdog thread
keeps the clock; at the deadline it interrupts the main thread with SIGALRM and the handler raises
`ScenarioTimeout`, a pytest failure (a BaseException: a connector's `except Exception` cannot swallow it), whose
text names the step that was running and the connector call that did not return, in Chinese (the SpecFailure
form: reason, 期望, 实际) and in English. Blocking socket reads, sleeps, lock and queue waits are all
interrupted this way.

Code that ignores the interruption (it swallows every exception, or waits inside C code that retries on signals)
is interrupted again each second; if the scenario still has not ended `grace` seconds after its deadline, the
watchdog writes the same message to the deadline log (`--hih-deadline-log`, JSON lines) and ends the process.
Under pytest-xdist the controller reports that scenario as failed and starts a new worker for the rest; the
runner puts the logged message on it. In a serial run the run ends there (the runner lists what did not run).

The plugin knows the running step through pytest-bdd's hooks and the connector call through `watch`, which the
hih plugin applies to every connector it hands to a scenario.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from harness.failure import SpecFailure
from harness.run.exits import EXIT_STUCK, GRACE_ENV

RESEND_S = 1.0
T = TypeVar("T")


class ScenarioTimeout(pytest.fail.Exception):  # type: ignore[name-defined]
    """The scenario ran past its deadline (reported as a failure with the message only, no traceback)."""

    __module__ = "builtins"  # pytest shows a failure as `<module>.<class>: message`; keep it short like pytest.fail


def grace_for(timeout_s: float) -> float:
    """How long after the deadline a scenario that ignores the interruption may still take: a quarter, 2 to 10 s."""
    return min(10.0, max(2.0, timeout_s / 4))


@dataclass
class Running:
    """The scenario a process is running now."""

    nodeid: str
    phase: str
    deadline: float
    labels: dict[str, str]
    step: str | None = None
    last_step: str | None = None
    calls: list[str] = field(default_factory=list)
    fired: float | None = None
    """When the first interruption was sent (monotonic)."""
    key: str = ""
    """The scenario's key and its node id as its reports show it, with the masking of its text, for the deadline log
    (a file of the report directory: no patient identifier may reach it)."""
    shown: str = ""
    mask: Callable[[str], str] = str


def _masked(item: pytest.Item) -> dict[str, Any]:
    """Key, shown node id and text masking of a scenario (see Running); plain when hih's plugin is not in the run."""
    from harness.plugin import SESSION
    from harness.plugin_masking import nodeid_key, scenario_masker

    key = nodeid_key(item.nodeid)
    session = item.config.stash.get(SESSION, None)
    if session is None:
        return {"key": key, "shown": item.nodeid}
    scoped = scenario_masker(item, session.masker)
    return {"key": key, "shown": scoped.nodeid(item.nodeid),
            "mask": lambda text: session.masker.text(scoped.text(text))}


def timeout_text(timeout_s: float, running: Running, stuck: bool = False) -> str:
    """The failure text: Chinese reason, 期望 and 实际 lines (SpecFailure form), then one English line."""
    seconds = f"{timeout_s:g}"
    call = running.calls[-1] if running.calls else None
    step = running.step
    if running.phase == "setup":
        where_zh, where_en = "准备场景时", "while the scenario was being set up"
    elif running.phase == "teardown":
        where_zh, where_en = "场景收尾时", "while the scenario was being torn down"
    elif step is not None:
        where_zh, where_en = f"步骤「{step}」", f'in step "{step}"'
    elif running.last_step is not None:
        where_zh, where_en = f"步骤「{running.last_step}」之后", f'after step "{running.last_step}"'
    else:
        where_zh, where_en = "第一个步骤之前", "before the first step"
    if call is not None:
        actual = f"{seconds} 秒后仍在{where_zh}等待连接器调用 {call} 返回"
        english = f"Scenario timed out after {seconds} s: {where_en}, the connector call {call} did not return."
    else:
        actual = f"{seconds} 秒后仍在{where_zh}运行（没有进行中的连接器调用）"
        english = f"Scenario timed out after {seconds} s {where_en} (no connector call in progress)."
    if stuck:
        actual += "；中止后仍未返回，进程被结束"
        english += " It ignored the interruption, so its process was ended."
    return SpecFailure(f"场景超过 {seconds} 秒时限仍未结束，已中止", expected=f"场景在 {seconds} 秒内结束",
                       actual=actual, detail=english).text()


class Deadline:
    """The plugin object: arms a deadline per test phase; a watchdog thread fires it."""

    def __init__(self, timeout_s: float, log: Path | None, grace_s: float | None = None) -> None:
        self.timeout_s = timeout_s
        self.grace_s = grace_for(timeout_s) if grace_s is None else grace_s
        self.log = log
        self.running: Running | None = None
        self._wake = threading.Condition()
        self._main = threading.main_thread().ident
        self._previous: Any = None
        self._signals = threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_kill")
        if self._signals:
            self._previous = signal.signal(signal.SIGALRM, self._on_alarm)
        self._stopped = False
        self._wake_at = 0.0
        """When the watchdog wakes next by itself (monotonic): a deadline armed later than that needs no wake-up call,
        which spares the scenario a switch to the watchdog's thread at every phase."""
        self._thread = threading.Thread(target=self._watch, name="hih-deadline", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        if self._signals:
            signal.signal(signal.SIGALRM, self._previous if self._previous is not None else signal.SIG_DFL)

    # -- arming, per phase: setup and steps share one deadline, the teardown gets its own ----------------------
    def _set(self, item: pytest.Item, phase: str, fresh: bool) -> None:
        with self._wake:
            now = time.monotonic()
            kept = self.running if self.running is not None and self.running.nodeid == item.nodeid else None
            if kept is None:
                kept = self.running = Running(item.nodeid, phase, now + self.timeout_s, {}, **_masked(item))
            else:
                kept.phase, kept.fired = phase, None
                if fresh:
                    kept.deadline = now + self.timeout_s
            if kept.deadline < self._wake_at:
                self._wake.notify()

    def _pause(self, end: bool = False) -> None:
        """Between phases nothing is interrupted; after the teardown the scenario is over. The watchdog is not woken:
        at its next wake it finds nothing to interrupt."""
        with self._wake:
            if self.running is not None:
                self.running.phase, self.running.fired, self.running.step = "between", None, None
                self.running.calls.clear()
                if end:
                    self.running = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        self._set(item, "setup", fresh=True)
        try:
            return (yield)
        finally:
            self._pause()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        self._set(item, "call", fresh=False)
        try:
            return (yield)
        finally:
            self._pause()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        self._set(item, "teardown", fresh=True)
        try:
            return (yield)
        finally:
            self._pause(end=True)

    # -- what is running -------------------------------------------------------------------------------------
    def pytest_bdd_before_scenario(self, request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
        running = self.running
        if running is not None:
            running.labels.update({"hih_feature": str(feature.name), "hih_scenario": str(scenario.name)})

    def pytest_bdd_before_step(self, request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any,
                               step_func: Any) -> None:
        running = self.running
        if running is not None:
            running.step = f"{str(step.keyword).strip()} {step.name}"

    def pytest_bdd_after_step(self, request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any,
                              step_func: Any, step_func_args: Any) -> None:
        running = self.running
        if running is not None:
            running.last_step, running.step = running.step, None

    @contextmanager
    def calling(self, label: str) -> Iterator[None]:
        running = self.running
        if running is None:
            yield
            return
        running.calls.append(label)
        try:
            yield
        finally:
            if running.calls and running.calls[-1] == label:
                running.calls.pop()

    # -- firing ------------------------------------------------------------------------------------------------
    def _on_alarm(self, signum: int, frame: Any) -> None:
        running = self.running
        if running is None or running.fired is None or running.phase not in ("setup", "call", "teardown"):
            return
        raise ScenarioTimeout(timeout_text(self.timeout_s, running), pytrace=False)

    def _watch(self) -> None:
        with self._wake:
            while not self._stopped:
                running = self.running
                now = time.monotonic()
                if running is None or running.phase not in ("setup", "call", "teardown") or now < running.deadline:
                    wait = None if running is None else max(0.01, running.deadline - now)
                    wait = min(wait, 1.0) if wait is not None and wait != float("inf") else 1.0
                    self._wake_at = now + wait
                    self._wake.wait(wait)
                    continue
                if running.fired is None or now - running.fired >= RESEND_S:
                    if running.fired is None:
                        running.fired = now
                    self._interrupt()
                if now >= running.deadline + self.grace_s or not self._signals:
                    self._give_up(running)
                self._wake_at = now + 0.1
                self._wake.wait(0.1)

    def _interrupt(self) -> None:
        if self._signals and self._main is not None:
            try:
                signal.pthread_kill(self._main, signal.SIGALRM)
            except (OSError, ValueError):  # pragma: no cover - the main thread is gone: the process is ending
                pass

    def _give_up(self, running: Running) -> None:
        """The scenario ignores the interruption: log why and end this process (xdist replaces a worker)."""
        from harness.run.report_thread import settle_all

        settle_all(GIVE_UP_SETTLE_S)  # the scenarios before this one have their events; its masker is free
        message = timeout_text(self.timeout_s, running, stuck=True)
        message = running.mask(message)
        note = {"key": running.key, "nodeid": running.shown or running.nodeid, "message": message,
                "props": {k: running.mask(v) for k, v in running.labels.items()}, "pid": os.getpid()}
        if self.log is not None:
            line = (json.dumps(note, ensure_ascii=False) + "\n").encode("utf-8")
            fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        sys.stderr.write(f"hih: {running.shown or running.nodeid}: {message}\n")
        sys.stderr.flush()
        os._exit(EXIT_STUCK)


_ACTIVE: list[Deadline] = []
GIVE_UP_SETTLE_S = 5.0
"""How long a process giving up on a stuck scenario lets its report thread finish the reports before it."""


@contextmanager
def calling(label: str) -> Iterator[None]:
    """Mark `label` (e.g. `insurance.settle()`) as the connector call in progress, for the timeout message."""
    if not _ACTIVE:
        yield
        return
    with _ACTIVE[-1].calling(label):
        yield


@functools.lru_cache(maxsize=64)
def _public_methods(cls: type) -> tuple[str, ...]:
    """The names of `cls`'s public functions: the same for every connector of a class (one built a scenario), so
    looked up once per class instead of walking `dir()` with `inspect.getattr_static` for each connector."""
    return tuple(name for name in dir(cls)
                 if not name.startswith("_") and inspect.isfunction(inspect.getattr_static(cls, name, None)))


def watch(connector: T, interface: str) -> T:
    """The connector with each public method recording itself as the call in progress (same object, same type)."""
    cls: type = type(connector)
    for name in _public_methods(cls):
        method = getattr(connector, name)
        try:
            object.__setattr__(connector, name, _recording(method, f"{interface}.{name}()"))
        except (AttributeError, TypeError):  # __slots__ or a frozen object: no call names in the message
            return connector
    return connector


def _recording(method: Callable[..., Any], label: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def recorded(*args: Any, **kwargs: Any) -> Any:
        with calling(label):
            return method(*args, **kwargs)

    return recorded


# -- pytest plugin hooks -------------------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hih")
    group.addoption("--hih-scenario-timeout", type=float, default=0.0,
                    help="fail a scenario still running after this many seconds (0: no deadline)")
    group.addoption("--hih-deadline-log", default=None, help="where a process ended by the deadline says why")
    group.addoption("--hih-scenario-grace", type=float, default=float(os.environ.get(GRACE_ENV) or 0),
                    help="how long after its deadline a scenario that ignores the interruption may still take before "
                         f"its process is ended (0: a quarter of the deadline, 2 to 10 s; default from {GRACE_ENV})")


def pytest_configure(config: pytest.Config) -> None:
    timeout = float(config.getoption("--hih-scenario-timeout") or 0)
    controller = not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", None)) and \
        getattr(config.option, "dist", "no") != "no"
    if timeout <= 0 or controller:
        return  # no deadline, or the xdist controller (its workers run the scenarios)
    log = config.getoption("--hih-deadline-log")
    grace = float(config.getoption("--hih-scenario-grace") or 0)
    deadline = Deadline(timeout, Path(log) if log else None, grace if grace > 0 else None)
    _ACTIVE.append(deadline)
    config.pluginmanager.register(deadline, "hih-deadline")


def pytest_unconfigure(config: pytest.Config) -> None:
    deadline = config.pluginmanager.get_plugin("hih-deadline")
    if isinstance(deadline, Deadline):
        deadline.stop()
        if deadline in _ACTIVE:
            _ACTIVE.remove(deadline)
