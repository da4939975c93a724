"""Ending without tearing the interpreter down: `hih` and a run's pytest processes still run the atexit handlers,
flush every line, keep their exit status, and wait for a thread that is still working."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

HIH = Path(sys.executable).with_name("hih")


def python(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_hih_output_is_whole_and_the_status_kept() -> None:
    done = subprocess.run([str(HIH), "contract", "show", "lis", "--format", "json"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.encode()) > 8192  # more than the output buffer: its last part is written by the final flush
    assert json.loads(done.stdout)["interface"] == "lis"
    bad = subprocess.run([str(HIH), "contract", "show", "lab"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert bad.returncode == 2 and bad.stderr.startswith("hih: error: unknown interface 'lab'")


def test_atexit_handlers_run_and_the_code_is_kept() -> None:
    done = python("import atexit; from harness.cli import quick_exit; "
                  "atexit.register(lambda: print('atexit ran')); print('before', end=' '); quick_exit(3)")
    assert (done.returncode, done.stdout) == (3, "before atexit ran\n")


def test_a_working_thread_is_waited_for() -> None:
    done = python("import threading, time; from harness.cli import quick_exit; "
                  "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done'))).start(); quick_exit(4)")
    assert (done.returncode, done.stdout) == (4, "thread done\n")


def test_a_run_process_writes_everything_before_it_ends(tmp_path: Path) -> None:
    tests = tmp_path / "specs"
    tests.mkdir()
    (tests / "test_one.py").write_text(
        "import atexit\n"
        "atexit.register(lambda: open(r'%s', 'w').write('ran'))\n"
        "def test_passes():\n    assert True\n"
        "def test_fails():\n    assert 1 == 2\n" % (tmp_path / "atexit.txt"), encoding="utf-8")
    events, junit = tmp_path / "events.jsonl", tmp_path / "junit.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "harness.run.collector", "--hih-events", str(events),
                           "--hih-quick-exit", "--junitxml", str(junit), "-p", "no:cacheprovider", "-p", "no:randomly",
                           "-q", str(tests)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.rstrip().splitlines()[-1].startswith("1 failed, 1 passed")
    last = json.loads(events.read_text(encoding="utf-8").splitlines()[-1])
    assert (last["event"], last["exitstatus"]) == ("finished", 1)
    assert junit.read_text(encoding="utf-8").count("<testcase") == 2 and "<failure" in junit.read_text(encoding="utf-8")
    assert (tmp_path / "atexit.txt").read_text(encoding="utf-8") == "ran"
