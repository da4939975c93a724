#!/usr/bin/env python3
"""Mutation score of the reference connectors, with the specs as the tests (cosmic-ray).

For each connector module, cosmic-ray makes small changes (mutants: `<` for `<=`, a constant changed, a branch
dropped ...) one at a time and runs `hih run` over the interfaces whose specs exercise the module. A mutant is
killed when the gate closes (or the run breaks or times out), survived when the gate stays open. The score is
killed / (killed + survived). A survivor is either a gap in the specs (add a scenario) or equivalent (it changes
nothing a partner or the hospital can see: write it down in bench/RESULTS.md).

Mutants inside type annotations are equivalent by construction (every module has `from __future__ import
annotations`, so annotations are never evaluated): they are set aside before testing and counted as such.

Everything happens in a copy of the project (cosmic-ray edits the module on disk): the working tree is never
touched. A full run takes hours (hundreds of mutants × a `hih run` each); `--sample N` tests N mutants drawn at
random (`--seed`), and the rest are recorded as skipped.

  .venv/bin/pip install -e '.[mutation]'
  .venv/bin/python bench/mutation.py --module sequence.py --sample 20
  .venv/bin/python bench/mutation.py --module insurance.py --sample 40 --seed 7 --json bench/results/mutation.json
  .venv/bin/python bench/mutation.py --module lis.py --sample 30 --contracts all   # the older contracts' specs too
  .venv/bin/python bench/mutation.py                      # every module, every mutant
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("harness", "mocks", "connectors", "contracts", "features", "pyproject.toml")
MODULES: dict[str, tuple[str, ...]] = {
    "insurance.py": ("insurance",),
    "blood_center.py": ("blood-center",),
    "blood_bank.py": ("blood-center",),
    "mch_platform.py": ("mch-platform",),
    "lis.py": ("lis",),
    "pacs.py": ("pacs",),
    "hl7_common.py": ("lis", "pacs"),
    "hl7_build.py": ("lis", "pacs"),
    "sequence.py": ("insurance", "lis", "pacs"),
}
"""Each connector module and the interfaces whose specs exercise it."""


@dataclass
class Score:
    module: str
    interfaces: tuple[str, ...]
    mutants: int
    annotations: int = 0
    """Mutants inside type annotations: equivalent, not tested."""
    tested: int = 0
    killed: int = 0
    survived: int = 0
    incompetent: int = 0
    timed_out: int = 0
    """Killed mutants whose run hit the timeout (counted as killed; a loaded machine can put a survivor here)."""
    seconds: float = 0.0
    survivors: list[dict[str, Any]] = field(default_factory=list)
    contracts: str = "newest"
    """Which contract versions' specs ran: newest, older or all (a mutant is killed when any run fails)."""

    @property
    def score(self) -> float | None:
        judged = self.killed + self.survived
        return self.killed / judged if judged else None


def copy_project(into: Path) -> Path:
    """The parts of the project a spec run needs, copied (cosmic-ray mutates the copy's files)."""
    project = into / "project"
    project.mkdir()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, project / name)
    return project


CONTRACT_CHOICES = ("newest", "older", "all")


def versions(interface: str) -> list[str]:
    """The interface's contract versions, oldest first (the folder names under contracts/)."""
    folders = [f.name for f in (ROOT / "contracts" / interface).iterdir() if f.is_dir() and (f / "contract.yaml").exists()]
    return sorted(folders, key=lambda v: [int(part) if part.isdigit() else part for part in v.split(".")])


def spec_runs(interfaces: tuple[str, ...], contracts: str) -> list[str]:
    """The `hih run` arguments a mutant is tested with: the newest contracts together (one run), and/or one run per
    older contract version of each interface (`--contract NAME=VERSION`)."""
    runs = []
    if contracts in ("newest", "all"):
        runs.append(" ".join(f"--interface {name}" for name in interfaces))
    if contracts in ("older", "all"):
        runs += [f"--interface {name} --contract {name}={version}" for name in interfaces for version in versions(name)[:-1]]
    return runs


def test_command(interfaces: tuple[str, ...], reports: Path, contracts: str = "newest") -> str:
    """One shell command: every spec run in turn, stopping at the first that closes the gate (the mutant is killed)."""
    runs = [f"{sys.executable} -m harness.cli run {selected} --report-dir {reports}"
            for selected in spec_runs(interfaces, contracts)]
    if len(runs) == 1:
        return runs[0]
    return "sh -c '" + " && ".join(runs) + "'"


def config(module: str, interfaces: tuple[str, ...], reports: Path, timeout: float, contracts: str = "newest") -> str:
    return "\n".join([
        "[cosmic-ray]",
        f'module-path = "connectors/{module}"',
        f"timeout = {timeout}",
        "excluded-modules = []",
        f'test-command = "{test_command(interfaces, reports, contracts)}"',
        "",
        "[cosmic-ray.distributor]",
        'name = "local"',
        "",
    ])


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) positions of every type annotation in a module (arguments, returns, annotated assignments)."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        found: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            found.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
        for annotation in found:
            if annotation is not None and annotation.end_lineno is not None and annotation.end_col_offset is not None:
                spans.append(((annotation.lineno, annotation.col_offset),
                              (annotation.end_lineno, annotation.end_col_offset)))
    return spans


def set_aside_annotations(session: Path, source: str) -> int:
    """Mark mutants inside annotations skipped (equivalent: never evaluated); how many."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    spans = annotation_spans(source)
    with use_db(str(session), WorkDB.Mode.open) as db:
        inside = [item.job_id for item in db.pending_work_items
                  if all(any(start <= tuple(m.start_pos) and tuple(m.end_pos) <= end for start, end in spans)
                         for m in item.mutations)]
        if inside:
            db.set_multiple_results(inside, WorkResult(worker_outcome=WorkerOutcome.SKIPPED,
                                                       output="equivalent: inside a type annotation"))
    return len(inside)


def sample(session: Path, keep: int | None, seed: int) -> int:
    """Mark all but `keep` random mutants skipped; how many remain to test."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(session), WorkDB.Mode.open) as db:
        # by what each mutant changes (job ids are random): the same seed draws the same mutants of the same source
        pending = sorted(db.pending_work_items, key=lambda item: [(m.start_pos, m.operator_name, m.occurrence)
                                                                  for m in item.mutations])
        jobs = [item.job_id for item in pending]
        if keep is None or keep >= len(jobs):
            return len(jobs)
        chosen = set(random.Random(seed).sample(jobs, keep))
        db.set_multiple_results([j for j in jobs if j not in chosen], WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
        return keep


def collect(session: Path, score: Score) -> None:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    with use_db(str(session), WorkDB.Mode.open) as db:
        items = {item.job_id: item for item in db.work_items}
        for job_id, result in db.results:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            score.tested += 1
            if result.worker_outcome != WorkerOutcome.NORMAL:
                score.incompetent += 1
            elif result.test_outcome == TestOutcome.SURVIVED:
                score.survived += 1
                mutation = items[job_id].mutations[0]
                score.survivors.append({"job": job_id, "operator": mutation.operator_name,
                                        "occurrence": mutation.occurrence, "line": mutation.start_pos[0],
                                        "diff": result.diff})
            else:
                score.killed += 1
                score.timed_out += result.output == "timeout"


def measure(module: str, keep: int | None, seed: int, timeout: float, workdir: Path, contracts: str = "newest") -> Score:
    interfaces = MODULES[module]
    if not spec_runs(interfaces, contracts):
        raise SystemExit(f"{module}: no older contract version of {', '.join(interfaces)} to run")
    folder = Path(tempfile.mkdtemp(prefix=f"hih-mutation-{module}-", dir=workdir))
    project = copy_project(folder)
    env = {**os.environ, "PYTHONPATH": str(project), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    (folder / "cosmic-ray.toml").write_text(config(module, interfaces, folder / "reports", timeout, contracts),
                                            encoding="utf-8")
    session = folder / "session.sqlite"
    baseline = run(shlex.split(test_command(interfaces, folder / "baseline", contracts)), project, env, timeout)
    if baseline.returncode != 0:
        raise SystemExit(f"{module}: the unmutated specs do not pass (hih run exit {baseline.returncode}):\n"
                         f"{baseline.stdout[-800:]}{baseline.stderr[-800:]}")
    started = time.perf_counter()
    init = run([sys.executable, "-m", "cosmic_ray.cli", "init", str(folder / "cosmic-ray.toml"), str(session)],
               project, env)
    if init.returncode != 0:
        raise SystemExit(f"{module}: cosmic-ray init failed: {init.stderr[-800:]}")
    from cosmic_ray.work_db import WorkDB, use_db

    with use_db(str(session), WorkDB.Mode.open) as db:
        total = db.num_work_items
    score = Score(module, interfaces, total, contracts=contracts)
    score.annotations = set_aside_annotations(session, (project / "connectors" / module).read_text(encoding="utf-8"))
    sample(session, keep, seed)
    done = run([sys.executable, "-m", "cosmic_ray.cli", "exec", str(folder / "cosmic-ray.toml"), str(session)],
               project, env)
    if done.returncode != 0:
        raise SystemExit(f"{module}: cosmic-ray exec failed: {done.stderr[-800:]}")
    score.seconds = round(time.perf_counter() - started, 1)
    collect(session, score)
    return score


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES), help="a connectors/ module (default: all)")
    parser.add_argument("--sample", type=int, default=None, help="test this many random mutants per module")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds before a mutant's run counts as killed")
    parser.add_argument("--json", type=Path, default=None, help="write the scores and survivors here")
    parser.add_argument("--keep", action="store_true", help="keep the copies and sessions (printed) for inspection")
    parser.add_argument("--contracts", choices=CONTRACT_CHOICES, default="newest",
                        help="the specs of the newest contracts (default), of every older version, or of all of them")
    args = parser.parse_args(argv)
    try:
        import cosmic_ray  # noqa: F401
    except ImportError:
        print("cosmic-ray is not installed: .venv/bin/pip install -e '.[mutation]'", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="hih-mutation-"))
    scores = []
    try:
        for module in args.module or sorted(MODULES):
            score = measure(module, args.sample, args.seed, args.timeout, workdir, args.contracts)
            scores.append(score)
            shown = f"{score.score:.0%}" if score.score is not None else "n/a"
            print(f"{module:16} specs {','.join(score.interfaces):22} contracts {score.contracts:6} mutants {score.mutants:4}  "
                  f"annotations {score.annotations:3}  tested {score.tested:4}  "
                  f"killed {score.killed:4} (timeout {score.timed_out})  survived {score.survived:3}  incompetent {score.incompetent:2}  "
                  f"score {shown:>4}  {score.seconds:.0f} s", flush=True)
            for survivor in score.survivors:
                print(f"  survived: line {survivor['line']} {survivor['operator']} #{survivor['occurrence']}")
    finally:
        if args.keep:
            print(f"copies and sessions kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([{**asdict(s), "score": s.score} for s in scores], ensure_ascii=False, indent=2),
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
