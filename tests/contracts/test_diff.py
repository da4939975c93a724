"""The contract differ on small hand-made schema pairs (every classification, both sides) and on edited copies of
a real contract (transactions, paths, code tables, rules, formats, signing)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from harness.contract.diff import Change, Classification, Target, by_side, diff_contracts
from harness.contract.diff_json_schema import Comparator, Flattener, Part, table_of_ref, to_change
from harness.contract.loader import ContractStore
from tests.conftest import CONTRACTS

BREAKING, COMPATIBLE, INFO = Classification.BREAKING, Classification.COMPATIBLE, Classification.INFO
CODES = {"$defs": {"cert": {"enum": ["01", "02", "03"]}}}
COMMON = {"$defs": {"name": {"type": "string", "maxLength": 50}, "amount": {"anyOf": [
    {"type": "number", "minimum": 0}, {"type": "string", "pattern": r"^\d+(\.\d{1,2})?$"}]}}}


def _shape(schema: dict[str, Any], codes: dict[str, Any] = CODES) -> Any:
    registry = Registry().with_resources([
        ("file:///t/codes.json", DRAFT202012.create_resource(codes)),
        ("file:///t/common.json", DRAFT202012.create_resource(COMMON)),
        ("file:///t/s.json", DRAFT202012.create_resource(schema)),
    ])
    resolved = registry.resolver().lookup("file:///t/s.json")
    return Flattener(table_of_ref("codes.json")).flatten(resolved.contents, resolved.resolver)


def changes(old: dict[str, Any], new: dict[str, Any], side: str = "request") -> list[Change]:
    deltas = Comparator().compare(_shape(old), _shape(new))
    wire = "/input" if side == "request" else "/output"
    return [to_change(d, Part(f"9999 {'input' if side == 'request' else 'output'}", "input", side, "9999", wire))
            for d in deltas]


def obj(properties: dict[str, Any], required: list[str] | None = None, **more: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or [], **more}


def only(found: list[Change]) -> Change:
    assert len(found) == 1, [c.message for c in found]
    return found[0]


S = {"type": "string"}


# -- fields -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("side", "expected"), [("request", BREAKING), ("response", BREAKING)])
def test_a_removed_field_breaks_both_sides(side: str, expected: Classification) -> None:
    change = only(changes(obj({"a": S, "b": S}), obj({"a": S}), side))
    assert (change.classification, change.category, change.location) == (expected, "field-removed", f"9999 {'input' if side == 'request' else 'output'} /b")
    assert ("senders" if side == "request" else "readers") in change.message


@pytest.mark.parametrize("side", ["request", "response"])
def test_an_added_optional_field_is_compatible_on_both_sides(side: str) -> None:
    change = only(changes(obj({"a": S}), obj({"a": S, "b": S}), side))
    assert (change.classification, change.category) == (COMPATIBLE, "field-added")


@pytest.mark.parametrize(("side", "expected"), [("request", BREAKING), ("response", COMPATIBLE)])
def test_an_added_required_field_breaks_senders_only(side: str, expected: Classification) -> None:
    change = only(changes(obj({"a": S}), obj({"a": S, "b": S}, ["b"]), side))
    assert change.classification is expected
    assert change.targets[0].match == ("operation" if side == "request" else "field")


@pytest.mark.parametrize(("side", "expected"), [("request", BREAKING), ("response", COMPATIBLE)])
def test_a_field_newly_required(side: str, expected: Classification) -> None:
    change = only(changes(obj({"a": S, "b": S}), obj({"a": S, "b": S}, ["b"]), side))
    assert (change.classification, change.category) == (expected, "required-added")
    assert "now required" in change.message


@pytest.mark.parametrize(("side", "expected"), [("request", COMPATIBLE), ("response", BREAKING)])
def test_a_field_no_longer_required(side: str, expected: Classification) -> None:
    change = only(changes(obj({"b": S}, ["b"]), obj({"b": S}), side))
    assert (change.classification, change.category) == (expected, "required-removed")
    assert ("readers that expect it break" in change.message) is (side == "response")


def test_a_field_required_through_if_then_is_breaking_and_names_the_condition() -> None:
    conditional = {"if": {"properties": {"kind": {"const": "03"}}, "required": ["kind"]},
                   "then": {"required": ["sn"], "properties": {"sn": {"minLength": 1}}}}
    old = obj({"kind": S, "sn": S}, ["kind"])
    change = only(changes(old, {**old, **conditional}))
    assert (change.classification, change.category, change.location) == (BREAKING, "required-added", "9999 input /sn")
    assert 'sn now required (minLength 1) when kind is "03"' in change.message
    assert change.targets == (Target("9999", "request", "/input/sn", "field"),)
    back = only(changes({**old, **conditional}, old))
    assert (back.classification, back.category) == (COMPATIBLE, "required-removed")


def test_a_requirement_through_dependent_required() -> None:
    change = only(changes(obj({"a": S, "b": S}), obj({"a": S, "b": S}, dependentRequired={"a": ["b"]})))
    assert change.classification is BREAKING and "when a is present" in change.message


def test_an_else_branch_and_an_unchanged_condition() -> None:
    cond: dict[str, Any] = {"if": {"properties": {"k": {"const": "1"}}}, "then": {"required": ["a"]}}
    base = obj({"k": S, "a": S, "b": S}, **cond)
    assert changes(base, base) == []
    change = only(changes(base, {**base, "else": {"required": ["b"]}}))
    assert change.classification is BREAKING and 'when not (k is "1")' in change.message


def test_nested_objects_and_array_items_are_located_with_a_star() -> None:
    old = obj({"list": {"type": "array", "items": obj({"cnt": {"type": "string", "maxLength": 10}})}})
    new = obj({"list": {"type": "array", "items": obj({"cnt": {"type": "string", "maxLength": 8}})}})
    change = only(changes(old, new))
    assert (change.location, change.category, change.classification) == ("9999 input /list/*/cnt", "length-changed", BREAKING)
    assert change.targets[0].path == "/input/list/*/cnt"


# -- types, lengths, patterns, values, cardinality --------------------------------------------------------------
@pytest.mark.parametrize(("old", "new", "on_request", "on_response"), [
    (["string", "null"], "string", BREAKING, COMPATIBLE),       # narrowed: no more null
    ("string", ["string", "null"], COMPATIBLE, BREAKING),       # widened: readers may now get null
    ("integer", "number", COMPATIBLE, BREAKING),
    ("number", "integer", BREAKING, COMPATIBLE),
    ("string", "number", BREAKING, BREAKING),                   # neither contains the other
])
def test_type_changes(old: Any, new: Any, on_request: Classification, on_response: Classification) -> None:
    for side, expected in (("request", on_request), ("response", on_response)):
        change = only(changes(obj({"a": {"type": old}}), obj({"a": {"type": new}}), side))
        assert (change.category, change.classification) == ("type-changed", expected), side


@pytest.mark.parametrize(("keyword", "old", "new", "on_request"), [
    ("maxLength", 30, 20, BREAKING), ("maxLength", 20, 30, COMPATIBLE), ("maxLength", None, 20, BREAKING),
    ("maxLength", 20, None, COMPATIBLE), ("minLength", None, 1, BREAKING), ("minLength", 2, 1, COMPATIBLE),
    ("pattern", None, "^A", BREAKING), ("pattern", "^A", None, COMPATIBLE), ("pattern", "^A", "^B", BREAKING),
    ("maximum", 10, 5, BREAKING), ("minimum", 0, -1, COMPATIBLE),
])
def test_string_and_number_constraints(keyword: str, old: Any, new: Any, on_request: Classification) -> None:
    def field(value: Any) -> dict[str, Any]:
        return {"type": "string", **({keyword: value} if value is not None else {})}
    change = only(changes(obj({"a": field(old)}), obj({"a": field(new)})))
    assert change.classification is on_request
    assert keyword in change.message
    mirrored = only(changes(obj({"a": field(old)}), obj({"a": field(new)}), "response"))
    expected = BREAKING if keyword == "pattern" and old and new else (COMPATIBLE if on_request is BREAKING else BREAKING)
    assert mirrored.classification is expected


@pytest.mark.parametrize(("old", "new", "on_request"), [
    ({"minItems": 1, "maxItems": 50}, {"minItems": 1, "maxItems": 20}, BREAKING),
    ({"minItems": 1}, {"minItems": 2}, BREAKING),
    ({"maxItems": 20}, {"maxItems": 50}, COMPATIBLE),
    ({}, {"uniqueItems": True}, BREAKING),
])
def test_cardinality(old: dict[str, Any], new: dict[str, Any], on_request: Classification) -> None:
    change = only(changes(obj({"l": {"type": "array", **old}}), obj({"l": {"type": "array", **new}})))
    assert (change.category, change.classification) == ("cardinality-changed", on_request)


def test_enum_values_removed_and_added() -> None:
    old, new = obj({"c": {"enum": ["1", "2"]}}), obj({"c": {"enum": ["2", "3"]}})
    request = changes(old, new)
    assert [(c.category, c.classification) for c in request] == [("values-removed", BREAKING), ("values-added", COMPATIBLE)]
    assert '"1"' in request[0].message and '"3"' in request[1].message
    response = changes(old, new, "response")
    assert [(c.category, c.classification) for c in response] == [("values-removed", COMPATIBLE), ("values-added", BREAKING)]
    assert "readers that map every value" in response[1].message


def test_a_value_set_appearing_or_disappearing() -> None:
    assert only(changes(obj({"c": S}), obj({"c": {**S, "const": "x"}}))).category == "values-restricted"
    assert only(changes(obj({"c": {**S, "enum": ["x"]}}), obj({"c": S}))).classification is COMPATIBLE


def test_closing_an_object_breaks_senders() -> None:
    change = only(changes(obj({"a": S}), obj({"a": S}, additionalProperties=False)))
    assert (change.category, change.classification, change.location) == ("closed", BREAKING, "9999 input /")
    assert only(changes(obj({"a": S}), obj({"a": S}, additionalProperties=False), "response")).classification is COMPATIBLE


def test_a_description_change_is_information() -> None:
    change = only(changes(obj({"a": {**S, "description": "old"}}), obj({"a": {**S, "description": "new"}})))
    assert (change.classification, change.category) == (INFO, "description-changed")
    assert change.message == 'a: description "old" → "new"'


# -- references and combinators -----------------------------------------------------------------------------------
def test_refs_are_resolved_and_their_siblings_merged() -> None:
    old = obj({"n": {"$ref": "common.json#/$defs/name", "description": "姓名"}})
    new = obj({"n": {"$ref": "common.json#/$defs/name", "description": "姓名", "maxLength": 20}})
    change = only(changes(old, new))
    assert "maxLength 50 → 20" in change.message and change.classification is BREAKING
    assert changes(old, old) == []


def test_anyof_branches_keep_their_own_constraints() -> None:
    old = obj({"amt": {"$ref": "common.json#/$defs/amount"}})
    new = obj({"amt": {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": r"^\d+$"}]}})
    change = only(changes(old, new))
    assert (change.category, change.classification) == ("pattern-changed", BREAKING)
    nullable = obj({"amt": {"anyOf": [{"type": "null"}, {"$ref": "common.json#/$defs/amount"}]}})
    widened = only(changes(old, nullable, "response"))
    assert (widened.category, widened.classification) == ("type-changed", BREAKING)


def test_allof_is_merged() -> None:
    old = obj({"a": S})
    new = {"allOf": [obj({"a": S}), {"required": ["a"]}]}
    assert only(changes(old, new)).category == "required-added"


def test_a_field_that_follows_its_code_table_is_left_to_the_code_table_comparison() -> None:
    bound = obj({"t": {"type": "string", "$ref": "codes.json#/$defs/cert"}})
    shape = _shape(bound)
    assert shape.properties["t"].table == "cert"
    smaller = _shape(bound, {"$defs": {"cert": {"enum": ["01", "02"]}}})
    tables_old: dict[str, tuple[str, ...]] = {"cert": ('"01"', '"02"', '"03"')}
    tables_new: dict[str, tuple[str, ...]] = {"cert": ('"01"', '"02"')}
    assert Comparator(tables_old, tables_new).compare(shape, smaller) == []
    assert [d.category for d in Comparator().compare(shape, smaller)] == ["values-removed"]


def test_by_side() -> None:
    assert by_side("request", "narrowed") is BREAKING and by_side("response", "narrowed") is COMPATIBLE
    assert by_side("request", "widened") is COMPATIBLE and by_side("response", "widened") is BREAKING
    assert by_side("response", "changed") is BREAKING and by_side("request", "none") is INFO


# -- whole contracts: edited copies of insurance 2024.1 -------------------------------------------------------------
Edit = Callable[[str], str]


def variant(tmp_path: Path, yaml: Edit | None = None, schemas: dict[str, Callable[[dict[str, Any]], None]] | None = None,
            ) -> tuple[Any, Any]:
    """insurance 2024.1 and an edited copy of it as 2024.2, both loaded from tmp_path."""
    base = tmp_path / "insurance" / "2024.1"
    shutil.copytree(CONTRACTS / "insurance" / "2024.1", base)
    edited = tmp_path / "insurance" / "2024.2"
    shutil.copytree(base, edited)
    text = (edited / "contract.yaml").read_text(encoding="utf-8").replace('version: "2024.1"', 'version: "2024.2"')
    (edited / "contract.yaml").write_text(yaml(text) if yaml else text, encoding="utf-8")
    for name, edit in (schemas or {}).items():
        path = edited / "schemas" / name
        document = json.loads(path.read_text(encoding="utf-8"))
        edit(document)
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    store = ContractStore(tmp_path)
    return store.load("insurance", "2024.1"), store.load("insurance", "2024.2")


def located(found: list[Change]) -> list[tuple[str, str, str]]:
    return [(c.classification.value, c.category, c.location) for c in found if c.classification is not INFO]


def test_an_identical_copy_has_no_change(tmp_path: Path) -> None:
    old, new = variant(tmp_path)
    diff = diff_contracts(old, new)
    assert diff.changes == [] and not diff.breaking and diff.notes == []


def test_transactions_removed_added_and_moved(tmp_path: Path) -> None:
    def yaml(text: str) -> str:
        text = text.replace("path: outpatientSettleService/cancleSettletment", "path: outpatientSettleService/cancelSettlement")
        # 2601 removed (and from the rule and the correlation list that name it), 2209 added
        text = text.replace('  "2601": [/input/data/omsgid]\n', "")
        start, end = text.index('  "2601":'), text.index("\nrules:")
        text = text[:start] + """  "2209":
    name: 门诊结算查询
    path: outpatientSettleService/querySettlement
    input: schemas/2208-input.json
    output: schemas/2208-output.json
    kind: query
""" + text[end:]
        return text.replace('"2207", "2208", "2601"]', '"2207", "2208"]')
    old, new = variant(tmp_path, yaml)
    found = located(diff_contracts(old, new).changes)
    assert ("breaking", "path-changed", "contract.yaml /transactions/2208/path") in found
    assert ("breaking", "operation-removed", "contract.yaml /transactions/2601") in found
    assert ("compatible", "operation-added", "contract.yaml /transactions/2209") in found
    assert ("compatible", "rule-narrowed", "contract.yaml /rules/psn-no-needs-insuplc") in found


def test_code_table_values_are_classified_by_the_sides_that_carry_them(tmp_path: Path) -> None:
    def yaml(text: str) -> str:
        text = text.replace('values: {"1": 经办人, "2": 自助终端, "3": 移动终端}', 'values: {"1": 经办人, "2": 自助终端}')
        return text.replace('"510": 生育保险', '"510": 生育保险\n      "520": 新险种')
    old, new = variant(tmp_path, yaml)
    diff = diff_contracts(old, new)
    by_location = {c.location: c for c in diff.changes}
    removed = by_location["contract.yaml /code_tables/opter_type/values"]
    assert (removed.classification, removed.category) == (BREAKING, "code-values-removed")
    assert Target(None, "request", "/opter_type", "field") in removed.targets
    added = by_location["contract.yaml /code_tables/insutype/values"]
    assert (added.classification, added.category) == (BREAKING, "code-values-added")  # responses carry insutype
    assert "readers that map every code" in added.message
    assert not [c for c in diff.changes if c.category.startswith("values-")]  # left to the code tables


def test_rules_formats_signing_and_http(tmp_path: Path) -> None:
    def yaml(text: str) -> str:
        text = text.replace("max_skew_s: 300", "max_skew_s: 120")
        text = text.replace("pattern: '^\\d{30}$'", "pattern: '^\\d{32}$'")
        text = text.replace("base_path: /fsi/api", "base_path: /fsi/api/v2")
        start = text.index("  - id: setl-sum")
        end = text.index("  - id: medins-setl-id")
        return text[:start] + text[end:]
    old, new = variant(tmp_path, yaml)
    found = located(diff_contracts(old, new).changes)
    assert ("breaking", "signing-changed", "contract.yaml /signing/max_skew_s") in found
    assert ("breaking", "format-changed", "contract.yaml /formats/inf_refmsgid/pattern") in found
    assert ("breaking", "http-changed", "contract.yaml /http/base_path") in found
    assert ("breaking", "rule-removed", "contract.yaml /rules/setl-sum") in found  # a response promise withdrawn


def test_schema_edits_in_a_copy(tmp_path: Path) -> None:
    def narrow(doc: dict[str, Any]) -> None:
        doc["properties"]["data"]["properties"]["ipt_otp_no"]["maxLength"] = 20
    def drop(doc: dict[str, Any]) -> None:
        del doc["properties"]["data"]["properties"]["mdtrt_id"]
        doc["properties"]["data"]["required"].remove("mdtrt_id")
    old, new = variant(tmp_path, schemas={"2201-input.json": narrow, "2201-output.json": drop})
    diff = diff_contracts(old, new)
    found = located(diff.changes)
    assert found == [("breaking", "length-changed", "2201 input /data/ipt_otp_no"),
                     ("breaking", "field-removed", "2201 output /data/mdtrt_id")]
    assert diff.breaking and diff.counts() == {"breaking": 2, "compatible": 0, "info": 0}


def test_a_transport_without_a_differ_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.contract import diff as diff_module

    old, new = variant(tmp_path)
    monkeypatch.setattr(diff_module, "_DIFFERS", {})
    monkeypatch.setattr(diff_module, "differ_for", lambda transport: None)
    result = diff_contracts(old, new)
    assert result.notes == ["no message-format differ for transport 'http-json': only contract.yaml was compared"]
