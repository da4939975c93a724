"""The HL7 v2 standard's segment definitions, v2.1 to v2.8.2, from hl7apy's bundled structures (loaded once per
version, cached).

A profile constrains some fields of a segment; the standard says how many fields the segment has in the message's
version and what type each one is. The validator uses it for what a profile leaves out: a field beyond the
standard's last one (a shifted or glued field) is an error at the first such field, and a field the profile does
not list is checked against its standard type (format of NM, SI, DT, TM, DTM and the first component of TS; the
component count of the type in that version; the lengths hl7apy's base types give: SI 4, NM 16, IS 20, ST 199).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from harness.contract.hl7 import datatypes
from harness.contract.hl7.profile import UNBOUNDED, ElementDef, SegmentDef

VERSIONS = ("2.1", "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.8", "2.8.1", "2.8.2")
"""The versions hl7apy bundles."""


@dataclass(frozen=True, slots=True)
class StandardField:
    """One field of a segment as the standard defines it in one version."""

    pos: int
    name: str
    type: str
    """The data type as the validator knows it: a primitive or composite of `datatypes`, `CM` for another composite
    (its components not checked, only counted), `varies` when the standard gives none."""
    components: int
    """How many components the type has in this version (1: a primitive, 0: not known)."""
    max: int
    """Repetitions allowed (UNBOUNDED: any; 0: the field is reserved in this version, not to be valued)."""
    length: int = 0
    """Maximum length of a primitive value (0: none known)."""


@dataclass(frozen=True, slots=True)
class StandardSegment:
    name: str
    fields: tuple[StandardField, ...]

    @property
    def width(self) -> int:
        """The last field position the standard defines."""
        return len(self.fields)


def library_version(version: str) -> str | None:
    """The bundled version that defines messages of MSH-12 `version` (`2.5.1`, `2.3.1`); None when none does."""
    version = version.strip()
    return version if version in VERSIONS else None


@cache
def _lengths() -> dict[str, int]:
    """Maximum lengths of the primitive types, as hl7apy's base types enforce them."""
    from hl7apy import base_datatypes

    out: dict[str, int] = {}
    for name, sample in (("ST", "x"), ("IS", "x"), ("GTS", "x"), ("NM", Decimal(1)), ("SI", 1)):
        try:
            length = getattr(base_datatypes, name)(sample).max_length
        except (AttributeError, ValueError, TypeError):  # an hl7apy release that changed its base types
            continue
        if isinstance(length, int) and length > 0:
            out[name] = length
    return out


def _field(pos: int, ref: Any, cardinality: tuple[int, int]) -> StandardField:
    kind, struct, dtype, long_name = ref[0], ref[1], ref[2], ref[3]
    name = str(long_name or "").replace("_", " ").lower() or f"field {pos}"
    high = cardinality[1] if len(cardinality) > 1 else 1
    if dtype is None:
        return StandardField(pos, name, datatypes.VARIES, 0, high)
    if kind == "leaf":
        if dtype in datatypes.PRIMITIVE:
            return StandardField(pos, name, dtype, 1, high, _lengths().get(dtype, 0))
        known = dtype if datatypes.known(dtype) else datatypes.VARIES
        return StandardField(pos, name, known, 1 if known != datatypes.VARIES else 0, high)
    count = len(struct) if isinstance(struct, tuple | list) else 0
    known = dtype if dtype in datatypes.COMPOSITE else "CM"
    return StandardField(pos, name, known, count, high)


@cache
def segments(version: str) -> dict[str, StandardSegment]:
    """Every segment the standard defines in `version` (a `library_version`), by name; {} for an unknown one."""
    if version not in VERSIONS:
        return {}
    module = importlib.import_module(f"hl7apy.v{version.replace('.', '_')}")
    out: dict[str, StandardSegment] = {}
    for name, entry in module.SEGMENTS.items():
        # ("sequence", children) as a rule; a few entries are the bare children (v2.1 ORO) or empty (v2.7 QRD)
        children = entry[1] if len(entry) == 2 and entry[0] == "sequence" else \
            entry if entry and isinstance(entry[0], tuple) else ()
        if len(name) != 3 or not children:
            continue
        fields = tuple(_field(index, child[1], child[2]) for index, child in enumerate(children, 1))
        out[name] = StandardSegment(name, fields)
    return out


def segment(version: str | None, name: str) -> StandardSegment | None:
    """The standard definition of segment `name` in `version`; None for a Z-segment or an unknown version."""
    return segments(version).get(name) if version else None


def with_standard(sdef: SegmentDef, std: StandardSegment | None, header: bool = False) -> SegmentDef:
    """The profile's segment definition completed by the standard's: every field the profile does not list, typed
    as the standard types it (optional; reserved ones not supported), and the last position a field may have."""
    if std is None:
        return sdef
    listed = {f.pos for f in sdef.fields}
    added: list[ElementDef] = []
    for sf in std.fields:
        if sf.pos in listed or (header and sf.pos <= 2):
            continue
        reserved = sf.max == 0
        element = ElementDef(pos=sf.pos, name=sf.name, type=sf.type, usage="X" if reserved else "O",
                             min=0, max=0 if reserved else (UNBOUNDED if sf.max == UNBOUNDED else max(sf.max, 1)),
                             length=sf.length, standard=True)
        if not element.primitive and sf.components:
            element.max_components = sf.components  # the type's components in this version
        added.append(element)
    fields = tuple(sorted((*sdef.fields, *added), key=lambda f: f.pos))
    return SegmentDef(sdef.name, sdef.title, fields, max(std.width, max(listed, default=0)))
