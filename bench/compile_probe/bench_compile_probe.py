"""Copied into a throw-away clone's `.venv` by bench/first_run_compiles.py (with a `.pth` line that imports it), so
that every Python process of that `.venv` loads it: one line per compile of a `.py` file with its CPU seconds and
its variant (`plain`: an import without bytecode; `rewritten`: pytest compiling a module whose asserts it rewrote;
`parse`: `ast.parse`, nothing kept), and one line per process (command line, CPU at exit). Not part of hih; does
nothing unless BENCH_COMPILE_PROBE_OUT names a folder."""
from __future__ import annotations

import ast
import atexit
import builtins
import os
import sys
import time
from typing import Any

_out = os.environ.get("BENCH_COMPILE_PROBE_OUT")


def _log(line: str) -> None:
    try:
        fd = os.open(os.path.join(_out or ".", f"{os.getpid()}.tsv"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, (line.replace("\n", " ") + "\n").encode("utf-8", "replace"))
        finally:
            os.close(fd)
    except OSError:
        pass


if _out:
    _compile = builtins.compile

    def _timed_compile(source: Any, filename: Any, mode: str, *args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return _compile(source, filename, mode, *args, **kwargs)
        finally:
            name = os.fsdecode(filename) if isinstance(filename, (str, bytes, os.PathLike)) else ""
            if name.endswith(".py"):
                flags = args[0] if args else kwargs.get("flags", 0)
                variant = "parse" if flags & ast.PyCF_ONLY_AST else "rewritten" if isinstance(source, ast.AST) \
                    else "plain"
                _log(f"C\t{name}\t{time.process_time() - started:.6f}\t{variant}")

    builtins.compile = _timed_compile
    _log("S\t" + "\x1f".join(getattr(sys, "orig_argv", sys.argv)).replace("\t", " "))

    def _end() -> None:
        times = os.times()
        _log(f"E\t{times.user + times.system:.3f}")

    atexit.register(_end)
