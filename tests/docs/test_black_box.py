"""docs/black-box.md is true: every shell block marked `<!-- run: NAME -->` runs, in order and in one bash, against a
real `hih mock serve --interface NAME` process, with curl, jq, openssl and bash's /dev/tcp playing the hospital
system exactly as the page shows; the page's own checks (jq -e, grep, test) make a block fail when the partner
does not answer as the page says."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.served import running_hih

PAGE = ROOT / "docs" / "black-box.md"
BLOCK = re.compile(r"<!-- run: ([\w-]+) -->\n```sh\n(.*?)```", re.S)
TOOLS = ("bash", "curl", "jq", "openssl")


def blocks() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, code in BLOCK.findall(PAGE.read_text(encoding="utf-8")):
        found.setdefault(name, []).append(code)
    return found


def test_every_partner_has_runnable_blocks() -> None:
    assert set(blocks()) == {"all", "insurance", "blood-center", "mch-platform", "lis"}
    sections = re.findall(r"^## (.+)$", PAGE.read_text(encoding="utf-8"), re.M)
    assert sections == ["Insurance platform (`insurance`, JSON over HTTP)", "Blood centre (`blood-center`, SOAP 1.1)",
                        "Maternal-child health platform (`mch-platform`, SOAP 1.1)", "LIS and PACS (`lis`, `pacs`, HL7 v2 over MLLP)"]


def run(name: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The page's blocks for `name` in one bash, against `hih mock serve --interface NAME` on free ports (a process
    forked from the test process's pre-imported one, tests/forked_hih.py: the page is about what the partner answers
    on its sockets)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIH_")}
    command = ["mock", "serve", "--interface", name, "--port", f"{name}=0", "--port", "admin=0"]
    with running_hih(command, env, tmp_path) as (_, banner):
        endpoint = banner[name]
        shell = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(tmp_path),
                 "ADMIN": banner["admin"].rstrip("/")}
        if endpoint.startswith("mllp://"):
            shell["HOST"], shell["PORT"] = endpoint.removeprefix("mllp://").rsplit(":", 1)
        else:
            shell["MOCK"] = endpoint
        script = "set -euo pipefail\n" + "\n".join(blocks()["all"] + blocks()[name])
        return subprocess.run(["bash", "-c", script], cwd=tmp_path, env=shell, capture_output=True, text=True,
                              timeout=120, check=False)


@pytest.mark.skipif(any(shutil.which(tool) is None for tool in TOOLS),
                    reason=f"the page's commands need {', '.join(TOOLS)} on PATH")
@pytest.mark.parametrize("name", ["insurance", "blood-center", "mch-platform", "lis"])
def test_the_page_checks_a_partner_end_to_end(name: str, tmp_path: Path) -> None:
    done = run(name, tmp_path)
    assert done.returncode == 0, f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    rows = [line.split("\t") for line in done.stdout.splitlines() if line.count("\t") == 3]
    assert rows, done.stdout
    assert all(row[3] == "符合" for row in rows if row[1] != "-"), done.stdout
