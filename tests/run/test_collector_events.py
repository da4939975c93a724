"""The collector's result events: the evidence the hih plugin serialised is written as it is, and the line is the one
encoding the whole event would give (the runner, events.jsonl and the reports read the same bytes as before)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.run import collector
from tests.served import awaited
from tests.strategies import examples, one_of

texts = st.text(alphabet=st.sampled_from(list("门诊结算撤销参保人张三ab1 \"\\/\t<>&") + ["😷", "\u2028", "\x00"]), max_size=20)
scalars = one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                 st.floats(allow_nan=False, allow_infinity=False), texts)
values = st.recursive(scalars, lambda inner: one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
                      max_leaves=20)
events = st.fixed_dictionaries({"event": st.just("result"), "nodeid": texts, "when": st.sampled_from(["call", "setup"]),
                                "status": st.sampled_from(["passed", "failed"]), "duration_s": st.floats(0, 100),
                                "message": texts, "props": st.dictionaries(texts, values, max_size=4)})


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


# The evidence is encoded as one JSON text whatever its length: up to three exchanges of up to four fields reach an
# empty list, one exchange and several (every kind of value nested in each) at about half the draws of 4 × 5.
# 50 examples: the event's own encoding planted wrong (ensure_ascii left on) was found by the 5th example or
# sooner in each of 40 seeds (bench/RESULTS.md); the evidence is written as it is, so its variety costs little.
@settings(max_examples=examples(50), deadline=None)
@given(event=events, evidence=st.lists(st.dictionaries(texts, values, max_size=4), max_size=3),
       now=st.floats(1.0e9, 4.0e9))
def test_the_line_is_the_whole_event_encoded(tmp_path_factory: pytest.TempPathFactory, event: dict[str, Any],
                                             evidence: list[dict[str, Any]], now: float) -> None:
    path = tmp_path_factory.mktemp("events") / "events.jsonl"
    writer = collector.Collector(path)
    real = collector.time
    collector.time = Clock(now)  # type: ignore[assignment]
    try:
        writer._emit(dict(event), json.dumps(evidence, ensure_ascii=False))
    finally:
        collector.time = real
        writer._out.close()
    expected = json.dumps({**event, "evidence": evidence, "at": round(now, 4)}, ensure_ascii=False)
    assert path.read_text(encoding="utf-8") == expected + "\n"


def test_events_without_evidence_are_encoded_whole(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    writer = collector.Collector(path)
    writer._emit({"event": "finished", "exitstatus": 0})
    writer._out.close()
    line = json.loads(path.read_text(encoding="utf-8"))
    assert line["event"] == "finished" and line["exitstatus"] == 0 and isinstance(line["at"], float)


def test_with_quick_exit_finished_is_the_last_word(tmp_path: Path) -> None:
    """`hih run` takes `finished` as the process's end and reads its files at once: by then junit.xml and pytest's
    summary in the log are complete, and `finished` is the last event."""
    (tmp_path / "test_two.py").write_text("def test_a():\n    pass\n\ndef test_b():\n    pass\n", encoding="utf-8")
    events, junit, log = tmp_path / "events.jsonl", tmp_path / "junit.xml", tmp_path / "pytest.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "harness.run.collector", "--hih-events", str(events),
             "--hih-quick-exit", "--junitxml", str(junit), "-p", "no:cacheprovider", "-p", "no:randomly",
             "-p", "no:xdist", str(tmp_path / "test_two.py")],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True)
    seen: list[dict[str, Any]] = []
    try:
        for _ in range(3000):  # 60 s at most
            lines = events.read_text(encoding="utf-8").splitlines() if events.exists() else []
            seen = [json.loads(line) for line in lines if line.endswith("}")]
            if seen and seen[-1]["event"] == "finished":
                break
            time.sleep(0.02)
        # read the moment `finished` is there, as the runner does: everything the process writes is written
        assert seen and seen[-1] == {**seen[-1], "event": "finished", "exitstatus": 0}
        assert [e["event"] for e in seen].count("finished") == 1
        assert 'tests="2"' in junit.read_text(encoding="utf-8")
        assert "2 passed" in log.read_text(encoding="utf-8")
    finally:
        code = awaited(process, 60)
    assert code == 0
