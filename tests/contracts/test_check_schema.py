"""The fast meta-schema check agrees with jsonschema's `check_schema` on every contract schema and on broken ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from harness.contract.json_schemas import check_schema

ROOT = Path(__file__).resolve().parents[2]
BROKEN: list[dict[str, Any]] = [
    {"type": "strnig"}, {"pattern": "("}, {"properties": {"a": {"pattern": "[a-"}}}, {"minLength": -1},
    {"required": "a"}, {"patternProperties": {"(": {}}}, {"enum": "x"}, {"items": 3}, {"$defs": {"a": 1}},
    {"allOf": []}, {"properties": {"a": {"type": ["string", "string"]}}},
]
FINE: list[dict[str, Any]] = [
    {"default": {"pattern": "("}}, {"properties": {"pattern": {"type": "string"}}}, {"pattern": "^\\d{4}$"},
    {"patternProperties": {"^x-": {"type": "string"}}}, {"format": "not-a-known-format"},
]


def outcome(check: Any, schema: dict[str, Any]) -> str:
    try:
        check(schema)
    except jsonschema.SchemaError as exc:
        return f"invalid: {exc.message}"
    return "valid"


@pytest.mark.parametrize("schema", BROKEN + FINE, ids=[json.dumps(s) for s in BROKEN + FINE])
def test_the_fast_check_decides_as_jsonschema_does(schema: dict[str, Any]) -> None:
    assert outcome(check_schema, schema) == outcome(jsonschema.Draft202012Validator.check_schema, schema)


def test_every_contract_schema_passes_both() -> None:
    files = sorted((ROOT / "contracts").rglob("schemas/*.json"))
    assert files
    for path in files:
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert outcome(check_schema, schema) == outcome(jsonschema.Draft202012Validator.check_schema, schema) == "valid", path
