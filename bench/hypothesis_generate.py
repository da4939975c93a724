#!/usr/bin/env python3
"""Where the property tests spend their time: each `@given` test's generate phase (seconds, examples, invalid
draws, Hypothesis's own "typical runtimes" line) from `--hypothesis-show-statistics`, and the CPU of the pytest
process. Not part of the suite.

  .venv/bin/python bench/hypothesis_generate.py [--tree DIR ...] [--rounds 1] [--top 25] [--json FILE] [TEST ...]

TEST: files or node ids (default: every test file under tests/ that holds `@given`, tests/data left out). With two
or more `--tree`s (e.g. a `git archive` of the commit before a change, then this worktree) the rounds interleave,
tree by tree, so that the load of a shared machine falls on both alike; each tree's tests run with that tree's code.
The generate phases are wall seconds as Hypothesis reports them; on a loaded machine compare the CPU column and the
same tests' figures taken side by side, not figures from different hours.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(r"^(tests/\S+::\S+):\n(.*?)(?=^tests/\S+::\S+:\n|\Z)", re.M | re.S)
_GENERATE = re.compile(r"during generate phase \(([\d.]+) seconds\):\n\s+- Typical runtimes: ([^\n]*)\n"
                       r"\s+- (\d+) passing, (\d+) failing, and (\d+) invalid")


@dataclass
class Phase:
    """One test's generate phase."""

    seconds: float
    passing: int
    invalid: int
    typical: str


def given_files(tree: Path) -> list[str]:
    """The test files of `tree` holding `@given` (pytest-bdd's `given` in features/ is another thing)."""
    found = []
    for path in sorted((tree / "tests").rglob("test_*.py")):
        if "data" in path.relative_to(tree / "tests").parts:
            continue
        if "@given(" in path.read_text(encoding="utf-8"):
            found.append(str(path.relative_to(tree)))
    return found


def parse(text: str) -> dict[str, Phase]:
    """Generate phases by node id from pytest's output with `--hypothesis-show-statistics`."""
    phases = {}
    for nodeid, block in _BLOCK.findall(text):
        match = _GENERATE.search(block)
        if match:
            phases[nodeid] = Phase(float(match.group(1)), int(match.group(3)), int(match.group(5)), match.group(2))
    return phases


def run(tree: Path, tests: list[str]) -> tuple[dict[str, Phase], float, float, str]:
    """Run `tests` in `tree` in one process: (phases, CPU s of the process, wall s, pytest's last line)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [str(tree / ".venv/bin/python"), "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:xdist",
         "-p", "no:cacheprovider", "-m", "not serial", "--hypothesis-show-statistics", *tests],
        cwd=tree, capture_output=True, text=True, check=False,
        # bytecode caches on, as ./scripts/test has them: the tests' asserts are not rewritten again per run
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = done.stdout.strip().splitlines()
    return parse(done.stdout), cpu, wall, lines[-1] if lines else done.stderr.strip()[-200:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", type=Path, help="a checkout to run in (default: this one)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", type=Path)
    parser.add_argument("tests", nargs="*")
    args = parser.parse_args()
    trees = [t.resolve() for t in (args.tree or [ROOT])]
    results: dict[str, list[tuple[dict[str, Phase], float, float]]] = {str(t): [] for t in trees}
    for round_ in range(args.rounds):
        for tree in trees:
            tests = args.tests or given_files(tree)
            phases, cpu, wall, last = run(tree, tests)
            results[str(tree)].append((phases, cpu, wall))
            load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
            print(f"round {round_ + 1} {tree}: {len(phases)} property tests, generate {sum(p.seconds for p in phases.values()):.1f} s, "
                  f"CPU {cpu:.1f} s, wall {wall:.1f} s, load {load}; {last}", flush=True)
    # per test: the best (least) generate seconds of each tree's rounds, the first tree's order by cost
    best = {tree: _best([r[0] for r in rounds]) for tree, rounds in results.items()}
    first = best[str(trees[0])]
    print("\ngenerate s (best of rounds) per tree: " + " | ".join(str(t) for t in trees))
    for nodeid in sorted(first, key=lambda n: -first[n].seconds)[:args.top]:
        cells = [f"{best[str(t)][nodeid].seconds:6.2f}" if nodeid in best[str(t)] else "     -" for t in trees]
        print(f"{' '.join(cells)}  {first[nodeid].passing}/{first[nodeid].invalid}  {nodeid}")
    for tree in trees:
        rounds = results[str(tree)]
        print(f"{tree}: total generate (best per test) {sum(p.seconds for p in best[str(tree)].values()):.1f} s; "
              f"CPU per round {', '.join(f'{r[1]:.1f}' for r in rounds)} s")
    if args.json:
        args.json.write_text(json.dumps({tree: [{"cpu_s": cpu, "wall_s": wall,
                                                 "phases": {k: asdict(v) for k, v in phases.items()}}
                                                for phases, cpu, wall in rounds]
                                         for tree, rounds in results.items()}, indent=1), encoding="utf-8")
    return 0


def _best(rounds: list[dict[str, Phase]]) -> dict[str, Phase]:
    out: dict[str, Phase] = {}
    for phases in rounds:
        for nodeid, phase in phases.items():
            if nodeid not in out or phase.seconds < out[nodeid].seconds:
                out[nodeid] = phase
    return out


if __name__ == "__main__":
    sys.exit(main())
