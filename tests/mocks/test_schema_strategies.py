"""Strategies from JSON Schemas built once per sub-schema (tests/mocks/schema_strategies.py): drawing many objects
builds each property's strategy once, what is drawn still fits the schema, and the insurance contract's inputs are
drawn as the library draws them."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis_jsonschema import _from_schema as library

from harness.contract.model import Contract
from tests.mocks import schema_strategies
from tests.mocks.hostile import inline_schema, json_inputs
from tests.strategies import examples

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["a", "b"],
    "properties": {"a": {"type": "string", "maxLength": 101}, "b": {"type": "string", "maxLength": 102},
                   "c": {"type": "string", "pattern": "^[0-9]{3}$"}},
    "additionalProperties": False,
}
"""Three string properties no other test's schema has, so that no strategy of theirs is kept yet."""


def test_each_property_strategy_is_built_once_however_many_objects_are_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[dict[str, Any]] = []
    string_schema = library.string_schema

    def counted(custom_formats: Any, alphabet: Any, schema: dict[str, Any]) -> Any:
        built.append(schema)
        return string_schema(custom_formats, alphabet, schema)

    monkeypatch.setattr(library, "string_schema", counted)
    drawn: list[dict[str, Any]] = []

    @settings(max_examples=examples(30), database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(value=schema_strategies.from_schema(SCHEMA))
    def draw(value: dict[str, Any]) -> None:
        jsonschema.validate(value, SCHEMA)
        drawn.append(value)

    draw()

    assert len(drawn) >= 30 and any("c" in value for value in drawn)
    assert sorted(schema.get("maxLength", 0) for schema in built) == [0, 101, 102], built  # one build each
    assert schema_strategies.kept() > 0


def test_the_insurance_inputs_drawn_fit_their_schema(contract_2024: Contract) -> None:
    relpath = contract_2024.operations["2201"].input_schema or ""
    schema = inline_schema(contract_2024, relpath)
    drawn: list[Any] = []

    @settings(max_examples=examples(5), database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=json_inputs(contract_2024, "2201"))
    def draw(data: Any) -> None:
        jsonschema.validate(data, schema)  # references to other files and the code tables written in place
        drawn.append(data)

    draw()
    assert len(drawn) >= 5
