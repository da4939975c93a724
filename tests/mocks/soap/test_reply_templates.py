"""Replies built from templates are byte for byte what zeep's encoder makes, for every flat reply of every SOAP
contract, whatever the values; whatever zeep refuses (a field too many, a required one left out, a value of
another kind) is left to zeep, which says why."""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from harness.contract.loader import load_contract
from harness.contract.soap import spec_of
from mocks.transport.soap_reply import MAX_TEMPLATES, ReplyTemplates
from tests.conftest import CONTRACTS, DATA
from tests.strategies import examples

FOLDERS = sorted({p.parent for p in CONTRACTS.glob("*/*/contract.yaml") if "transport: soap" in p.read_text(encoding="utf-8")}
                 | {DATA / "soap" / "example" / "2025.1"})
OPERATIONS = [(folder, name) for folder in FOLDERS for name in spec_of(load_contract(folder)).operations]
FLAT = [(folder, name) for folder, name in OPERATIONS
        if ReplyTemplates(spec_of(load_contract(folder)).zeep_operation(name).output).elements]
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
VALUES = st.one_of(TEXT, st.integers(-10**6, 10**6), st.booleans(), st.decimals(allow_nan=False, allow_infinity=False, places=2))
VALUES_OR_NONE = VALUES | st.none()
EXTRA = st.sampled_from(["extra", "ResultCodes"])


@functools.cache
def _output(folder: Path, operation: str) -> Any:
    """The reply of `operation`, looked up once (not the contract's files checked again for every example)."""
    return spec_of(load_contract(folder)).zeep_operation(operation).output


@functools.cache
def _fields(names: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """A reply's fields by these names, the strategy built once per reply: Hypothesis validates each new strategy it
    is asked to draw from, and one built per example was validated for every example; the same one draws the same."""
    return st.dictionaries(st.sampled_from(names), VALUES_OR_NONE, max_size=len(names))


def zeep_bytes(output: Any, data: dict[str, Any]) -> bytes | None:
    try:
        return etree.tostring(output.serialize(**data).content, xml_declaration=True, encoding="utf-8")
    except Exception:  # noqa: BLE001 - zeep refuses: the templates must too
        return None


def test_the_contracts_have_flat_replies() -> None:
    assert len(FOLDERS) >= 3 and OPERATIONS
    assert len(FLAT) >= 3, FLAT  # the example's SubmitOrder and the partners' acknowledgements at least


@pytest.mark.parametrize(("folder", "operation"), FLAT, ids=[f"{f.parent.name}@{f.name}:{o}" for f, o in FLAT])
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_template_reply_is_what_zeep_makes(folder: Path, operation: str, data: st.DataObject) -> None:
    output = _output(folder, operation)
    templates = ReplyTemplates(output)
    fields = data.draw(_fields(tuple(templates.elements)))
    if data.draw(st.booleans()):
        fields[data.draw(EXTRA)] = "x"
    first = {name: data.draw(TEXT) if value is not None else None for name, value in fields.items()}
    made = zeep_bytes(output, first)
    if made is not None:
        templates.learn(first, output.serialize(**first).content)
    expected = zeep_bytes(output, fields)
    built = templates.build(fields)
    if built is not None:
        assert expected is not None, f"zeep refuses {fields!r}, the template answered"
        assert etree.tostring(built, xml_declaration=True, encoding="utf-8") == expected


def test_templates_are_used_and_bounded() -> None:
    folder = DATA / "soap" / "example" / "2025.1"
    output = spec_of(load_contract(folder)).zeep_operation("SubmitOrder").output
    templates = ReplyTemplates(output)
    answer = {"ResultCode": "0", "ResultMessage": "成功", "orderId": "EX1", "status": "RECEIVED"}
    assert templates.build(answer) is None  # the first answer is zeep's
    templates.learn(answer, output.serialize(**answer).content)
    built = templates.build({**answer, "orderId": "EX2", "ResultMessage": Decimal("1.5")})
    assert built is not None and [n.text for n in built[0][0]] == ["0", "1.5", "EX2", "RECEIVED"]
    assert templates.build({**answer, "orderId": ["EX3"]}) is None  # not a plain value
    assert templates.build({"ResultMessage": "x"}) is None  # the required ResultCode left out: zeep decides
    for n in range(MAX_TEMPLATES + 5):
        shaped = {"ResultCode": "0", "ResultMessage": str(n)} | ({"orderId": "x"} if n % 2 else {})
        templates.learn(shaped, output.serialize(**shaped).content)
    assert len(templates._templates) <= MAX_TEMPLATES
