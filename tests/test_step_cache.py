"""harness.step_cache: pytest-bdd binds the same step definition with the same arguments as without the cache, and a
step that no definition matches, or two, ends the same way. A real pytest process runs a small project of features
and steps twice (with and without the plugin), and what each step bound is compared; the shipped
features are checked step by step against pytest-bdd's own search, so a pytest-bdd upgrade that changes how steps
are found fails here. The three cases read the same two processes (`both_runs`: one project holds every case), each
for its own facts."""

from __future__ import annotations

import copy
import importlib
import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from harness import step_cache
from tests.conftest import ROOT
from tests.forkserver import ForkServer

STEPS = '''
from __future__ import annotations
import json, os
from pytest_bdd import given, parsers, then, when

def said(what: str, **args: object) -> None:
    with open(os.environ["BOUND_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps([os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0], what, args]) + "\\n")
'''

CONFTEST = STEPS + '''
@given("a shared start")
def shared_start() -> None:
    said("conftest shared start")

@given("a start the module overrides")
def overridden_start() -> None:
    said("conftest start")

@then(parsers.parse("the total is {total:d} yuan"))
def total(total: int) -> None:
    said("conftest total", total=total)
'''

MODULE_A = STEPS + '''
from pytest_bdd import scenarios

@given("a start the module overrides")
def own_start() -> None:
    said("a start")

@when(parsers.parse("{count:d} items are sold"))
def sold(count: int) -> None:
    said("a sold", count=count)

@when("the same sentence means two things")
def first_meaning() -> None:
    said("a first meaning")

@when("the same sentence means two things")
def second_meaning() -> None:
    said("a second meaning")

scenarios("a.feature")
'''

MODULE_B = STEPS + '''
from pytest_bdd import scenarios

@when(parsers.parse("{count:d} items are sold"))
def sold_elsewhere(count: int) -> None:
    said("b sold", count=count * 10)

scenarios("b.feature")
'''

FEATURE_A = '''Feature: a
  Scenario: shared and overridden
    Given a shared start
    And a start the module overrides
    When 3 items are sold
    Then the total is 30 yuan

  Scenario Outline: many counts
    Given a shared start
    When <count> items are sold
    Then the total is <total> yuan

    Examples:
      | count | total |
      | 1     | 10    |
      | 2     | 20    |
      | 1     | 10    |

  Scenario: two meanings
    When the same sentence means two things

  Scenario: unknown
    Given a shared start
    When nobody wrote this step
'''

FEATURE_B = '''Feature: b
  Scenario: same words, another module
    Given a start the module overrides
    When 3 items are sold
    Then the total is 30 yuan
'''


def project(folder: Path) -> Path:
    files = {"conftest.py": CONFTEST, "test_a.py": MODULE_A, "test_b.py": MODULE_B, "a.feature": FEATURE_A,
             "b.feature": FEATURE_B}
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def _bound(line: str) -> tuple[str, str, dict[str, object]]:
    """One line of the bound-steps log: the test's nodeid, the step definition's words, its arguments."""
    test, what, args = json.loads(line)
    return test, what, args


Ran = tuple[list[tuple[str, str, dict[str, object]]], dict[str, str], str]
"""What each step bound (in order), each test's outcome, and pytest's failure lines."""


def run(fork_server: ForkServer, folder: Path, cached: bool) -> Ran:
    """`python -m pytest` over the project, forked from the suite's fork server (tests/forkserver.py): what the steps
    bound is compared, not how the process starts."""
    log = folder / f"bound-{cached}.jsonl"
    junit = folder / f"junit-{cached}.xml"
    printed = folder / f"pytest-{cached}.log"
    plugins = ["-p", "pytest_bdd.plugin"] + (["-p", "harness.step_cache"] if cached else [])
    env = dict(os.environ, BOUND_LOG=str(log), PYTHONPATH=str(ROOT))
    fork_server.run(["-q", "-p", "no:cacheprovider", "--disable-plugin-autoload", *plugins, "-rf",
                     f"--junitxml={junit}", "-o", "junit_family=xunit1", str(folder)], printed, env, folder,
                    timeout=120)
    from lxml import etree

    outcomes = {}
    for case in etree.parse(str(junit)).getroot().iter("testcase"):
        failure = case.find("failure")
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = (
            "passed" if failure is None else f"failed: {failure.get('message')}")
    bound = [_bound(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    failures = [line for line in printed.read_text(encoding="utf-8").splitlines() if line.startswith("FAILED")]
    return bound, outcomes, "\n".join(failures)


SAME_RUNS = pytest.mark.xdist_group("step_cache_runs")
"""The tests that read `both_runs` go to one worker, which runs the two processes once."""


@pytest.fixture(scope="module")
def both_runs(tmp_path_factory: pytest.TempPathFactory, fork_server: ForkServer) -> dict[bool, Ran]:
    """The project run with the cache (True) and without (False)."""
    folder = project(tmp_path_factory.mktemp("step-cache"))
    return {cached: run(fork_server, folder, cached) for cached in (True, False)}


@SAME_RUNS
def test_every_step_binds_the_same_definition_with_the_same_arguments_with_and_without_the_cache(
        both_runs: dict[bool, Ran]) -> None:
    bound, outcomes, failures = both_runs[True]
    assert (bound, outcomes, failures) == both_runs[False]

    steps = [(test.split("::")[-1], what, args) for test, what, args in bound]
    assert steps, "the steps ran"
    assert ("test_shared_and_overridden", "a start", {}) in steps, "the module's definition wins over the conftest's"
    assert ("test_same_words_another_module", "conftest start", {}) in steps, "another module sees the conftest's"
    assert ("test_same_words_another_module", "b sold", {"count": 30}) in steps, "the same text, its module's step"
    assert ("test_shared_and_overridden", "a sold", {"count": 3}) in steps
    sold = [args for test, what, args in steps if what == "a sold" and test.startswith("test_many_counts")]
    assert sold == [{"count": 1}, {"count": 2}, {"count": 1}], "each example's own arguments, a repeated text too"
    totals = [args["total"] for _, what, args in steps if what == "conftest total"]
    assert totals == [30, 10, 20, 10, 30]


@SAME_RUNS
def test_a_step_no_definition_matches_fails_the_same_with_the_cache(both_runs: dict[bool, Ran]) -> None:
    _, outcomes, failures = both_runs[True]
    unknown = [outcome for name, outcome in outcomes.items() if name.endswith("test_unknown")]
    assert len(unknown) == 1 and unknown[0].startswith("failed"), outcomes
    assert "Step definition is not found" in unknown[0] and "nobody wrote this step" in unknown[0]
    assert "StepDefinitionNotFound" in failures
    assert (outcomes, failures) == both_runs[False][1:]


@SAME_RUNS
def test_a_step_two_definitions_match_binds_as_pytest_bdd_does(both_runs: dict[bool, Ran]) -> None:
    """pytest-bdd 9 binds the definition registered last of two in one module; the cache changes nothing of it."""
    bound, outcomes, _ = both_runs[True]
    meanings = [what for test, what, _ in bound if test.endswith("test_two_meanings")]
    assert meanings == ["a second meaning"]
    assert both_runs[False][0] == bound
    assert [o for n, o in outcomes.items() if n.endswith("test_two_meanings")] == ["passed"]


CHECKER = '''
from __future__ import annotations
import json, os
import pytest
from pytest_bdd.scenario import scenario_wrapper_template_registry
from harness import step_cache

def pytest_collection_finish(session: pytest.Session) -> None:
    manager = session._fixturemanager
    checked, different = 0, []
    for item in session.items:
        template = scenario_wrapper_template_registry[item.obj]
        callspec = getattr(item, "callspec", None)
        scenario = template.render(callspec.params.get("_pytest_bdd_example", {}) if callspec else {})
        for step in scenario.steps:
            cached = list(step_cache.find_fixturedefs_for_step(step, manager, item))
            again = list(step_cache.find_fixturedefs_for_step(step, manager, item))
            own = list(step_cache.SEARCH(step=step, fixturemanager=manager, node=item))
            checked += 1
            if not (cached == again == own) or len(own) != 1:
                different.append(f"{item.nodeid}: {step.type} {step.name}: {cached} {own}")
    with open(os.environ["CHECKED"], "w", encoding="utf-8") as out:
        json.dump({"checked": checked, "items": len(session.items), "different": different[:10]}, out)
'''


def test_every_shipped_step_finds_what_pytest_bdds_own_search_finds(tmp_path: Path, fork_server: ForkServer) -> None:
    """Every step of every shipped scenario, under its own test module: exactly one definition, the one pytest-bdd's
    search finds, asked twice (the second answer from the cache). Its pytest process is forked (tests/forkserver.py)."""
    (tmp_path / "stepcheck.py").write_text(CHECKER, encoding="utf-8")
    checked = tmp_path / "checked.json"
    printed = tmp_path / "pytest.log"
    env = dict(os.environ, CHECKED=str(checked), PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]))
    code = fork_server.run(["-c", str(ROOT / "harness" / "run" / "pytest-run.ini"), "--rootdir", str(ROOT),
                            "--disable-plugin-autoload", "-p", "pytest_bdd.plugin", "-p", "harness.plugin",
                            "-p", "harness.step_cache", "-p", "stepcheck", "--collect-only", "-q",
                            str(ROOT / "features")], printed, env, ROOT, timeout=300)
    assert code == 0, printed.read_text(encoding="utf-8")[-6000:]
    result = json.loads(checked.read_text(encoding="utf-8"))
    assert result["items"] > 250 and result["checked"] > 1500, result
    assert result["different"] == []


def test_pytest_bdd_still_searches_through_the_module_function_the_plugin_replaces() -> None:
    """The seam the plugin uses: pytest-bdd's scenario module looks `find_fixturedefs_for_step` up at call time."""
    import inspect

    source = inspect.getsource(step_cache.SCENARIO.inject_fixturedefs_for_step)
    assert "find_fixturedefs_for_step(step=step, fixturemanager=fixturemanager, node=node)" in source
    assert step_cache.SEARCH.__module__ == "pytest_bdd.scenario"


def test_the_plugin_puts_pytest_bdds_search_back_when_the_session_ends(pytestconfig: pytest.Config) -> None:
    before = step_cache.SCENARIO.find_fixturedefs_for_step
    step_cache.pytest_configure(pytestconfig)
    try:
        assert step_cache.SCENARIO.find_fixturedefs_for_step is step_cache.find_fixturedefs_for_step
    finally:
        step_cache.pytest_unconfigure(pytestconfig)
    assert step_cache.SCENARIO.find_fixturedefs_for_step is before is step_cache.SEARCH


def _shipped_templates() -> list[Any]:
    from pytest_bdd.parser import FeatureParser

    templates: list[Any] = []
    for path in sorted((ROOT / "features").rglob("*.feature")):
        templates.extend(FeatureParser(str(path.parent), path.name).parse().scenarios.values())
    return templates


def test_a_data_table_rendered_without_a_deep_copy_is_pytest_bdds_rendering_and_shares_no_cell() -> None:
    """Every data table of every shipped scenario, for each of its example rows: the same table as pytest-bdd's deep
    copy renders, and a new one: a step that changed its cells would not change the template's, nor the next
    scenario's table."""
    from pytest_bdd.parser import Step

    own = step_cache._REPLACED.get((Step, "render_datatable"), Step.__dict__["render_datatable"]).__func__
    compared = 0
    for template in _shipped_templates():
        examples = [context for block in template.examples for context in block.as_contexts()] or [{}]
        for step in template.all_background_steps + template._steps:
            if step.datatable is None:
                continue
            for example in examples:
                before = copy.deepcopy(step.datatable)
                ours = step_cache.render_table(step.datatable, example)
                assert ours == own(step.datatable, example), (template.name, step.name, example)
                ours.rows[0].cells[0].value = "changed by a step"
                ours.rows.append(ours.rows[0])
                assert step.datatable == before  # the template's table is as parsed
                assert step_cache.render_table(step.datatable, example) == own(step.datatable, example)
                compared += 1
    assert compared > 50


def test_a_step_functions_signature_and_required_arguments_are_inspects() -> None:
    """For every shipped step definition: the kept answers are those pytest-bdd works out afresh, and the list of
    required arguments is the caller's own (pytest-bdd's callers may change it)."""
    import inspect

    from pytest_bdd.steps import step_function_context_registry
    from pytest_bdd.utils import get_required_args

    for name in ("blood_center", "common", "hl7", "insurance", "lis", "mch_platform", "mch_samples", "pacs"):
        importlib.import_module(f"features.steps.{name}")  # registers the shipped step definitions

    functions = [context.step_func for context in step_function_context_registry.values()]
    assert len(functions) > 100
    for func in functions:
        assert step_cache.signature(func) == inspect.signature(func)
        assert step_cache.signature(func) is step_cache.signature(func)
        required = step_cache.required_args(func)
        assert required == get_required_args(func)
        required.append("changed")
        assert step_cache.required_args(func) == get_required_args(func)


def test_the_plugin_puts_back_every_function_of_pytest_bdd_it_stands_in_for(pytestconfig: pytest.Config) -> None:
    from pytest_bdd.parser import Step

    def current() -> list[Any]:
        return [step_cache.SCENARIO.signature, step_cache.SCENARIO.get_required_args,
                Step.__dict__["render_datatable"]]

    before = current()
    step_cache.pytest_configure(pytestconfig)
    try:
        assert step_cache.SCENARIO.signature is step_cache.signature
        assert step_cache.SCENARIO.get_required_args is step_cache.required_args
        assert Step.__dict__["render_datatable"].__func__ is step_cache.render_table
    finally:
        step_cache.pytest_unconfigure(pytestconfig)
    assert current() == before
