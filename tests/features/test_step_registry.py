"""One meaning per sentence: every step the features use matches exactly one step definition across all step
modules, and no Then step asserts bare (failures are SpecFailures with business words)."""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict

import pytest
from pytest_bdd.parser import FeatureParser, Step
from pytest_bdd.steps import StepFunctionContext, step_function_context_registry

from tests.conftest import ROOT

FEATURES = ROOT / "features"
STEP_MODULES = sorted(p.stem for p in (FEATURES / "steps").glob("*.py") if p.stem != "__init__")


def _definitions() -> list[StepFunctionContext]:
    for name in STEP_MODULES:
        importlib.import_module(f"features.steps.{name}")
    return list({id(c): c for c in step_function_context_registry.values()
                 if c.step_func.__module__.startswith("features.steps.")}.values())


def _used_steps() -> list[tuple[str, Step]]:
    """Every step of every scenario, outline examples rendered (where: file and scenario)."""
    used = []
    for path in sorted(FEATURES.rglob("*.feature")):
        feature = FeatureParser(str(path.parent), path.name).parse()
        for template in feature.scenarios.values():
            contexts = [c for e in template.examples for c in e.as_contexts()] or [{}]
            for context in contexts:
                for step in template.render(context).steps:
                    used.append((f"{path.relative_to(ROOT)} · {template.name}", step))
    return used


def test_every_sentence_the_features_use_has_exactly_one_definition() -> None:
    definitions = _definitions()
    ambiguous: dict[str, set[str]] = defaultdict(set)
    missing = []
    used = _used_steps()
    assert len(used) > 1000, "the features were all read"
    for where, step in used:
        matches = {f"{c.step_func.__module__}.{c.step_func.__name__}" for c in definitions
                   if c.type in (step.type, None) and c.parser.is_matching(step.name)}
        if not matches:
            missing.append(f"{where}: {step.type} {step.name}")
        elif len(matches) > 1:
            ambiguous[f"{step.type} {step.name}"] |= matches
    assert not missing, missing[:10]
    assert not ambiguous, {k: sorted(v) for k, v in list(ambiguous.items())[:10]}


def test_no_step_module_asserts_bare() -> None:
    """Step modules fail through `features.steps.outcome` (SpecFailure), never with a bare assert."""
    found = []
    for name in STEP_MODULES:
        path = FEATURES / "steps" / f"{name}.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assert):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, found


@pytest.mark.parametrize("module", STEP_MODULES)
def test_every_step_module_uses_the_shared_sentences_rather_than_its_own(module: str) -> None:
    shared = {c.parser.name for c in _definitions() if c.step_func.__module__ == "features.steps.common"}
    assert shared, "features/steps/common.py defines the shared sentences"
    own = {c.parser.name for c in _definitions() if c.step_func.__module__ == f"features.steps.{module}"}
    assert module == "common" or not own & shared, sorted(own & shared)


def _literal(node: ast.expr) -> bool:
    """A loop over fields to compare (a tuple, a CONSTANT, a slice of one) or over the scenario's own text."""
    text = ast.unparse(node)
    return isinstance(node, ast.Tuple | ast.List) or text.split("[")[0].isupper() or ".split(" in text


def test_a_then_step_over_a_list_checks_it_is_not_empty_first() -> None:
    """Then steps that loop over what a mock or connector holds go through `nonempty` (or an equality on the whole
    list): a `for` over an unchecked list in a Then step passes on nothing."""
    offenders = []
    for name in STEP_MODULES:
        path = FEATURES / "steps" / f"{name}.py"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
            is_then = any(isinstance(d, ast.Call) and getattr(d.func, "id", "") == "then" for d in function.decorator_list)
            if not is_then:
                continue
            source = ast.unparse(function)
            # loops over a literal (the fields to compare) or over the scenario's own text are not loops over data
            loops = [n for n in ast.walk(function) if isinstance(n, ast.For) and not _literal(n.iter)]
            if loops and not any(guard in source for guard in ("nonempty(", "_units(", "count_of(", "same_items(",
                                                               "expect(checked", "expect(business", "expect(len(")):
                offenders.append(f"{path.relative_to(ROOT)}:{function.lineno} {function.name}")
    assert not offenders, offenders
