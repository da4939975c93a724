"""The step arguments a scenario's masker learns: parsed once per step text in a session, the same as parsing afresh,
and parsed again when step definitions were added since."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import given as given_
from hypothesis import strategies as st
from pytest_bdd import given, parsers
from pytest_bdd.steps import step_function_context_registry

import features.steps.insurance  # noqa: F401 - registers the insurance step definitions
from harness.plugin_masking import _step_arguments
from tests.strategies import examples


class Table:
    def __init__(self, rows: list[list[str]]) -> None:
        self.rows = rows

    def raw(self) -> list[list[str]]:
        return self.rows


def step(name: str, kind: str = "given", rows: list[list[str]] | None = None) -> Any:
    return SimpleNamespace(name=name, type=kind, datatable=Table(rows) if rows else None)


def test_cached_arguments_are_those_parsed_afresh() -> None:
    cache: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    steps = [step('参保人是"职工"'), step('参保人是"居民"'), step("不存在的步骤"),
             step("费用明细", rows=[["姓名", "病历号"], ["张三", "MRN0001"]])]
    for one in steps:
        first = _step_arguments(one, cache)
        assert first == _step_arguments(one)
        assert _step_arguments(one, cache) == first  # from the cache now
    assert {"role": "职工"} in _step_arguments(steps[0], cache)
    assert {"姓名": "张三", "病历号": "MRN0001"} in _step_arguments(steps[3], cache)
    assert len(cache) == len(steps)


def test_an_answer_from_the_cache_is_a_copy() -> None:
    cache: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    one = step('参保人是"职工"')
    _step_arguments(one, cache)[0]["role"] = "changed"
    assert {"role": "职工"} in _step_arguments(one, cache)


def test_a_step_definition_added_later_is_matched() -> None:
    cache: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    one = step("患者的病历号是 MRN7788 仅用于缓存测试")
    before = _step_arguments(one, cache)
    assert all("mrn" not in found for found in before)
    size = len(step_function_context_registry)

    @given(parsers.parse("患者的病历号是 {mrn} 仅用于缓存测试"))
    def _late_step(mrn: str) -> None:
        """A definition registered after the first lookup."""

    assert len(step_function_context_registry) == size + 1
    assert {"mrn": "MRN7788"} in _step_arguments(one, cache)


def _feature_templates() -> list[Any]:
    from pathlib import Path

    from pytest_bdd.parser import FeatureParser, ScenarioTemplate

    root = Path(__file__).resolve().parents[1] / "features"
    templates: list[ScenarioTemplate] = []
    for path in sorted(root.rglob("*.feature")):
        feature = FeatureParser(str(path.parent), path.name).parse()
        templates.extend(feature.scenarios.values())
    return templates


def _as_parsed(steps: list[Any]) -> list[tuple[Any, ...]]:
    return [(s.type, s.name, s.datatable.raw() if s.datatable is not None else None) for s in steps]


def test_steps_rendered_for_the_masker_are_pytest_bdds_rendering() -> None:
    from harness.plugin_masking import rendered_steps

    templates = _feature_templates()
    assert len(templates) > 100  # every interface's features
    compared = with_table = with_example = 0
    for template in templates:
        examples = [context for block in template.examples for context in block.as_contexts()] or [{}]
        for example in examples:
            ours = _as_parsed(rendered_steps(template, example))
            assert ours == _as_parsed(template.render(example).steps), (template.name, example)
            compared += 1
            with_table += any(table is not None for _, _, table in ours)
            with_example += bool(example)
    assert compared > 200 and with_table > 10 and with_example > 10  # outlines and data tables were among them


def test_a_placeholder_without_a_value_is_left_as_written() -> None:
    from harness.plugin_masking import StepText, rendered_steps

    outline = next(t for t in _feature_templates() if t.examples)
    assert any("<" in s.name for s in rendered_steps(outline, {}))
    assert _as_parsed(rendered_steps(outline, {})) == _as_parsed(outline.render({}).steps)
    assert StepText("given", "x", None).datatable is None
    assert StepText("given", "x", (("a", "b"), ("1", "2"))).raw() == [["a", "b"], ["1", "2"]]


# -- the definitions tried for a step: those whose literal prefix its text starts with ----------------------------
TRICKY = [
    (parsers.re(r"abc|xyz"), ""),
    (parsers.re(r"(?i)abc"), ""),
    (parsers.re(r"医院 (?P<x>\d+)|病房"), ""),
    (parsers.re(r"医院[|(]病房|病区"), ""),
    (parsers.re(r"医院(以 (?P<c>[^\"]+) )?开立"), "医院"),
    (parsers.re(r"医院?病房"), "医"),
    (parsers.re(r"医院{2}病房"), "医"),
    (parsers.re(r"门诊\d+号"), "门诊"),
    (parsers.re(r"门诊.号"), "门诊"),
    (parsers.re(r"LIS 收到(?P<n>\d+)"), ""),
    (parsers.re(r"收到 LIS(?P<n>\d+)", flags=0), "收到 "),
    (parsers.re(r"收到 医院", flags=re.VERBOSE), ""),
    (parsers.re(r"收到 Lis", flags=re.IGNORECASE), "收到 "),
    (parsers.parse("收到 LIS {n:d} 条"), "收到 "),
    (parsers.parse("收到{{{n:d}}}条"), "收到{"),
    (parsers.parse("{who} 收到"), ""),
    (parsers.cfparse("病区 {n:d} 床"), "病区 "),
    (parsers.string("门诊挂号返回了就诊ID"), "门诊挂号返回了就诊"),
]
"""Parsers of every kind, each with the prefix it must have: none where an alternative outside a group, a flag or
a field comes first; only caseless characters, as parse and a flagged expression ignore case."""


def test_the_literal_prefix_of_each_kind_of_parser() -> None:
    from harness.plugin_masking import literal_prefix

    assert [literal_prefix(parser) for parser, _ in TRICKY] == [prefix for _, prefix in TRICKY]
    assert parsers.parse("收到 LIS {n:d} 条").is_matching("收到 lis 3 条")  # why a cased letter ends the prefix


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given_(st.sampled_from([parser for parser, _ in TRICKY if isinstance(parser, parsers.re)]), st.data())
def test_every_text_an_expression_matches_starts_with_its_prefix(parser: Any, data: st.DataObject) -> None:
    from harness.plugin_masking import literal_prefix

    text = data.draw(st.from_regex(parser.regex, fullmatch=True))
    assert parser.is_matching(text)
    assert text.startswith(literal_prefix(parser)), (parser.name, text)


def test_the_definitions_tried_give_what_every_definition_gives_for_every_feature_step() -> None:
    import importlib
    import pkgutil

    import features.steps
    from harness.plugin_masking import _candidates, _parsed_arguments, rendered_steps

    for module in pkgutil.iter_modules(features.steps.__path__):
        importlib.import_module(f"features.steps.{module.name}")
    registry = step_function_context_registry
    seen: set[tuple[str, str]] = set()
    tried = 0
    for template in _feature_templates():
        for example in [c for block in template.examples for c in block.as_contexts()] or [{}]:
            for one in rendered_steps(template, example):
                if (one.type, one.name) in seen:
                    continue
                seen.add((one.type, one.name))
                table = one.raw()
                candidates = _candidates(one, registry)
                assert _parsed_arguments(one, candidates, table) == _parsed_arguments(one, registry.values(), table)
                tried += len(candidates)
    assert len(seen) > 500
    assert tried < len(seen) * len(registry) / 10  # the point: few definitions tried per step
