"""Connector work folders removed on a thread beside the scenarios: all of them, and none left waiting at exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness import work_folders


def _folder(root: Path, name: str) -> Path:
    folder = root / name
    (folder / "state").mkdir(parents=True)
    (folder / "state" / "ledger.db").write_bytes(b"x" * 4096)
    return folder


def test_handed_over_folders_are_removed_with_what_they_hold(tmp_path: Path) -> None:
    folders = [_folder(tmp_path, f"hih-insurance-{i}") for i in range(20)]
    for folder in folders:
        work_folders.remove(folder)
    assert work_folders.finish(timeout_s=30)
    assert list(tmp_path.iterdir()) == []


def test_past_the_bound_the_caller_removes_the_folder_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What waits is bounded: with the queue full, `remove` removes the folder before it returns."""
    monkeypatch.setattr(work_folders, "_queue", work_folders.queue.Queue(maxsize=1))
    monkeypatch.setattr(work_folders, "_thread", None)
    blocker = _folder(tmp_path, "first")
    gate = work_folders.threading.Event()
    real_rmtree = work_folders.shutil.rmtree

    def slow_rmtree(path: Path, ignore_errors: bool = False) -> None:
        if Path(path) == blocker:
            gate.wait(10)  # the remover thread is busy with the first folder
        real_rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(work_folders.shutil, "rmtree", slow_rmtree)
    work_folders.remove(blocker)          # taken by the thread, which now waits on the gate
    for _ in range(1000):  # until the thread has taken it (10 s at most)
        if not work_folders._queue.qsize():
            break
        gate.wait(0.01)
    waiting = _folder(tmp_path, "second")
    work_folders.remove(waiting)          # fills the queue (size 1)
    inline = _folder(tmp_path, "third")
    work_folders.remove(inline)           # queue full: removed here and now
    assert not inline.exists() and waiting.exists()
    gate.set()
    assert work_folders.finish(timeout_s=30)
    assert list(tmp_path.iterdir()) == []


def test_a_process_that_exits_has_removed_every_folder_handed_over(tmp_path: Path) -> None:
    """atexit waits for the thread (pytest's own exit and `hih run`'s quick exit both run the atexit handlers)."""
    script = (
        "import sys; from pathlib import Path; from harness import work_folders\n"
        "root = Path(sys.argv[1])\n"
        "for i in range(50):\n"
        "    f = root / f'hih-lis-{i}'; (f / 'sub').mkdir(parents=True); (f / 'sub' / 'a').write_text('x')\n"
        "    work_folders.remove(f)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, timeout=60)
    assert list(tmp_path.iterdir()) == []
