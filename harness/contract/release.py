"""What a released contract version owes its readers beyond loading: a CHANGELOG, and a `supersedes` that names a
version that exists. Checked by `hih contract check` (not by every load: a copy of one version, in a test or a
scratch folder, still loads)."""

from __future__ import annotations

from harness.contract.errors import ContractProblem
from harness.contract.loader import CONTRACT_FILE
from harness.contract.model import Contract
from harness.contract.source import load_source
from harness.contract.versions import parse_day

CHANGELOG = "CHANGELOG.md"


def release_problems(contract: Contract) -> list[ContractProblem]:
    """Problems of `contract` as a released version among its siblings (an empty list when there are none)."""
    problems: list[ContractProblem] = []
    yaml_file = contract.folder / CONTRACT_FILE
    if not (contract.folder / CHANGELOG).is_file():
        problems.append(ContractProblem(
            contract.folder / CHANGELOG, 0,
            f"missing: every contract version records its policy document, date and changes in {CHANGELOG}"))
    if contract.supersedes is not None:
        siblings = sorted(p.parent.name for p in contract.folder.parent.glob(f"*/{CONTRACT_FILE}"))
        if contract.supersedes == contract.version or contract.supersedes not in siblings:
            source = load_source(yaml_file)
            known = ", ".join(v for v in siblings if v != contract.version) or "none"
            problems.append(source.problem("/supersedes", f"supersedes {contract.supersedes!r}, which is not a version "
                                                          f"of {contract.interface} (known: {known})"))
    effective, released = parse_day(contract.effective or ""), parse_day(contract.released or "")
    if effective is not None and released is not None and effective < released:
        problems.append(load_source(yaml_file).problem(
            "/effective", f"effective {effective} is before released {released}: a version is in force once published"))
    return problems
