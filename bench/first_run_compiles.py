#!/usr/bin/env python3
"""What a fresh clone's first `./scripts/test` compiles, and how much of it more than once: every compile of a `.py`
file (an import without bytecode, pytest rewriting a module's asserts) in every Python process the command starts,
with its CPU seconds, by kind of process (the warm-up, xdist workers, `hih run`'s pytest processes, `hih mock`, ...),
and the files compiled by more than one process, by package.

uv installs `.venv` without bytecode and pytest has rewritten no test in a fresh clone: each process compiles what it
imports that no process has written yet, and processes that start at once compile the same files. A file compiled by
a second process is work that a warm-up could have done once.

It copies bench/compile_probe/bench_compile_probe.py into the clone's `.venv` (a `.pth` line imports it in every
process of that `.venv`), runs the command there with bytecode writes on, summarises, and removes the probe. Run it
on a throw-away clone with its own `.venv` (`git clone … && ./scripts/setup`), never on a checkout in use: the first
run is the clone's only one.

  .venv/bin/python bench/first_run_compiles.py --clone /tmp/fresh [--out DIR] [--top 25] [-- command, default ./scripts/test]
  .venv/bin/python bench/first_run_compiles.py --summarise DIR [--top 25]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "bench" / "compile_probe" / "bench_compile_probe.py"
PTH = "zz_bench_compile_probe.pth"


@dataclass
class Process:
    """One process's lines."""

    argv: str = ""
    cpu: float | None = None
    compiles: list[tuple[str, float, str]] = field(default_factory=list)
    """(file, CPU s, variant: plain, rewritten or parse)."""


def kind(argv: str) -> str:
    """A short name for the kind of process a command line starts."""
    words = argv.split("\x1f")
    line = " ".join(words)
    if not argv:
        return "forked (no command line)"
    if "harness/run/warm.py" in line:
        return "hih run: its first pytest (started warm)"
    if "pytest-run.ini" in line:
        return "hih run: its pytest processes"
    if "--collect-only" in line:
        return "warm-up: the suite collected once"
    if "tests.warm_up" in line:
        return "warm-up: tests/warm_up.py"
    if "-n" in words and "loadgroup" in line:
        return "xdist controller"
    if "exec(eval(sys.stdin.readline()))" in line:
        return "xdist workers (also a run's)"
    if "bin/mypy" in line:
        return "mypy"
    for at, word in enumerate(words):
        if word.endswith("/hih") or word == "harness.cli":
            sub = next((w for w in words[at + 1:] if not w.startswith("-")), "")
            return f"hih {sub}".strip()
    if "-m" in words:
        return f"python -m {words[words.index('-m') + 1]}" if words.index("-m") + 1 < len(words) else "python -m"
    return "other: " + " ".join(Path(w).name for w in words[:3])[:60]


def read(folder: Path) -> dict[int, Process]:
    processes: dict[int, Process] = {}
    for path in folder.glob("*.tsv"):
        process = processes.setdefault(int(path.stem), Process())
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t")
            if parts[0] == "S" and len(parts) == 2:
                process.argv = parts[1]
            elif parts[0] == "E" and len(parts) == 2:
                process.cpu = float(parts[1])
            elif parts[0] == "C" and len(parts) == 4:
                process.compiles.append((parts[1], float(parts[2]), parts[3]))
    return processes


def package(path: str, clone: str) -> str:
    """Where a file belongs: the installed distribution's top folder, or the checkout's top folder (two levels)."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0]
    relative = path[len(clone):].lstrip("/") if clone and path.startswith(clone) else path
    return "/".join(relative.split("/")[:2])


def summarise(folder: Path, top: int) -> None:
    processes = read(folder)
    clone = (folder / "clone").read_text(encoding="utf-8").strip() if (folder / "clone").exists() else ""
    by_kind: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0, 0.0])
    first: dict[str, int] = {}
    for _pid, process in sorted(processes.items()):
        row = by_kind[kind(process.argv)]
        row[0] += 1
        row[1] += process.cpu or 0.0
        row[2] += len(process.compiles)
        row[3] += sum(s for _, s, _ in process.compiles)
    # A file's first compile (of one variant) is the one whose process started it first (pids grow, but wrap: good
    # enough here). `ast.parse` keeps nothing, so it is no work a warm-up could do once.
    again_s: defaultdict[str, float] = defaultdict(float)
    again_n: Counter[str] = Counter()
    for pid, process in sorted(processes.items()):
        for path, seconds, variant in process.compiles:
            if variant == "parse":
                continue
            owner = first.setdefault(f"{path}\0{variant}", pid)
            if owner != pid:
                again_s[package(path, clone)] += seconds
                again_n[package(path, clone)] += 1
    total = sum(row[3] for row in by_kind.values())
    print(f"{len(processes)} processes, {sum(len(p.compiles) for p in processes.values())} compiles of "
          f"{len({c[0] for p in processes.values() for c in p.compiles})} files, {total:.1f} s of CPU compiling "
          f"(ast.parse included); by another process than the first (same file, same variant): "
          f"{sum(again_s.values()):.1f} s")
    print(f"{'kind of process':48} {'processes':>9} {'CPU s':>8} {'compiles':>8} {'compile s':>9}")
    for name, row in sorted(by_kind.items(), key=lambda kv: -kv[1][3]):
        print(f"{name[:48]:48} {row[0]:9d} {row[1]:8.1f} {row[2]:8d} {row[3]:9.2f}")
    print("compiled again by another process, by package (compiles, CPU s):")
    for name, seconds in sorted(again_s.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {name:48} {again_n[name]:5d} {seconds:7.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--clone", type=Path, help="a throw-away clone with its own .venv, never run before")
    ap.add_argument("--out", type=Path, help="where the probe writes (default: a new temporary folder, kept)")
    ap.add_argument("--summarise", type=Path, metavar="DIR", help="only summarise what an earlier run wrote")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("command", nargs="*", help="the command, run in the clone (default ./scripts/test)")
    args = ap.parse_args(argv)
    if args.summarise:
        summarise(args.summarise, args.top)
        return 0
    if args.clone is None:
        ap.error("--clone or --summarise is required")
    clone = args.clone.resolve()
    python = clone / ".venv" / "bin" / "python"
    if not python.exists() or clone == ROOT:
        ap.error("--clone must be another checkout with its own .venv")
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    out = (args.out or Path(tempfile.mkdtemp(prefix="bench-compiles-"))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "clone").write_text(str(clone), encoding="utf-8")
    shutil.copy(PROBE, site / PROBE.name)
    (site / PTH).write_text(f"import {PROBE.stem}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["BENCH_COMPILE_PROBE_OUT"] = str(out)
    load, started = os.getloadavg()[0], time.perf_counter()
    try:
        done = subprocess.run(args.command or ["./scripts/test"], cwd=clone, env=env, check=False)
    finally:
        (site / PTH).unlink(missing_ok=True)
        (site / PROBE.name).unlink(missing_ok=True)
        for compiled in (site / "__pycache__").glob(f"{PROBE.stem}.*"):
            compiled.unlink(missing_ok=True)
    print(f"{' '.join(args.command or ['./scripts/test'])}: exit {done.returncode}, "
          f"{time.perf_counter() - started:.0f} s wall, load average {load:.1f} at the start; probe lines in {out}")
    summarise(out, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
