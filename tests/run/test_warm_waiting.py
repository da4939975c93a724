"""What the warm pytest process imports while it waits for its command line (`harness.run.warm.WHILE_WAITING`): a
process left waiting has httpcore and time-machine when its first scenario needs them; one given its command line at
once imports none of them (a run that never uses them pays nothing)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.run import warm

pytestmark = pytest.mark.fresh_processes  # the warm process itself, as `hih run` starts it

PROBE = (
    "import sys\n"
    "def test_modules():\n"
    "    with open(__file__ + '.modules', 'w', encoding='utf-8') as out:\n"
    "        out.write(' '.join(n for n in ('httpx', 'httpcore', 'h11', 'time_machine') if n in sys.modules))\n"
    "def test_a_held_clock():\n"
    "    import datetime, time_machine\n"
    "    with time_machine.travel(datetime.datetime(2026, 1, 2, 3, 4, 5), tick=False):\n"
    "        assert datetime.datetime.now() == datetime.datetime(2026, 1, 2, 3, 4, 5)\n"
)
ARGV = ["--disable-plugin-autoload", "-p", "no:cacheprovider", "-q"]
"""No plugin from entry points (as a run's processes): time-machine's pytest plugin would import it."""


@pytest.fixture(autouse=True)
def nothing_left() -> Iterator[None]:
    yield
    warm.discard()


def _mapped(pid: int, library: str) -> bool:
    """Whether process `pid` has loaded the shared library whose file name starts with `library`."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text(encoding="utf-8")
    except OSError:
        return False
    return any(Path(line.split()[-1]).name.startswith(library) for line in maps.splitlines() if "/" in line)


def _run(tmp_path: Path, wait_for_imports: bool) -> str:
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "test_probe.py").write_text(PROBE, encoding="utf-8")
    warm.prestart()
    (waiting,) = warm._WARM
    if wait_for_imports:
        # time-machine's C part is the last of WHILE_WAITING to load: once mapped, the process has imported them all
        deadline = time.monotonic() + 120
        while not _mapped(waiting.pid, "_time_machine") and time.monotonic() < deadline and waiting.poll() is None:
            time.sleep(0.05)
        assert _mapped(waiting.pid, "_time_machine"), "the waiting process imported time-machine"
    process = warm.take([*ARGV, str(folder)], tmp_path / "pytest.log")
    assert process is waiting
    assert process.wait(120) == 0, (tmp_path / "pytest.log").read_text(encoding="utf-8")
    warm.release(process)
    return (folder / "test_probe.py.modules").read_text(encoding="utf-8")


def test_a_process_left_waiting_has_httpcore_and_time_machine_for_its_first_scenario(tmp_path: Path) -> None:
    assert _run(tmp_path, wait_for_imports=True).split() == ["httpx", "httpcore", "h11", "time_machine"]


def test_a_process_given_its_command_line_at_once_imports_none_of_them(tmp_path: Path) -> None:
    # the command line is written as the process starts, long before its PRELOAD is imported (≈ 0.4 s): it is
    # waiting by the time the process would import anything of WHILE_WAITING
    assert _run(tmp_path, wait_for_imports=False).split() == []
