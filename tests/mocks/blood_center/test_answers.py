"""SubmitBloodOrder's answer copied from its shape is the answer built element by element, and the bytes zeep renders
for the same fields."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from harness.contract.loader import ContractStore
from harness.contract.soap import spec_of
from mocks.blood_center import answers

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)


def built_one_by_one(values: tuple[str, ...]) -> etree._Element:
    reply = etree.Element(f"{{{answers.SERVICE_NS}}}SubmitBloodOrderResponse", nsmap={"ns0": answers.SERVICE_NS})
    for name, value in zip(answers.SUBMITTED, values, strict=True):
        answers.leaf(reply, name, value)
    return reply


def enveloped(reply: etree._Element) -> bytes:
    env = "http://schemas.xmlsoap.org/soap/envelope/"
    envelope = etree.Element(f"{{{env}}}Envelope", nsmap={"soap-env": env})
    etree.SubElement(envelope, f"{{{env}}}Body").append(reply)
    return etree.tostring(envelope)


@given(order_no=_TEXT, status=_TEXT, received_at=_TEXT)
def test_the_copied_answer_is_the_answer_built_element_by_element(order_no: str, status: str, received_at: str) -> None:
    values = (*answers.SUCCESS.values(), order_no, status, received_at)
    assert enveloped(answers.submitted(order_no, status, received_at)) == enveloped(built_one_by_one(values))


def test_the_copied_answer_is_what_zeep_renders() -> None:
    op = spec_of(ContractStore().load("blood-center")).zeep_operation("SubmitBloodOrder")
    for order_no, status in (("B00000000001", "RECEIVED"), ("H1-2026&<x>", "CONFIRMED")):
        zeep = etree.tostring(op.output.serialize(**answers.SUCCESS, orderNo=order_no, status=status,
                                                  receivedAt=datetime(2026, 12, 6, 10, 0, 0)).content)
        assert enveloped(answers.submitted(order_no, status, "2026-12-06T10:00:00")) == zeep
