"""Replies built from templates: the same bytes zeep's encoder makes, for a fraction of its cost.

zeep encodes an answer (`operation.output.serialize(**data)`) by building a typed object from the fields, then
rendering it element by element: about a quarter of a SOAP mock's time per call. Most answers are flat (ResultCode,
ResultMessage, an id, a status: a sequence of simple-typed elements). For those, the envelope zeep rendered the
first time an operation answered with a given set of fields is kept as a template; the next answer with the same
fields is a copy of it with each element's text set by the element's own XSD type (`xmlvalue`, what zeep's
renderer calls), after zeep's own check of the value (`validate`).

Anything else goes to zeep as before: a nested or repeated field, an attribute, a value that is not a plain
string, number, boolean, date or time, a field the operation does not have, a required field left out, or a
value the type refuses (zeep then raises its own error). Templates are kept per operation and set of fields,
at most `MAX_TEMPLATES` each.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from lxml import etree

MAX_TEMPLATES = 32
_PLAIN = (str, int, float, bool, Decimal, date, datetime, time)


class ReplyTemplates:
    """Flat replies of one operation (zeep's `operation.output`); `build` answers None when zeep must encode."""

    def __init__(self, output: Any) -> None:
        self.output = output
        self.elements: dict[str, Any] = _flat_elements(getattr(getattr(output, "body", None), "type", None))
        self._templates: dict[tuple[str, ...], etree._Element] = {}

    def build(self, data: dict[str, Any]) -> etree._Element | None:
        """The reply envelope for `data`, or None when zeep must encode it (the first time, or not flat)."""
        if not self.elements or not isinstance(data, dict):
            return None
        present = tuple(name for name in self.elements if data.get(name) is not None)
        if len(present) != sum(1 for value in data.values() if value is not None) or any(
                name not in self.elements for name in data):
            return None  # a field the operation does not have: zeep says which
        template = self._templates.get(present)
        if template is None:
            return None
        envelope = copy.deepcopy(template)
        reply = envelope[0][0]
        try:
            for node, name in zip(reply, present, strict=True):
                value = data[name]
                if type(value) not in _PLAIN:
                    return None
                element = self.elements[name]
                element.validate(value, [name])
                node.text = element.type.xmlvalue(value)
        except Exception:  # noqa: BLE001 - zeep raises the same, with its message, when it encodes
            return None
        return envelope

    def learn(self, data: dict[str, Any], envelope: etree._Element) -> None:
        """Keep the envelope zeep rendered for `data` as the template of its set of fields, when it has the shape
        expected (the Body's reply element holding one element per field, in the sequence's order)."""
        if not self.elements or not isinstance(data, dict) or any(name not in self.elements for name in data):
            return
        present = tuple(name for name in self.elements if data.get(name) is not None)
        if present in self._templates or len(self._templates) >= MAX_TEMPLATES:
            return
        if any(name not in present for name, element in self.elements.items() if not element.is_optional):
            return  # zeep renders a required field left out in a way of its own
        if any(type(data[name]) not in _PLAIN for name in present):
            return
        try:
            reply = envelope[0][0]
        except IndexError:
            return
        if [node.tag for node in reply] != [self.elements[name].qname.text for name in present] or len(envelope) != 1:
            return
        template = copy.deepcopy(envelope)
        for node in template[0][0]:
            node.text = None
        self._templates[present] = template


def _flat_elements(xsd_type: Any) -> dict[str, Any]:
    """name -> zeep element of a complex type that is one sequence of single simple-typed elements without
    attributes; empty for any other type."""
    if xsd_type is None:
        return {}
    try:
        nested = list(xsd_type.elements_nested)
        elements = list(xsd_type.elements)
        flat = (len(nested) == 1 and type(nested[0][1]).__name__ == "Sequence" and bool(elements)
                and not list(xsd_type.attributes)
                and all(type(element).__name__ == "Element" and element.max_occurs == 1
                        and getattr(element.type, "accepted_types", None) is not None
                        and not hasattr(element.type, "elements") for _, element in elements))
    except Exception:  # noqa: BLE001 - a type zeep describes otherwise: zeep encodes it
        return {}
    return dict(elements) if flat else {}
