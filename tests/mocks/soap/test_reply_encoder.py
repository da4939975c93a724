"""Nested replies rendered without zeep's encoder are the bytes zeep renders: every reply shape of every SOAP
contract, with random values (nested parts, repeated ones, absent optional ones), renders identically both ways, or
is left to zeep; what zeep refuses is never rendered."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from harness.contract.loader import load_contract
from harness.contract.soap import spec_of
from mocks.transport.soap_encode import ReplyEncoder
from tests.mocks.soap.test_request_decoder import FOLDERS, operation_of, values_of
from tests.strategies import examples

REPLIES = [(folder, name) for folder in FOLDERS for name, op in spec_of(load_contract(folder)).operations.items()
           if op.output is not None]
ENCODED = [(folder, name) for folder, name in REPLIES
           if ReplyEncoder(spec_of(load_contract(folder)).zeep_operation(name).output,
                           spec_of(load_contract(folder)).envelope_ns).plan is not None]


@functools.cache
def _envelope_ns(folder: Path) -> str:
    return spec_of(load_contract(folder)).envelope_ns


def encoder_of(folder: Path, operation: str) -> tuple[Any, ReplyEncoder]:
    """The operation and its envelope's namespace (looked up once) and a new encoder of its reply, no template yet."""
    op = operation_of(folder, operation)
    return op, ReplyEncoder(op.output, _envelope_ns(folder))


def test_most_reply_shapes_are_rendered_without_zeep() -> None:
    assert len(ENCODED) >= 0.8 * len(REPLIES) and len(REPLIES) >= 15


@pytest.mark.parametrize(("folder", "operation"), ENCODED, ids=[f"{f.parent.name}@{f.name}:{o}" for f, o in ENCODED])
@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_reply_renders_as_zeep_renders_it(folder: Path, operation: str, data: st.DataObject) -> None:
    op, encoder = encoder_of(folder, operation)
    fields = data.draw(values_of(op.output.body.type))
    built = encoder.build(fields)
    try:
        expected = etree.tostring(op.output.serialize(**fields).content)
    except Exception:  # noqa: BLE001 - zeep refuses the values: so must the encoder (zeep then says why)
        assert built is None
        return
    if built is not None:
        assert etree.tostring(built) == expected


def test_what_the_encoder_is_not_sure_of_is_left_to_zeep() -> None:
    folder = next(f for f in FOLDERS if f.parent.name == "mch-platform")
    _, encoder = encoder_of(folder, "UploadRecord")
    result = {"index": 1, "recordNo": "R1", "status": "ACCEPTED", "recordId": "MCH1", "version": 1}
    assert encoder.build({"ResultCode": "0", "ResultMessage": "成功", "result": result}) is not None
    assert encoder.build({"ResultCode": "0", "ResultMessage": "成功", "result": result, "extra": 1}) is None
    assert encoder.build({"ResultMessage": "成功", "result": result}) is None, "a required element left out"
    assert encoder.build({"ResultCode": "0", "ResultMessage": object(), "result": result}) is None
    assert encoder.build({"ResultCode": "0", "ResultMessage": "成功", "result": {**result, "error": "x"}}) is None
    assert encoder.build({"ResultCode": "0", "ResultMessage": "成功", "result": {**result, "nope": 1}}) is None


def _repeated(plan: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = []
    for entry in plan.fields:
        if entry.multiple:
            found.append(((*path, entry.name), entry))
        if entry.plan is not None and not entry.multiple:
            found += _repeated(entry.plan, (*path, entry.name))
    return found


@pytest.mark.parametrize(("folder", "operation"), ENCODED, ids=[f"{f.parent.name}@{f.name}:{o}" for f, o in ENCODED])
def test_a_repeated_part_out_of_its_bounds_is_left_to_zeep_which_refuses_it(folder: Path, operation: str) -> None:
    """The encoder checks occurrence bounds itself (zeep's `validate` is not called for plain types): a count zeep
    refuses is never rendered."""
    op, encoder = encoder_of(folder, operation)
    assert encoder.plan is not None
    for path, entry in _repeated(encoder.plan):
        low, high = entry.bounds if entry.bounds is not None else (int(entry.element.min_occurs), None)
        counts = ([low - 1] if low > 0 else []) + ([high + 1] if high is not None else [])
        for count in counts:
            fields = _example(op.output.body.type)
            item = _example(entry.element.type) if entry.plan is not None else "1"
            holder = fields
            for step in path[:-1]:
                holder = holder[step]
            holder[path[-1]] = [item] * count
            with pytest.raises(Exception):  # noqa: B017 - zeep's ValidationError, in its words
                op.output.serialize(**fields)
            assert encoder.build(fields) is None, (path, count)


def _example(xsd_type: Any) -> Any:
    """Every element present once, strings "1" (a value every simple type of these contracts writes)."""
    from zeep.xsd.types.complex import ComplexType

    if not isinstance(xsd_type, ComplexType):
        return "1"
    return {name: ([_example(e.type)] if e.accepts_multiple else _example(e.type)) for name, e in xsd_type.elements}


_SHARED: dict[tuple[Path, str], tuple[Any, ReplyEncoder]] = {}


@pytest.mark.parametrize(("folder", "operation"), ENCODED, ids=[f"{f.parent.name}@{f.name}:{o}" for f, o in ENCODED])
@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_reply_copied_from_the_template_of_its_shape_renders_as_zeep_renders_it(
        folder: Path, operation: str, data: st.DataObject) -> None:
    """One encoder for all examples: an answer of a shape seen before is a copy of that shape's template."""
    op, encoder = _SHARED.setdefault((folder, operation), encoder_of(folder, operation))
    fields = data.draw(values_of(op.output.body.type))
    shapes = len(encoder.templates)
    built = encoder.build(fields)
    again = encoder.build(fields)  # the same shape: from its template now, whether or not it was before
    assert len(encoder.templates) in (shapes, shapes + 1) and (built is None) == (again is None)
    try:
        expected = etree.tostring(op.output.serialize(**fields).content)
    except Exception:  # noqa: BLE001 - zeep refuses the values: so must the encoder
        assert built is None
        return
    if built is not None and again is not None:
        assert etree.tostring(built) == expected and etree.tostring(again) == expected


def test_an_answer_of_a_known_shape_is_the_template_with_its_own_texts() -> None:
    folder = next(f for f in FOLDERS if f.parent.name == "mch-platform")
    op, encoder = encoder_of(folder, "UploadRecord")
    first = {"ResultCode": "0", "ResultMessage": "成功",
             "result": {"index": 1, "recordNo": "R1", "status": "ACCEPTED", "recordId": "MCH1", "version": 1}}
    second: dict[str, Any] = {"ResultCode": "1", "ResultMessage": "记录被拒绝：a < b & c",
              "result": {"index": 2, "recordNo": "R2", "status": "REJECTED", "recordId": "MCH2", "version": 3}}
    built = [encoder.build(first), encoder.build(second)]
    assert len(encoder.templates) == 1, "one shape, one template"
    for fields, envelope in zip((first, second), built, strict=True):
        assert envelope is not None
        assert etree.tostring(envelope) == etree.tostring(op.output.serialize(**fields).content)
    rejected = {**second, "result": {**second["result"], "error": [
        {"code": "2001", "location": "/x", "message": "重复"}, {"code": "3001", "location": "/y", "message": "校验位"}]}}
    envelope = encoder.build(rejected)
    assert envelope is not None and len(encoder.templates) == 2, "an error list: another shape"
    assert etree.tostring(envelope) == etree.tostring(op.output.serialize(**rejected).content)
    again, first_built = encoder.build(first), built[0]
    assert again is not None and first_built is not None
    assert etree.tostring(again) == etree.tostring(first_built)
