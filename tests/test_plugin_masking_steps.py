"""The step arguments a scenario's masker learns: parsed once per step text in a session, the same as parsing afresh,
and parsed again when step definitions were added since."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pytest_bdd import given, parsers
from pytest_bdd.steps import step_function_context_registry

import features.steps.insurance  # noqa: F401 - registers the insurance step definitions
from harness.plugin_masking import _step_arguments


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

    from pytest_bdd.parser import FeatureParser

    root = Path(__file__).resolve().parents[1] / "features"
    templates = []
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
