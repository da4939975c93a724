"""Requests decoded into zeep's typed values without zeep's generic decoder: the same objects for half a SOAP
mock's time per call.

zeep decodes a request element by matching each child against the type's particles through its indicator
machinery and building every value object through its keyword-argument processing; that is about half of what a
SOAP mock spends on a call. A request reaches the decoder only after strict XSD validation, so for the common
shape (a complex type that is one sequence of elements, each simple-typed or of such a complex type, once or
repeated) the decoder here walks the children in order, converts texts with the element's own XSD type
(`pythonvalue`, what zeep calls) and builds the same value classes with the same fields in the same order.

Anything it is not sure to decode as zeep does is left to zeep (`UNSUPPORTED`): attributes (xsi:type, xsi:nil,
declared ones), choices, groups, wildcards, simple content, arrays, default values, elements out of order or in
another namespace, comments, a text zeep could not convert. A test decodes every request shape of every SOAP
contract both ways and compares.

`decode_plain` gives the same request as the journal keeps it (`mocks.transport.soap.plain` of zeep's value: dicts,
lists, strings, numbers; decimals, dates and times as their text) in one walk, without the value objects, for a
behaviour that reads plain data (`SoapHandler(plain_requests=...)`). A test holds it to `plain` of zeep's value.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from lxml import etree

UNSUPPORTED: Any = object()
"""`decode`'s answer when zeep must decode the element."""
_PLAIN_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")
_PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_AS_IS = frozenset({type(None), str, bool, int, float})


class _Unsupported(Exception):
    pass


@dataclass
class _Field:
    name: str
    tag: str
    local: str
    multiple: bool
    max_occurs: int | None
    optional: bool
    simple: Callable[[str], Any] | None = None
    """Converts the element's text as its zeep simple type does, or None for a complex type (`plan`)."""
    plain: Callable[[str], Any] | None = None
    """Converts the text as `simple` then `plain` do (the journal's form of the value)."""
    plan: _Plan | None = None


@dataclass
class _Plan:
    value_class: Any
    fields: list[_Field] = field(default_factory=list)


class RequestDecoder:
    """Decodes the request element of one operation (zeep's `operation.input.body`) as zeep does, or says it cannot."""

    def __init__(self, body: Any) -> None:
        self._plans: dict[int, _Plan | None] = {}
        try:
            self.plan = self._compile(body.type) if body is not None else None
        except _Unsupported:
            self.plan = None

    def decode(self, element: etree._Element) -> Any:
        """zeep's value of `element`, or UNSUPPORTED."""
        if self.plan is None:
            return UNSUPPORTED
        try:
            return _complex(element, self.plan, True, False)
        except _Unsupported:
            return UNSUPPORTED

    def decode_plain(self, element: etree._Element) -> Any:
        """`plain` of zeep's value of `element` (the journal's form), or UNSUPPORTED."""
        if self.plan is None:
            return UNSUPPORTED
        try:
            return _complex(element, self.plan, True, True)
        except _Unsupported:
            return UNSUPPORTED

    def _compile(self, xsd_type: Any) -> _Plan:
        from zeep.xsd.elements.element import Element
        from zeep.xsd.elements.indicators import Sequence
        from zeep.xsd.types.complex import ComplexType
        from zeep.xsd.types.simple import AnySimpleType

        if id(xsd_type) in self._plans:  # a recursive type: the plan being built
            plan = self._plans[id(xsd_type)]
            if plan is None:
                raise _Unsupported
            return plan
        if (not isinstance(xsd_type, ComplexType) or getattr(xsd_type, "_extension", None) is not None
                or getattr(xsd_type, "_restriction", None) is not None):
            raise _Unsupported  # a derived type (extension, restriction) is left to zeep
        nested = list(xsd_type.elements_nested)
        if (list(xsd_type.attributes) or getattr(xsd_type, "_array_type", None) is not None or len(nested) != 1
                or type(nested[0][1]) is not Sequence or nested[0][1].max_occurs != 1 or nested[0][1].min_occurs != 1):
            raise _Unsupported
        plan = _Plan(xsd_type._value_class)
        self._plans[id(xsd_type)] = plan
        for name, element in nested[0][1].elements:
            if type(element) is not Element or element.default is not None:
                raise _Unsupported
            qname = element.qname
            max_occurs = None if element.max_occurs == "unbounded" else int(element.max_occurs)
            entry = _Field(name, qname.text, qname.localname, bool(element.accepts_multiple), max_occurs,
                           bool(element.is_optional))
            if isinstance(element.type, AnySimpleType):
                entry.simple = converter(element.type)
                entry.plain = plain_converter(element.type, entry.simple)
            elif isinstance(element.type, ComplexType):
                entry.plan = self._compile(element.type)
            else:
                raise _Unsupported
            plan.fields.append(entry)
        return plan


def converter(simple: Any) -> Callable[[str], Any]:
    """The text-to-value function of a zeep simple type: its `pythonvalue`, with the standard library first for
    the commonest dateTime and date texts (a local date and time to the second, a date without a zone).

    zeep converts those through isodate's regular-expression parser, a tenth of a call's decoding; for exactly
    these texts `datetime.fromisoformat` and `date.fromisoformat` give equal values of the same types (naive,
    no microseconds). Any other text (a zone, a fraction, whitespace) still goes to zeep."""
    from zeep.xsd.types.builtins import Date, DateTime

    pythonvalue: Callable[[str], Any] = simple.pythonvalue
    if type(simple) is DateTime:
        def fast_datetime(text: str) -> Any:
            return datetime.fromisoformat(text) if _PLAIN_DATETIME.fullmatch(text) else pythonvalue(text)

        return fast_datetime
    if type(simple) is Date:
        def fast_date(text: str) -> Any:
            return date.fromisoformat(text) if _PLAIN_DATE.fullmatch(text) else pythonvalue(text)

        return fast_date
    return pythonvalue


def plain_converter(simple: Any, convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """The text-to-journal function of a zeep simple type: the text itself for a string (zeep's `String` keeps it as
    it is) and for the plain dateTime and date texts (`isoformat` of what they parse to writes them back unchanged,
    once the standard library has accepted them), `int` for integers, else `convert` then the journal's form of
    the value (a Decimal's text, a date's ISO form); a value of any other kind is left to zeep and `plain`."""
    from zeep.xsd.types.builtins import Date, DateTime, Integer, String

    pythonvalue = type(simple).pythonvalue
    if pythonvalue is String.pythonvalue:
        return _same
    if pythonvalue is Integer.pythonvalue:
        return int
    if type(simple) is DateTime:
        def plain_datetime(text: str) -> Any:
            if _PLAIN_DATETIME.fullmatch(text):
                datetime.fromisoformat(text)  # refuses what zeep would not decode either (a 30 February)
                return text
            return _journal_form(convert(text))

        return plain_datetime
    if type(simple) is Date:
        def plain_date(text: str) -> Any:
            if _PLAIN_DATE.fullmatch(text):
                date.fromisoformat(text)
                return text
            return _journal_form(convert(text))

        return plain_date
    return lambda text: _journal_form(convert(text))


def _same(text: str) -> str:
    return text


def _journal_form(value: Any) -> Any:
    """What `mocks.transport.soap.plain` makes of a simple value; anything else is left to zeep (`_Unsupported`)."""
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is Decimal:
        return str(value)
    if kind in (datetime, date, time):
        return value.isoformat()
    raise _Unsupported


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _complex(element: etree._Element, plan: _Plan, top: bool, journal: bool) -> Any:
    """zeep's value of `element` (`journal`: its `plain` form)."""
    if element.attrib:
        raise _Unsupported
    children = list(element)
    if not children and not top:
        return None  # zeep: an empty element of a complex type, with no attributes, is None below the top
    values: dict[str, Any] = {} if journal else OrderedDict()
    at, end = 0, len(children)
    for entry in plan.fields:
        found: list[Any] = []
        simple, limit = (entry.plain if journal else entry.simple), entry.max_occurs
        while at < end and (limit is None or len(found) < limit):
            child = children[at]
            tag = child.tag
            if tag != entry.tag:
                if not isinstance(tag, str):
                    raise _Unsupported  # a comment or processing instruction
                if _local(tag) == entry.local:
                    raise _Unsupported  # the same name in another namespace: zeep's own rules
                break
            if simple is None:
                found.append(_complex(child, entry.plan, False, journal))  # type: ignore[arg-type]
            else:  # a simple element, inline: most of a request's elements
                if child.attrib or len(child):
                    raise _Unsupported
                text = child.text
                try:
                    found.append(None if text is None else simple(text))
                except (TypeError, ValueError):
                    raise _Unsupported from None  # zeep logs it and decodes None: left to zeep
            at += 1
        if not found and not entry.optional and at < end:
            raise _Unsupported  # zeep raises its own error
        values[entry.name] = found if entry.multiple else (found[0] if found else None)
    if at < end:
        raise _Unsupported
    if journal:
        return values
    value = plan.value_class.__new__(plan.value_class)
    value.__values__ = values
    return value
