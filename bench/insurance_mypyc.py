#!/usr/bin/env python3
"""What compiling the insurance mock's hot modules with mypyc would save: instructions per 2207 settlement of a
scratch copy of this checkout compiled, against the same copy left in Python (`insurance_instructions.py` on each).

A prototype, not a build hih ships: the copy is `git archive HEAD` in a scratch folder, with the two changes mypyc
needs there (the transport's two exceptions that subclass built-in errors made non-native classes, httptools'
parsed URL typed `Any` because its `query` may be None where its stub says bytes), compiled in place with
`mypycify` (gcc, `opt_level` 3). Needs valgrind, gcc and the Python headers; the build takes minutes.

    .venv/bin/python bench/insurance_mypyc.py                  # the default module set
    .venv/bin/python bench/insurance_mypyc.py --keep /tmp/hot  # keep the scratch copies
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOT = ("mocks/insurance.py mocks/fen.py mocks/insurance_checks.py mocks/clock_checks.py harness/contract/http_json.py "
       "harness/contract/rules.py harness/contract/signing.py harness/contract/clock.py harness/contract/jsonsafe.py "
       "mocks/transport/http.py mocks/transport/lean_http.py mocks/transport/journal.py mocks/transport/limits.py")
"""The modules a settlement runs through (`mocks/state.py` is left out: mypyc 2.4 fails on it with an internal error)."""
PATCHES = {
    "mocks/transport/http.py": [
        ("from harness.contract.findings import Finding\n",
         "from harness.contract.findings import Finding\nfrom mypy_extensions import mypyc_attr\n"),
        ("class SimulatedReset(", "@mypyc_attr(native_class=False)\nclass SimulatedReset("),
        ("class SimulatedNoReply(", "@mypyc_attr(native_class=False)\nclass SimulatedNoReply("),
    ],
    "mocks/transport/lean_http.py": [("parsed = httptools.parse_url(", "parsed: Any = httptools.parse_url(")],
}
SETUP = """from setuptools import setup
from mypyc.build import mypycify
setup(name="hih-hot", version="0", packages=[], py_modules=[], ext_modules=mypycify({modules!r}, opt_level="3"))
"""


def unpack(into: Path) -> None:
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


def count(root: Path) -> float:
    done = subprocess.run([sys.executable, str(root / "bench" / "insurance_instructions.py"), "--root", str(root)],
                          capture_output=True, text=True, cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    if done.returncode != 0:
        raise SystemExit(f"insurance_instructions.py failed in {root}: {done.stderr.strip()[-400:]}")
    print(f"  {done.stdout.strip()}")
    return float(done.stdout.split(": ", 1)[1].split(" instructions", 1)[0].replace(",", ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modules", default=HOT, help="space-separated module files to compile")
    ap.add_argument("--keep", type=Path, help="build in this (new) folder and keep it")
    a = ap.parse_args()
    for tool in ("valgrind", "gcc"):
        if shutil.which(tool) is None:
            ap.error(f"{tool} is not installed")
    scratch = a.keep or Path(tempfile.mkdtemp(prefix="hih-mypyc-"))
    try:
        plain, compiled = scratch / "plain", scratch / "compiled"
        for folder in (plain, compiled):
            unpack(folder)
            for rel, edits in PATCHES.items():
                text = (folder / rel).read_text()
                for old, new in edits:
                    if old not in text:
                        raise SystemExit(f"{rel} changed: {old.strip()!r} not found (update PATCHES)")
                    text = text.replace(old, new, 1)
                (folder / rel).write_text(text)
        modules = a.modules.split()
        (compiled / "setup_mypyc.py").write_text(SETUP.format(modules=modules))
        started = time.monotonic()
        build = subprocess.run([sys.executable, "setup_mypyc.py", "build_ext", "--inplace"], cwd=compiled,
                               capture_output=True, text=True)
        if build.returncode != 0:
            raise SystemExit(f"the mypyc build failed: {(build.stderr or build.stdout).strip()[-800:]}")
        print(f"mypyc build of {len(modules)} modules: {time.monotonic() - started:.0f} s")
        python, native = count(plain), count(compiled)
        print(f"compiled: {native:,.0f} instructions per settlement against {python:,.0f} in Python "
              f"({(native / python - 1) * 100:+.1f} %)")
    finally:
        if a.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
