"""The console script's entry point (harness.launch): `hih run` starts its warm pytest process before the command
line's modules (and typing, pathlib, json) are imported; other commands, and `hih run --help`, start none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import sys
from harness.run import warm

def prestart():
    print("started", *(name in sys.modules for name in ("click", "rich", "harness.cli", "harness.run.runner",
                                                        "typing", "pathlib", "json")))
    sys.stdout.flush()

warm.prestart = prestart
sys.argv = ["hih", *sys.argv[1:]]
from harness.launch import entry
entry()
"""


def launched(cache: Path, *argv: str) -> list[str]:
    """The lines `hih ARGV` prints, its kept help (harness/help_cache.py) in `cache`, not the user's cache folder."""
    env = {**os.environ, "HIH_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120, env=env)
    return done.stdout.splitlines()


def test_hih_run_starts_the_warm_process_before_the_command_line_is_imported(tmp_path: Path) -> None:
    lines = launched(tmp_path, "run", "--interface", "no-such-interface")
    # nor typing, pathlib and json (harness.run.warm makes its PROJECT_ROOT when first asked for)
    assert lines[:1] == ["started False False False False False False False"], lines


@pytest.mark.parametrize("argv", [["run", "--help"], ["--help"], ["contract", "--help"]])
def test_other_commands_start_no_pytest_process(argv: list[str], tmp_path: Path) -> None:
    lines = launched(tmp_path, *argv)
    assert lines and not any(line.startswith("started") for line in lines), lines
    assert any("Usage:" in line for line in lines)
