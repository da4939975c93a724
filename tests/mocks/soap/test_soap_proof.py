"""A text the proof's checks accept is one libxml2 accepts (`mocks.transport.soap_proof`): patterns of the subset
against libxml2 on generated texts, every checked simple type of every SOAP contract, and replies skipped by the
validation only when libxml2 would find them valid."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from harness.contract.loader import ContractStore, load_contract
from harness.contract.soap import spec_of
from harness.contract.soap_validate import SoapValidator
from harness.contract.soap_wsdl import XS
from mocks.transport.soap import SoapHandler
from mocks.transport.soap_encode import ReplyEncoder
from mocks.transport.soap_proof import _translated, text_check
from tests.mocks.soap.test_request_decoder import FOLDERS, values_of

PATTERNS = ["[A-Z0-9]{8,32}", "\\d{1,4}", "[A-Za-z0-9-]{4,32}", "a+b?c*", "[-_a-c]{2}x{3,}", "[0-9]{6}[0-9X]",
            "MCH[0-9]{2,}_?"]


def _schema_of(restriction: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.fromstring(
        f'<xs:schema xmlns:xs="{XS}"><xs:element name="v"><xs:simpleType><xs:restriction base="xs:string">'
        f"{restriction}</xs:restriction></xs:simpleType></xs:element></xs:schema>"))


def _libxml2_accepts(schema: etree.XMLSchema, text: str) -> bool:
    element = etree.Element("v")
    element.text = text
    return bool(schema.validate(element))


def _texts(pattern: re.Pattern[str], alphabet: str) -> st.SearchStrategy[str]:
    return st.one_of(st.from_regex(pattern, fullmatch=True), st.text(alphabet, max_size=40))


@pytest.mark.parametrize("pattern", PATTERNS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_pattern_of_the_subset_means_what_libxml2_makes_of_it(pattern: str, data: st.DataObject) -> None:
    translated = _translated(pattern)
    assert translated is not None
    schema = _schema_of(f'<xs:pattern value="{pattern}"/>')
    text = data.draw(_texts(translated, "aAbcxzMCHX_-09٣ \n"))
    accepted = translated.fullmatch(text) is not None
    if "\\d" in pattern:  # checked as [0-9], a part of XSD's \d: sound, not complete
        assert not accepted or _libxml2_accepts(schema, text)
    else:
        assert accepted == _libxml2_accepts(schema, text)


@pytest.mark.parametrize("pattern", [".+", "a|b", "\\w{2}", "(ab)+", "\\p{L}", "[^a]", "[a-Z]", "a{3,2}", "+a",
                                     "a\\.b", "[a-c-[b]]", "$a^"])
def test_patterns_outside_the_subset_get_no_check(pattern: str) -> None:
    assert _translated(pattern) is None


def _checked_types() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for folder in FOLDERS:
        spec = spec_of(load_contract(folder))
        found.extend((str(folder), name) for name in spec.simple_types)
    return found


CHECKED = _checked_types()


@pytest.mark.parametrize(("folder", "name"), CHECKED, ids=[f"{Path(f).parent.name}@{Path(f).name}:{n}" for f, n in CHECKED])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_contract_type_s_check_accepts_only_what_libxml2_accepts(folder: str, name: str, data: st.DataObject) -> None:
    spec = spec_of(load_contract(Path(folder)))
    check = text_check(_Named(name), spec.simple_types)
    if check is None:
        return
    node = spec.simple_types[name]
    restriction = node.find(f"{{{XS}}}restriction")
    assert restriction is not None
    facets = [f for f in restriction if isinstance(f.tag, str) and not f.tag.endswith("annotation")]
    enumerated = [f.get("value") or "" for f in facets if f.tag == f"{{{XS}}}enumeration"]
    patterns = [p for f in facets if f.tag == f"{{{XS}}}pattern" and (p := _translated(f.get("value") or ""))]
    strategies: list[st.SearchStrategy[str]] = [st.text("AZaz09-_X ", max_size=40), st.from_regex(r"-?[0-9]{1,12}", fullmatch=True)]
    strategies += [st.sampled_from(enumerated)] if enumerated else []
    strategies += [st.from_regex(p, fullmatch=True) for p in patterns]
    text = data.draw(st.one_of(strategies))
    if check(text):
        element = etree.Element(f"{{{spec.simple_types[name].getroottree().getroot().get('targetNamespace')}}}probe")
        assert _valid_as(node, element, text), f"{name} accepted {text!r}, which libxml2 refuses"


class _Named:
    """What `text_check` reads of zeep's type: its QName."""

    def __init__(self, clark: str) -> None:
        self.qname = etree.QName(clark)


def _valid_as(simple_type: etree._Element, element: etree._Element, text: str) -> bool:
    """Whether libxml2 accepts `text` for the global simple type `simple_type`, through a schema that includes the
    type's own schema document."""
    document = simple_type.getroottree()
    namespace = document.getroot().get("targetNamespace") or ""
    location = Path(document.docinfo.URL or "").resolve().as_uri()
    schema = etree.XMLSchema(etree.fromstring(
        f'<xs:schema xmlns:xs="{XS}" xmlns:t="{namespace}" targetNamespace="{namespace}" elementFormDefault="qualified">'
        f'<xs:include schemaLocation="{location}"/><xs:element name="probe" type="t:{simple_type.get("name")}"/>'
        "</xs:schema>"))
    element.text = text
    return bool(schema.validate(element))


ENCODED = [(folder, name) for folder in FOLDERS for name, op in spec_of(load_contract(folder)).operations.items()
           if op.output is not None and ReplyEncoder(spec_of(load_contract(folder)).zeep_operation(name).output,
                                                     spec_of(load_contract(folder)).envelope_ns).plan is not None]


@pytest.mark.parametrize(("folder", "operation"), ENCODED, ids=[f"{f.parent.name}@{f.name}:{o}" for f, o in ENCODED])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_reply_taken_as_valid_without_libxml2_is_valid(folder: Path, operation: str, data: st.DataObject) -> None:
    spec = spec_of(load_contract(folder))
    op = spec.zeep_operation(operation)
    encoder = ReplyEncoder(op.output, spec.envelope_ns, spec.simple_types if spec.value_free else None)
    validator = SoapValidator(load_contract(folder))
    for _ in range(3):
        fields = data.draw(values_of(op.output.body.type))
        rendered = encoder.render(fields)
        if rendered is None:
            continue
        valid = not any(f.rule == "xsd" for f in validator.check_response(rendered.envelope, operation).findings)
        if rendered.proven:
            assert valid, etree.tostring(rendered.envelope)
        elif valid:
            encoder.prove(rendered.shape)


def _upload_answer(record_id: str) -> dict[str, Any]:
    return {"ResultCode": "0", "ResultMessage": "成功", "result": {
        "index": 1, "recordNo": "W000000001", "status": "ACCEPTED", "recordId": record_id, "version": 1}}


def test_the_platform_s_answer_is_validated_until_its_shape_is_proven_and_whenever_a_text_fails_its_check() -> None:
    contract = ContractStore().load("mch-platform")
    handler = SoapHandler(contract, {})
    validated: list[bool] = []
    check_response = handler.validator.check_response

    def spy(root: etree._Element, operation: str | None = None, envelope: bool = True, schema: bool = True) -> Any:
        validated.append(schema)
        return check_response(root, operation, envelope, schema)

    handler.validator.check_response = spy  # type: ignore[method-assign]
    first = handler.encode("UploadRecord", _upload_answer("MCH2026120700000001"))
    second = handler.encode("UploadRecord", _upload_answer("MCH2026120700000003"))
    wrong = handler.encode("UploadRecord", _upload_answer("mch-1"))  # lower case: the RecordId pattern refuses it
    assert validated == [True, False, True]
    assert first.findings == second.findings == []
    assert b"MCH2026120700000003" in second.body
    assert [f.rule for f in wrong.findings] == ["xsd"] and "recordId" in wrong.findings[0].location
