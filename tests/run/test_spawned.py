"""The warm pytest process started by `os.posix_spawn` (harness.run.warm.start, harness.run.spawned) rather than by
`subprocess.Popen`, so that subprocess is imported after it has started.

Oracle: `subprocess.Popen(argv, stdin=PIPE, stdout=DEVNULL, stderr=DEVNULL, env=env, start_new_session=True)`, how
the warm process was started before: the same program sees the same session, descriptors (a descriptor the parent
let be inherited is closed in both), standard output and error, ignored and blocked signals; and the handle answers
as Popen's does (poll, wait with and without a timeout, kill, the exit status, the pipe to its standard input).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.run import spawned, warm

pytestmark = pytest.mark.skipif(not hasattr(os, "posix_spawn") or not os.path.isdir("/proc/self/fd"),
                                reason="posix_spawn and /proc: Linux")

PROBES = {
    "status": 'exec /bin/cat /proc/self/status /proc/self/stat > "$1"',  # signals, session: as the program starts
    "fds": 'exec /bin/ls -l /proc/self/fd > "$1"',  # its descriptors and where they lead
    "input": 'exec /bin/cat > "$1"',  # what comes down the pipe
}


def popen(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env, start_new_session=True)


def seen(starter: Callable[[list[str], dict[str, str]], subprocess.Popen[bytes]], folder: Path) -> dict[str, object]:
    """What each probe program reports of itself when `starter` starts it, its input `hello`."""
    found: dict[str, object] = {}
    for name, script in PROBES.items():
        out = folder / name
        process = starter(["/bin/sh", "-c", script, "probe", str(out)], dict(os.environ))
        assert process.stdin is not None
        if name == "input":
            process.stdin.write(b"hello")
        process.stdin.close()
        assert process.wait(60) == 0
        found[name] = out.read_text(encoding="utf-8")
    lines = str(found["status"]).splitlines()
    stat = lines[-1].rpartition(")")[2].split()  # state, ppid, pgrp, session, ...
    pid = lines[-1].split()[0]
    found["status"] = [line for line in lines if line.startswith(("SigIgn", "SigBlk", "SigCgt"))] + \
        [f"own session {stat[3] == pid}", f"own group {stat[2] == pid}"]
    found["fds"] = sorted(re.sub(r"^.*:\d\d (\d+) -> (\w+:)?\[?([^\]]*?)\]?$", r"\1 \2\3", line)
                          for line in str(found["fds"]).splitlines()[1:])
    found["fds"] = [re.sub(r"pipe:\d+", "pipe", re.sub(r"/proc/\d+/", "/proc/N/", line).replace(str(folder), "DIR"))
                    for line in found["fds"]]  # type: ignore[attr-defined]
    return found


def test_the_program_sees_what_popen_gives_it(tmp_path: Path) -> None:
    inherited_r, inherited_w = os.pipe()
    os.set_inheritable(inherited_r, True)  # a descriptor the caller let be inherited: Popen closes it
    (tmp_path / "popen").mkdir()
    (tmp_path / "start").mkdir()
    try:
        by_popen, by_start = seen(popen, tmp_path / "popen"), seen(warm.start, tmp_path / "start")
    finally:
        os.close(inherited_r)
        os.close(inherited_w)
    assert by_popen["input"] == "hello"
    assert "own session True" in by_popen["status"] and "0 pipe" in by_popen["fds"], by_popen  # type: ignore[operator]
    assert "2 /dev/null" in by_popen["fds"], by_popen  # type: ignore[operator]
    assert by_start == by_popen


def test_the_handle_answers_as_popens(tmp_path: Path) -> None:
    env = dict(os.environ)
    for starter in (popen, warm.start):
        sleeper = starter(["/bin/sleep", "30"], env)
        assert sleeper.stdin is not None
        sleeper.stdin.close()
        assert sleeper.poll() is None
        with pytest.raises(subprocess.TimeoutExpired):
            sleeper.wait(0.05)
        sleeper.kill()
        assert sleeper.wait(30) == -9 == sleeper.poll() == sleeper.returncode
        sleeper.kill()  # ended already: nothing to do
        quick = starter(["/bin/sh", "-c", "exit 3"], env)
        assert quick.wait() == 3 and quick.poll() == 3
        assert quick.stdin is not None
        quick.stdin.close()
    done = warm.start(["/bin/true"], env)
    assert isinstance(done, spawned.Spawned) and done.stdin is not None
    done.stdin.close()
    assert done.wait(30) == 0


def test_a_program_that_cannot_start_is_an_oserror() -> None:
    with pytest.raises(OSError):
        warm.start([str(Path(sys.executable).with_name("no-such-program"))], dict(os.environ))
