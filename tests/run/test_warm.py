"""The pytest process `hih run` starts before its command line is known: it runs the command it is given, with
its output in the log, exactly as one started with that command (no assertion left unrewritten); one nobody takes
is ended, and one whose parent is gone ends by itself."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.run import warm
from tests.served import awaited, end

pytestmark = pytest.mark.fresh_processes  # the warm process itself, as `hih run` starts it

@pytest.fixture(autouse=True)
def nothing_left() -> Iterator[None]:
    yield
    warm.discard()


def test_hih_run_uses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.cli import main

    taken: list[subprocess.Popen[bytes] | None] = []
    original = warm.take

    def spy(argv: list[str], log: Path) -> subprocess.Popen[bytes] | None:
        taken.append(original(argv, log))
        return taken[-1]

    monkeypatch.setattr(warm, "take", spy)
    monkeypatch.setenv("HIH_HISTORY", "off")
    code = main(["run", "--interface", "blood-center", "--tags", "@auth", "--report-dir", str(tmp_path / "r"),
                 "--no-signoff-pdf"])
    assert code == 0
    assert taken and taken[0] is not None
    log = (tmp_path / "r" / "pytest.log").read_text(encoding="utf-8")
    assert " passed" in log and "cannot be rewritten" not in log
    assert not warm._WARM


def test_one_nobody_takes_is_ended() -> None:
    warm.prestart()
    (process,) = warm._WARM
    root = Path(warm._ROOTS[process.pid])
    warm.discard()
    assert process.poll() is not None and not warm._WARM
    assert not root.exists(), "its work root is removed with it"


def test_one_that_died_is_passed_over(tmp_path: Path) -> None:
    warm.prestart()
    (process,) = warm._WARM
    process.kill()
    process.wait()
    assert warm.take(["-q"], tmp_path / "pytest.log") is None


def test_it_ends_when_its_parent_is_gone() -> None:
    env = warm.child_env()
    started = warm.track(subprocess.Popen([sys.executable, warm.__file__], stdin=subprocess.PIPE,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env), env)
    assert started.stdin is not None
    try:
        time.sleep(0.2)
        started.stdin.close()  # what the parent's exit does
        code = awaited(started, 60)
    finally:
        end(started)
        warm.release(started)
    assert code == 0


def test_waiting_tells_a_command_line_or_end_of_file_from_nothing_yet() -> None:
    """The imports made while waiting stop as soon as the command line (or end-of-file) can be read."""
    import os

    read, write = os.pipe()
    with os.fdopen(read, "rb") as reader:
        assert not warm.waiting(reader)
        os.write(write, b'{"argv": []}\n')
        assert warm.waiting(reader)
        reader.readline()
        assert not warm.waiting(reader)
        os.close(write)
        assert warm.waiting(reader), "end-of-file: nobody needs the process"


def test_pytest_writes_its_log_a_line_at_a_time_even_when_told_unbuffered(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Under PYTHONUNBUFFERED each progress character would be a system call (the interpreter lock handed to the
    mock's thread each time); a line at a time keeps every finished line in the log as soon as it ends."""
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "test_probe.py").write_text(
        "import sys\n"
        "def test_stdout():\n"
        "    print(sys.__stdout__.write_through, sys.__stdout__.line_buffering, file=sys.__stderr__)\n",
        encoding="utf-8")
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    warm.prestart()
    log = tmp_path / "pytest.log"
    process = warm.take(["-p", "no:cacheprovider", "-p", "no:randomly", "-p", "harness.run.lean", "-q", "-s",
                         str(probe)], log)
    assert process is not None
    assert process.wait(120) == 0
    warm.release(process)  # its work root goes, as after a run
    text = log.read_text(encoding="utf-8")
    assert "False True" in text, text
    assert "1 passed" in text, "the session's last line is in the log"
    script = "import sys, harness.run.lean; print(sys.stdout.write_through, sys.stdout.line_buffering)"
    done = subprocess.run([sys.executable, "-u", "-c", script],
                          check=True, capture_output=True, text=True, timeout=60, cwd=Path(warm.__file__).parents[2])
    assert done.stdout.split() == ["False", "True"], "a process started with its command line does it in its lean plugin"


def highlighted(folder: Path) -> Path:
    """A failing test whose traceback pytest colours where its output has colours; it notes beside itself whether
    Pygments was loaded when it ran. Beside it a passing test that imports hih (the checkout is on the process's
    import path)."""
    folder.mkdir()
    (folder / "test_colours.py").write_text(
        "import sys\n"
        "import harness.errors\n"
        "def test_passes():\n"
        "    assert harness.errors.UsageError\n"
        "def test_fails():\n"
        "    loaded = any(name.split('.')[0] == 'pygments' for name in sys.modules)\n"
        "    with open(__file__ + '.loaded', 'a', encoding='utf-8') as out:\n"
        "        out.write(f'{loaded}\\n')\n"
        "    value = {'id': 1}\n"
        "    assert value == {'id': 2}\n", encoding="utf-8")
    return folder


def _failure(text: str) -> str:
    """The failure's section of pytest's output, without the summary's timing."""
    return text[text.index("FAILURES"):text.rindex("short test summary")]


@pytest.mark.parametrize("colours", ["0", "1"])
def test_the_warm_process_runs_the_command_it_is_given_and_writes_the_log_a_fresh_one_would(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, colours: str) -> None:
    """The warm process runs the command it is given, its test modules' assertions rewritten, and is taken once; its
    work root goes when the run releases it. It gives pytest's terminal writer stand-ins for Pygments: a log without
    colours never loads it, a log with colours (PY_COLORS=1) loads it at the first traceback; either way the log is
    the one a pytest process started with the command line writes."""
    monkeypatch.setenv("PY_COLORS", colours)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    folder = highlighted(tmp_path / "specs")
    argv = ["-p", "no:cacheprovider", "-p", "no:randomly", "-rf", str(folder)]
    warm.prestart()
    log = tmp_path / "pytest.log"
    process = warm.take(argv, log)
    assert process is not None
    assert process.wait(120) == 1
    assert warm.take(["-q"], log) is None  # one per run: the next pytest process starts with its command line
    root = Path(warm._ROOTS[process.pid])
    assert root.is_dir() and root.name.startswith("hih-run-")
    warm.release(process)  # what the run does once the process has ended: its work root goes
    assert not root.exists() and process.pid not in warm._ROOTS
    text = log.read_text(encoding="utf-8")
    assert "1 failed, 1 passed" in re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert "cannot be rewritten" not in text and "Warning" not in text
    env = warm.child_env()
    shutil.rmtree(env.pop(warm.WORK_ROOT_ENV), ignore_errors=True)  # only the warm process's is released by the run
    direct = subprocess.run([sys.executable, "-m", "pytest", *argv], capture_output=True, text=True, timeout=120,
                            env=env, check=False)
    assert direct.returncode == 1
    assert _failure(text) == _failure(direct.stdout)
    # pytest's start and the test's call in the warm process: no traceback coloured yet (a process started with the
    # command line imports Pygments with pytest)
    assert (folder / "test_colours.py.loaded").read_text(encoding="utf-8").split() == ["False", "True"]
    assert "assert {'id': 1} == {'id': 2}" in re.sub(r"\x1b\[[0-9;]*m", "", _failure(text))
    assert ("\x1b[" in _failure(text)) is (colours == "1")
