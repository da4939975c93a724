"""pytest plugin of `hih run`'s pytest processes: what pytest-bdd works out for every step it runs, worked out once
where the answer depends only on the step definition or the step text: the search for the step definitions that match
a step's text (the walk over the session's fixtures done once per test module instead of once per step), the step
function's signature and required arguments, and an outline's data table rendered without a deep copy.

For every step of every scenario pytest-bdd (`pytest_bdd.scenario.find_fixturedefs_for_step`) walks every fixture
name the session knows and asks pytest which definitions of it the scenario sees (`FixtureManager.getfixturedefs`):
≈ 2,500 look-ups per scenario in a run of every interface, most of a scenario's step lookup. Which step definitions
a scenario sees is decided when its test module is collected (the module's own and imported definitions, its
packages', conftests' and plugins'): every scenario of one module sees the same. So the definitions each parent
node sees are listed once, in the order pytest-bdd's walk meets them; a step is matched against that list (type and
parser, as pytest-bdd does), and the answer kept per (parent node, step type, step text) for the session.
pytest-bdd does the rest as before: it sorts the matches by scope, binds the closest through pytest's own fixture
resolution, parses the step's arguments, and reports a step no definition matches (`StepDefinitionNotFoundError`,
with its hook).

For every step pytest-bdd also inspects the step function's signature twice (`inspect.signature`: which parsed
arguments it takes, and `get_required_args`: which fixtures to ask for), ≈ 0.2 ms a step; a function's signature
does not change, so each is kept per function (`signature`, `required_args`). And it renders each step's data table
for the scenario's example row by deep-copying the table (`Step.render_datatable`: ≈ 5 ms for a table of the blood
centre's), where a new table of new rows of new cells holding the rendered texts is the same value (`render_table`;
the cells' locations, never changed, are shared).

What it relies on, checked by tests/test_step_cache.py so that an upgrade fails loudly: pytest-bdd 9.0's
`inject_fixturedefs_for_step` calls the module-level `find_fixturedefs_for_step(step, fixturemanager, node)` with
the scenario's test item as `node`; a step definition is a fixture of the module that defines or imports it, never
of a single test item (pytest-bdd registers only `target_fixture` values there, which are not step definitions).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from pytest_bdd.compat import get_fixture_names, getfixturedefs
from pytest_bdd.gherkin_parser import DataTable
from pytest_bdd.parser import Step, render_string
from pytest_bdd.steps import StepFunctionContext, step_function_context_registry
from pytest_bdd.utils import get_required_args

SCENARIO: Any = importlib.import_module("pytest_bdd.scenario")
"""pytest-bdd's scenario module (`pytest_bdd.scenario` the attribute is its `scenario` function)."""
FUNCTIONS_KEPT = 4096
"""Step functions whose signature is kept: a run's step definitions number in the hundreds."""

Key = tuple[Any, str | None, str]
"""(the scenario item's parent node, step type, step text)."""


@dataclass
class Found:
    """One session's answers: the step definitions each parent node sees, and the ones each step text matched."""

    visible: dict[Any, tuple[tuple[Any, StepFunctionContext], ...]] = field(default_factory=dict)
    matched: dict[Key, tuple[Any, ...]] = field(default_factory=dict)


FOUND = pytest.StashKey[Found]()
SEARCH: Callable[..., Iterable[Any]] = SCENARIO.find_fixturedefs_for_step
"""pytest-bdd's own search, which this one stands in for."""
_USERS: list[pytest.Config] = []
"""The sessions of this process that have the plugin configured."""


def visible_definitions(fixturemanager: Any, node: Any) -> tuple[tuple[Any, StepFunctionContext], ...]:
    """Every step definition `node` sees, with its context, in the order pytest-bdd's search meets them: fixture
    names as the manager lists them, and each name's definitions as pytest orders them for `node`."""
    return tuple((fixturedef, context)
                 for name in get_fixture_names(fixturemanager=fixturemanager)
                 for fixturedef in getfixturedefs(fixturemanager, name, node) or ()
                 if (context := step_function_context_registry.get(fixturedef.func)) is not None)


def find_fixturedefs_for_step(step: Any, fixturemanager: Any, node: Any) -> Iterable[Any]:
    """`pytest_bdd.scenario.find_fixturedefs_for_step`, from the definitions the scenario's parent node sees (found
    once per node) and, for a step text asked before under that node, from the answer then. A session without this
    plugin (another pytest run in the same process) searches as pytest-bdd does. The answers are bounded by the
    collected scenarios: one per step text per test module."""
    found = node.config.stash.get(FOUND, None)
    parent = node.parent
    if found is None or parent is None:
        return SEARCH(step=step, fixturemanager=fixturemanager, node=node)
    key = (parent, step.type, step.name)
    defs = found.matched.get(key)
    if defs is None:
        visible = found.visible.get(parent)
        if visible is None:
            visible = found.visible[parent] = visible_definitions(fixturemanager, parent)
        defs = found.matched[key] = tuple(
            fixturedef for fixturedef, context in visible
            if (context.type is None or context.type == step.type) and context.parser.is_matching(step.name))
    return defs


@functools.lru_cache(maxsize=FUNCTIONS_KEPT)
def signature(func: Callable[..., object]) -> inspect.Signature:
    """`inspect.signature` of a step function, kept per function (a Signature is immutable)."""
    return inspect.signature(func)


@functools.lru_cache(maxsize=FUNCTIONS_KEPT)
def _required_args(func: Callable[..., object]) -> tuple[str, ...]:
    return tuple(get_required_args(func))


def required_args(func: Callable[..., object]) -> list[str]:
    """pytest-bdd's `get_required_args` of a step function (the fixtures it asks for), kept per function."""
    return list(_required_args(func))


def render_table(datatable: DataTable, context: Mapping[str, object]) -> DataTable:
    """pytest-bdd's `Step.render_datatable`: the table with every cell's text rendered for the example row, as new
    table, rows and cells, without deep-copying the rest (locations, which nothing changes, are shared)."""
    return dataclasses.replace(datatable, rows=[
        dataclasses.replace(row, cells=[dataclasses.replace(cell, value=render_string(cell.value, context))
                                        for cell in row.cells])
        for row in datatable.rows])


_REPLACED: dict[tuple[Any, str], Any] = {}
"""pytest-bdd's own functions that this plugin stands in for, by (owner, name), while a session uses it."""
_STAND_INS: tuple[tuple[Any, str, Any], ...] = (
    (SCENARIO, "find_fixturedefs_for_step", find_fixturedefs_for_step),
    (SCENARIO, "signature", signature),
    (SCENARIO, "get_required_args", required_args),
    (Step, "render_datatable", staticmethod(render_table)),
)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.stash[FOUND] = Found()
    for owner, name, stand_in in _STAND_INS:
        _REPLACED.setdefault((owner, name), owner.__dict__[name])
        setattr(owner, name, stand_in)
    _USERS.append(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The session's answers go; pytest-bdd's own search is put back once no session in the process uses this one
    (pytester's in-process runs nest inside another session)."""
    config.stash[FOUND] = Found()
    if config in _USERS:
        _USERS.remove(config)
    if not _USERS:
        for (owner, name), own in _REPLACED.items():
            setattr(owner, name, own)
        _REPLACED.clear()
