"""Several planted defects of one interface in one run: each scenario gets the connector of the one defect whose tags
select it, so that the defects share a run (and its start) and still each meet only its own scenarios, as in a run
of its own. tests/run/test_planted_defects.py deals into one run only defects whose tags select no scenario in
common on their interface.

`hih run --connector INTERFACE=tests.data.connectors.defects.together:INTERFACE+NAME+NAME...` takes the defects of
the interface's module (`DEFECTS`) whose factories are named NAME. A scenario no defect's tags select (one the run's
tags select for another interface's defect) gets the first. The scenario a connector is built for is the one pytest
is setting up (`PYTEST_CURRENT_TEST`), its tags pytest-bdd's (the feature's and the scenario's); a scenario that
cannot be found is an error of the factory (the run exits 2), never a silent choice.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from _pytest.mark.expression import Expression, ExpressionMatcher

from tests.data.connectors.defects import Defect

MODULES = {"insurance": "insurance", "blood-center": "blood_center", "mch-platform": "mch_platform", "lis": "hl7",
           "pacs": "hl7"}
"""The module of `tests.data.connectors.defects` that lists each interface's defects."""
HERE = __name__


def spec_of(defects: list[Defect]) -> str:
    """The `--connector` value of defects of one interface sharing a run (one defect: its own factory)."""
    if len(defects) == 1:
        return defects[0].factory
    interfaces = {d.interface for d in defects}
    assert len(interfaces) == 1, interfaces
    return f"{HERE}:{'+'.join([interfaces.pop(), *(d.factory.rsplit(':', 1)[1] for d in defects)])}"


@cache
def _compiled(tags: str) -> Expression:
    return Expression.compile(re.sub(r"@([\w.:-]+)", r"\1", tags))


def selects(tags: str, scenario: frozenset[str]) -> bool:
    """Whether a defect's tag expression (`@flow or @fault`) selects a scenario of these tags (without `@`)."""

    def matches(name: str, /, **kwargs: str | int | bool | None) -> bool:
        return name in scenario

    matcher: ExpressionMatcher = matches
    return bool(_compiled(tags).evaluate(matcher))


def current_tags() -> frozenset[str]:
    """The tags of the scenario pytest is setting up in this process."""
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    nodeid = current.rsplit(" (", 1)[0]
    path, _, name = nodeid.partition("::")
    name = name.split("[", 1)[0]
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and path and Path(file).as_posix().endswith(path):
            function = getattr(module, name, None)
            template = scenario_wrapper_template_registry.get(function) if callable(function) else None
            if template is not None:
                return frozenset(tag.lstrip("@") for tag in {*template.tags, *template.feature.tags})
    raise RuntimeError(f"no scenario of pytest-bdd for {current!r}: cannot tell which planted defect it meets")


@dataclass(frozen=True)
class Together:
    """The factory of the defects' connectors: the one whose tags select the scenario being set up."""

    defects: tuple[Defect, ...]

    def pick(self, tags: frozenset[str]) -> Defect:
        return next((d for d in self.defects if selects(d.tags, tags)), self.defects[0])

    def __call__(self, settings: Any) -> Any:
        from harness.bindings import load_factory

        return load_factory(self.pick(current_tags()).factory)(settings)


def __getattr__(name: str) -> Callable[[Any], Any]:
    """`INTERFACE+NAME+NAME...`: the defects' factory (`Together`)."""
    interface, *names = name.split("+")
    if not names or interface not in MODULES:
        raise AttributeError(name)
    listed: list[Defect] = importlib.import_module(f"tests.data.connectors.defects.{MODULES[interface]}").DEFECTS
    mine = {d.factory.rsplit(":", 1)[1]: d for d in listed if d.interface == interface}
    missing = [n for n in names if n not in mine]
    if missing:
        raise AttributeError(f"{interface} has no planted defect {missing}")
    return Together(tuple(mine[n] for n in names))
