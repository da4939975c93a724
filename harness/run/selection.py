"""`hih run --changed-since OLD`: run only the scenarios that exercise what changed from OLD to the run's contract.

The parent picks the scenarios (contract diff + impact, from the run history and the feature files), writes them to
`selection.json` in the report directory and starts pytest with this module as a plugin (`--hih-select FILE`); in
the child it deselects every scenario of a selected interface that is not listed. Scenarios are named by feature
file, scenario (template) name and example row, which is what pytest-bdd itself knows of each item.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.markup import escape

from harness.contract.diff import Change, diff_contracts
from harness.contract.diff_impact import Impact, SpecScenario, impact
from harness.contract.loader import ContractStore
from harness.run.history import recorded
from harness.run.options import RunPlan, feature_dir

SELECT_FILE = "selection.json"


def contract_impact(store: ContractStore, interface: str, old: str, new: str, features: Path,
                    history_file: Path | None) -> Impact:
    """The diff of `interface` from `old` to `new` with the scenarios under `features` that each change touches."""
    before, after = store.load(interface, old), store.load(interface, new)
    diff = diff_contracts(before, after)
    return impact(diff, feature_dir(features, interface), [*before.operations, *after.operations],
                  recorded(history_file, interface))


@dataclass
class Selection:
    """The scenarios chosen per interface, with the changes that chose them."""

    impacts: dict[str, Impact]
    chosen: dict[str, list[tuple[SpecScenario, list[Change], list[str]]]]
    changed_since: dict[str, str]

    @property
    def empty(self) -> bool:
        return not any(self.chosen.values())

    def narrow(self, plan: RunPlan) -> RunPlan:
        """The plan without the interfaces where nothing was chosen."""
        keep = [name for name in plan.versions if name not in self.chosen or self.chosen[name]]
        return replace(plan, contracts={k: plan.contracts[k] for k in keep if k in plan.contracts},
                       versions={k: plan.versions[k] for k in keep},
                       connectors={k: plan.connectors[k] for k in keep},
                       feature_dirs={k: plan.feature_dirs[k] for k in keep})

    def plugin_document(self, plan: RunPlan) -> dict[str, Any]:
        """What the pytest child reads: per interface, its feature folder and the scenarios to keep."""
        return {"interfaces": {
            name: {"folder": os.path.realpath(plan.feature_dirs[name]),
                   "scenarios": [_hidden_example(sc.selector()) for sc, _, _ in chosen]}
            for name, chosen in self.chosen.items() if name in plan.feature_dirs}}

    def summary(self) -> dict[str, Any]:
        """The `selection` entry of summary.json (and of the run history)."""
        return {
            "changed_since": self.changed_since,
            "new": {name: i.diff.new for name, i in self.impacts.items()},
            "selected": sum(len(c) for c in self.chosen.values()),
            "of": sum(len(i.scenarios) for i in self.impacts.values()),
            "methods": {name: i.method()["methods"] for name, i in self.impacts.items()},
        }


def example_digest(example: dict[str, Any] | None) -> str | None:
    """An example row as the SHA-256 of its JSON: the file lies in the report directory, and a row may name a
    patient (`| 姓名 | 张三 |`); the child compares digests."""
    if example is None:
        return None
    text = json.dumps(example, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _hidden_example(selector: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in selector.items() if k != "example"}, "example_sha256": example_digest(selector["example"])}


def choose(plan: RunPlan, history_file: Path | None) -> Selection:
    """Pick, for each interface with a --changed-since version, the scenarios its changes touch."""
    store = ContractStore(plan.options.contracts_dir)
    impacts: dict[str, Impact] = {}
    chosen: dict[str, list[tuple[SpecScenario, list[Change], list[str]]]] = {}
    for name, old in plan.changed_since.items():
        found = contract_impact(store, name, old, plan.versions[name], plan.options.features_dir, history_file)
        impacts[name] = found
        chosen[name] = found.impacted()
    return Selection(impacts, chosen, dict(plan.changed_since))


def write(selection: Selection, plan: RunPlan, report_dir: Path) -> Path:
    path = report_dir / SELECT_FILE
    path.write_text(json.dumps(selection.plugin_document(plan), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def describe(console: Console, selection: Selection) -> None:
    """Print what was selected and why."""
    for name, found in selection.impacts.items():
        diff = found.diff
        counts = diff.counts()
        chosen = selection.chosen[name]
        console.print(f"changed since: {name} {diff.old} → {diff.new}: {counts['breaking']} breaking, "
                      f"{counts['compatible']} compatible, {counts['info']} info change(s); impact from "
                      f"{' and '.join('run history' if m == 'history' else 'step text' for m in found.method()['methods'])}",
                      markup=False)
        if not chosen:
            console.print(f"  {name}: no scenario exercises the changed parts", markup=False)
            continue
        console.print(f"  selected {len(chosen)} of {len(found.scenarios)} scenarios:", markup=False)
        for scenario, changes, via in chosen:
            where = ", ".join(dict.fromkeys(c.location for c in changes))
            console.print(f"    {escape(scenario.feature)} · {escape(scenario.name)} — {escape(where)} "
                          f"[dim]({'+'.join(via)})[/dim]")


# -- the pytest side ----------------------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("hih").addoption("--hih-select", default=None,
                                     help="run only the scenarios listed in this JSON file (hih run --changed-since)")


def _identity(item: pytest.Item) -> tuple[str, str, dict[str, str] | None] | None:
    from pytest_bdd.scenario import scenario_wrapper_template_registry as registry

    templated = registry.get(getattr(item, "obj", None))  # type: ignore[arg-type]
    if templated is None:
        return None
    callspec = getattr(item, "callspec", None)
    example = callspec.params.get("_pytest_bdd_example") if callspec is not None else None
    return os.path.realpath(templated.feature.filename), templated.name, dict(example) if example else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    path = config.getoption("--hih-select")
    if not path:
        return
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    folders = {spec["folder"]: {(s["file"], s["scenario"], s["example_sha256"]) for s in spec["scenarios"]}
               for spec in document["interfaces"].values()}
    keep, drop = [], []
    for item in items:
        identity = _identity(item)
        if identity is None:
            keep.append(item)
            continue
        file, name, example = identity
        folder = next((f for f in folders if file.startswith(f.rstrip(os.sep) + os.sep)), None)
        if folder is None or (file, name, example_digest(example)) in folders[folder]:
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
