"""Nested replies rendered without zeep's encoder: the same bytes, for a fraction of its cost.

`mocks.transport.soap_reply` keeps flat answers (a sequence of simple elements) as templates. Answers with nested
or repeated parts (the maternal-child platform's per-record `result` with its `error` list, a batch's results, a
blood centre's fee list) still went through `operation.output.serialize(**data)`: zeep builds a typed object from
the dictionaries (its keyword processing, for every level) and renders it, a quarter of such a call's time.

For a reply type that is one sequence of elements, each simple-typed or of such a complex type, once or repeated,
the encoder here compiles the type once and renders a dictionary straight into lxml elements as zeep's renderer
does: each element checked by zeep's own `validate` first, each text by the element's type (`xmlvalue`), in the
sequence's order, an absent optional element left out. Anything it is not sure to render as zeep does goes to zeep
(`build` answers None): a key the type does not have, a required element left out, a value that is not a plain
string, number, boolean, date or time (or a dictionary, or a list where the element repeats), occurrences out of
bounds, attributes, choices, groups, wildcards, derived or recursive types, default values, nillable elements,
header parts. A test renders every reply shape of every SOAP contract both ways and compares the bytes.

Creating elements is most of that rendering's cost (each `SubElement` resolves its namespace and allocates a node), so
the tree rendered for one shape of answer (which optional parts are there, how many times each repeated part) is
kept as a template: the next answer of the same shape is checked as before, field by field, then rendered as a copy
of the template with each element's text set. At most `MAX_SHAPES` templates per operation; answers of further
shapes are rendered afresh. Every reply is still validated against the schema by the transport, however built.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from lxml import etree

_PLAIN = frozenset({str, int, float, bool, Decimal, date, datetime, time})
MAX_SHAPES = 64
"""Templates kept per operation (shapes of answer: a batch's answer has one per number of records)."""
_ENVELOPE_TEXTS = (None, None, None)
"""The texts of the Envelope, the Body and the reply element: none."""


class _Fallback(Exception):
    pass


@dataclass
class _Field:
    name: str
    tag: str
    element: Any
    """zeep's element: its `validate` and its type's `xmlvalue`."""
    multiple: bool
    optional: bool
    plan: _Plan | None = None
    """The nested type's plan, or None for a simple type."""
    bounds: tuple[int, int | None] | None = None
    """(minOccurs, maxOccurs or None) when zeep's `validate` of the element refuses nothing but a None or a count
    out of bounds (its own types' `validate` only refuses None): those checks done here. None: zeep's is called."""
    as_is: bool = False
    """A string element (zeep's `String`, not a subtype): a `str` value is its text as it is (what `xmlvalue` gives)."""


@dataclass
class _Plan:
    fields: list[_Field] = field(default_factory=list)
    names: frozenset[str] = frozenset()


class ReplyEncoder:
    """Renders the replies of one operation (zeep's `operation.output`) as zeep would, or says it cannot (None)."""

    def __init__(self, output: Any, envelope_ns: str) -> None:
        self.envelope_ns = envelope_ns
        self.body: Any = getattr(output, "body", None)
        self.plan: _Plan | None = None
        self.templates: dict[tuple[int, ...], etree._Element] = {}
        """Shape (the number of each element, in document order) -> the envelope rendered for it, texts blank."""
        header = getattr(output, "header", None)
        if self.body is None or (header is not None and list(getattr(header.type, "elements", []) or [])):
            return
        try:
            self.plan = _compile(self.body.type, set())
        except (_Fallback, AttributeError, TypeError):
            self.plan = None

    def build(self, data: Any) -> etree._Element | None:
        """The reply envelope for `data` (the answer's fields), or None when zeep must encode it."""
        if self.plan is None or type(data) is not dict:
            return None
        shape: list[int] = []
        texts: list[str | None] = []
        try:
            _walk(self.plan, data, shape, texts)
        except _Fallback:
            return None
        except Exception:  # noqa: BLE001 - zeep's validate raised: zeep encodes it and says so in its own words
            return None
        key = tuple(shape)
        template = self.templates.get(key)
        if template is not None:
            envelope = copy.deepcopy(template)
            for node, text in zip(envelope.iter(), (*_ENVELOPE_TEXTS, *texts), strict=True):
                if text is not None:
                    node.text = text
            return envelope
        env = self.envelope_ns
        envelope = etree.Element(f"{{{env}}}Envelope", nsmap={"soap-env": env})
        body = etree.SubElement(envelope, f"{{{env}}}Body")
        _grow(etree.SubElement(body, self.body.qname.text), self.plan, iter(shape), iter(texts))
        if len(self.templates) < MAX_SHAPES:
            blank = copy.deepcopy(envelope)
            for node in blank.iter():
                node.text = None
            self.templates[key] = blank
        return envelope


def _compile(xsd_type: Any, building: set[int]) -> _Plan:
    from zeep.xsd.elements.element import Element
    from zeep.xsd.elements.indicators import Sequence
    from zeep.xsd.types.base import Type
    from zeep.xsd.types.builtins import String
    from zeep.xsd.types.complex import ComplexType
    from zeep.xsd.types.simple import AnySimpleType

    if id(xsd_type) in building:
        raise _Fallback  # a recursive type
    if (not isinstance(xsd_type, ComplexType) or getattr(xsd_type, "_extension", None) is not None
            or getattr(xsd_type, "_restriction", None) is not None or getattr(xsd_type, "_array_type", None) is not None
            or list(xsd_type.attributes)):
        raise _Fallback
    nested = list(xsd_type.elements_nested)
    if len(nested) != 1 or type(nested[0][1]) is not Sequence or nested[0][1].max_occurs != 1 \
            or nested[0][1].min_occurs != 1:
        raise _Fallback
    building.add(id(xsd_type))
    plan = _Plan()
    for name, element in nested[0][1].elements:
        if type(element) is not Element or element.default is not None or element.nillable:
            raise _Fallback
        entry = _Field(name, element.qname.text, element, bool(element.accepts_multiple), bool(element.is_optional))
        if type(element.type).validate in (Type.validate, AnySimpleType.validate):
            entry.bounds = (int(element.min_occurs),
                            None if element.max_occurs == "unbounded" else int(element.max_occurs))
        entry.as_is = type(element.type) is String
        if isinstance(element.type, ComplexType):
            entry.plan = _compile(element.type, building)
        elif not isinstance(element.type, AnySimpleType):
            raise _Fallback
        plan.fields.append(entry)
    building.discard(id(xsd_type))
    plan.names = frozenset(f.name for f in plan.fields)
    return plan


def _walk(plan: _Plan, data: dict[str, Any], shape: list[int], texts: list[str | None]) -> None:
    """Check `data` against `plan` as zeep's renderer would, and note its shape (how many of each element, in document
    order) and each element's text (None for a nested one), in document order."""
    if not plan.names.issuperset(data):
        raise _Fallback  # zeep names the unknown field in its error
    for entry in plan.fields:
        value = data.get(entry.name)
        if value is None:
            if entry.optional:
                shape.append(0)
                continue
            raise _Fallback  # zeep renders or refuses a required element left out in ways of its own
        if entry.multiple:
            if type(value) is not list:
                raise _Fallback
            items: list[Any] = value
        else:
            items = [value]
        for item in items:
            if entry.plan is None and type(item) not in _PLAIN or entry.plan is not None and type(item) is not dict:
                raise _Fallback
        bounds = entry.bounds
        if bounds is None:
            entry.element.validate(value, [entry.name])  # what zeep's Element.render does first
        elif entry.multiple and (len(items) < bounds[0] or bounds[1] is not None and len(items) > bounds[1]):
            raise _Fallback  # zeep's validate refuses it, in its own words
        shape.append(len(items))
        for item in items:
            if entry.plan is not None:
                texts.append(None)
                _walk(entry.plan, item, shape, texts)
            elif entry.as_is and type(item) is str:
                texts.append(item)
            else:
                texts.append(entry.element.type.xmlvalue(item))


def _grow(parent: etree._Element, plan: _Plan, shape: Iterator[int], texts: Iterator[str | None]) -> None:
    """The elements under `parent` for a shape and texts `_walk` noted."""
    for entry in plan.fields:
        for _ in range(next(shape)):
            node = etree.SubElement(parent, entry.tag)
            text = next(texts)
            if entry.plan is not None:
                _grow(node, entry.plan, shape, texts)
            else:
                node.text = text
