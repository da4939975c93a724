"""The native check runs a schema with whole-number bounds first (`tightened`) and the exact one only for what that
refuses: the verdict must stay exactly the schema's, at the bounds and around them."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.contract.json_schemas import SchemaSet, jsonschema_rs, tightened
from harness.contract.model import Contract

AMOUNT = {"anyOf": [{"type": "number", "minimum": -99999999999999.98, "maximum": 99999999999999.98},
                    {"type": "string", "pattern": "^-?\\d{1,14}(\\.\\d{1,2})?$"}]}


def test_fractional_bounds_become_the_whole_numbers_inside_them() -> None:
    schema: dict[str, Any] = {"type": "object", "properties": {
        "ratio": {"type": "number", "minimum": 0.5, "maximum": 999.9},
        "minimum": {"type": "number", "minimum": -1.5},  # a property named like the keyword stays a property
        "whole": {"type": "number", "minimum": 0, "maximum": 10.0},
        "code": {"enum": [1.5, 2.5], "default": 0.5},
    }}
    out = tightened(schema)
    props = out["properties"]
    assert props["ratio"] == {"type": "number", "minimum": 1, "maximum": 999}
    assert props["minimum"] == {"type": "number", "minimum": -1}
    assert props["whole"] == {"type": "number", "minimum": 0, "maximum": 10}
    assert props["code"] == {"enum": [1.5, 2.5], "default": 0.5}  # data is not schema
    assert schema["properties"]["ratio"]["maximum"] == 999.9  # the original is not changed


@pytest.mark.skipif(jsonschema_rs is None, reason="the native validator has no wheel on this platform")
@given(st.one_of(st.floats(allow_nan=False), st.integers(), st.decimals(places=2, allow_nan=False,
                                                                       allow_infinity=False).map(float)))
def test_verdict_equals_the_exact_schema_for_any_number(value: float) -> None:
    exact = jsonschema_rs.Draft202012Validator(AMOUNT)
    strict = jsonschema_rs.Draft202012Validator(tightened(AMOUNT))
    assert bool(strict.is_valid(value) or exact.is_valid(value)) == exact.is_valid(value)
    if strict.is_valid(value):
        assert exact.is_valid(value)  # stricter: never accepts what the schema refuses


@pytest.mark.skipif(jsonschema_rs is None, reason="the native validator has no wheel on this platform")
def test_values_between_the_whole_and_the_fractional_bound_are_still_valid(contract_2024: Contract) -> None:
    schemas: SchemaSet = contract_2024.extra["schema_set"]
    common = next(rel for rel in schemas.documents if rel.endswith("common.json"))
    amount = f"{common}#/$defs/amount"
    top = 99999999999999.98
    for value, valid in [(top, True), (math.floor(top) + 0.5, True), (-top, True), (12.5, True),
                         (math.nextafter(top, math.inf) + 1, False), (-top - 1, False)]:
        assert schemas.is_valid(value, amount) is valid, value
        assert (not list(schemas.validator(amount).iter_errors(value))) is valid, value
