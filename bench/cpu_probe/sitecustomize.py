"""Loaded by every Python process that bench/test_cpu.py's suite starts (this folder is on their PYTHONPATH): one
line per process, naming the test that started it (directly or through its children) and the command line, so that
the summary counts the `hih run`s and other processes of each test. Not part of hih; does nothing outside that run."""
from __future__ import annotations

import os
import sys

_out, _test = os.environ.get("BENCH_CPU_PROBE_OUT"), os.environ.get("BENCH_CPU_PROBE_TEST")
if _out and _test:
    _argv = "\x1f".join(getattr(sys, "orig_argv", sys.argv))
    try:
        with open(os.path.join(_out, "procs.tsv"), "a", encoding="utf-8") as _f:
            _f.write(f"{_test}\t{os.getpid()}\t{os.getppid()}\t{_argv}\n".replace("\n", " ").rstrip() + "\n")
    except OSError:
        pass
