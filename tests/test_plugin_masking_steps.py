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
