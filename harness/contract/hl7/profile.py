"""HL7 v2 message profiles: the YAML files of a contract compiled into a form the validator walks quickly.

A contract names a segment library (`hl7.segments`, field definitions shared by its profiles) and one profile per
message type. A profile gives the segment sequence (segments and groups with usage and cardinality) and may
override library fields by position. Compiling cross-checks what JSON Schema cannot: unknown code tables and data
types, segments without a definition, duplicate positions, cardinality against usage, narrowed value sets that
leave their table. Each problem is located as `path:line`. The format is described in docs/hl7-profiles.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.contract.errors import ContractProblem
from harness.contract.hl7 import datatypes
from harness.contract.model import CodeTable, Format
from harness.contract.source import SourceFile

UNBOUNDED = -1
USAGES = ("R", "RE", "O", "C", "X")
SEGMENT_ITEM = re.compile(r"([A-Z][A-Z0-9]{2})\s+(R|RE|O|C|X)(?:\s+(\d+)\.\.(\d+|\*))?")
CARD = re.compile(r"(\d+)\.\.(\d+|\*)")
POLICIES = ("ignore", "info", "warning", "error")


@dataclass(slots=True)
class ElementDef:
    """A field, component or subcomponent of a segment as the profile constrains it."""

    pos: int
    name: str
    type: str
    usage: str = "O"
    min: int = 0
    max: int = 1
    length: int = 0
    table: str = ""
    values: frozenset[str] | None = None
    strict: bool = True
    components: tuple[ElementDef, ...] = ()
    type_from: int = 0
    pattern: re.Pattern[str] | None = None
    pattern_name: str = ""
    standard: bool = False
    """Not in the profile: the HL7 standard's definition of the field (type, components, repetitions) only."""
    # derived, for the validator's hot path
    primitive: bool = False
    max_components: int = 0
    fmt: Callable[[str], bool] | None = None
    fmt_text: str = ""
    checked: tuple[tuple[int, str], ...] = ()
    plain: bool = False
    """Checked as one value (no components in the profile, type not taken from another field)."""
    quick: Callable[[str], bool] | None = None
    """The format check of a value without separators: the type's, or its first component's (TS)."""

    def __post_init__(self) -> None:
        self.primitive = self.type in datatypes.PRIMITIVE
        self.max_components = datatypes.components(self.type)
        if self.type in datatypes.FORMAT:
            self.fmt, self.fmt_text = datatypes.FORMAT[self.type]
        self.checked = datatypes.checked_components(self.type)
        self.plain = not self.components and not self.type_from
        first = datatypes.FIRST_COMPONENT_FORMAT.get(self.type)
        self.quick = self.fmt if self.primitive else (datatypes.FORMAT[first][0] if first else None)


@dataclass(slots=True)
class SegmentDef:
    name: str
    title: str
    fields: tuple[ElementDef, ...]
    limit: int = 0
    """The last field position a segment may value (the standard's, or the profile's when it goes further); 0: no
    limit known (a profile alone, or a Z-segment)."""


@dataclass(slots=True)
class SegRef:
    """A segment in a profile's sequence."""

    name: str
    usage: str
    min: int
    max: int
    starts: frozenset[str] = frozenset()
    members: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.starts = self.members = frozenset({self.name})


@dataclass(slots=True)
class GroupDef:
    """A segment group (or the whole message): its children in order and the segments that can start it."""

    name: str
    usage: str
    min: int
    max: int
    children: tuple[SegRef | GroupDef, ...]
    starts: frozenset[str] = frozenset()
    later: tuple[frozenset[str], ...] = ()
    """later[i]: names that can start any child from i on (later[len] is empty)."""
    members: frozenset[str] = frozenset()
    """Every segment name anywhere in the group."""
    later_members: tuple[frozenset[str], ...] = ()
    """later_members[i]: every segment name anywhere in the children from i on."""

    def __post_init__(self) -> None:
        self.members = frozenset().union(*(child.members for child in self.children))
        leading: set[str] = set()
        for child in self.children:
            leading |= child.starts
            if child.min > 0:
                break
        self.starts = frozenset(leading)
        later: list[frozenset[str]] = [frozenset()]
        anywhere: list[frozenset[str]] = [frozenset()]
        for child in reversed(self.children):
            later.append(later[-1] | child.starts)
            anywhere.append(anywhere[-1] | child.members)
        self.later = tuple(reversed(later))
        self.later_members = tuple(reversed(anywhere))


@dataclass
class Profile:
    """One message profile, compiled."""

    key: str
    structure: str
    title: str
    path: Path
    root: GroupDef
    segments: dict[str, SegmentDef]
    versions: tuple[str, ...] = ()
    z_segments: str = "info"
    unknown_segments: str = "error"
    description: str = ""
    names: frozenset[str] = frozenset()
    compiled: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """What validators derive from this profile (segment definitions completed by the standard, compiled segment
    expressions, structure findings), shared by every validator of it: a contract loaded once is compiled once."""


@dataclass
class SegmentLibrary:
    """Field definitions shared by every profile of a contract, keyed by segment name, with where each came from."""

    source: SourceFile | None
    segments: dict[str, dict[str, Any]] = field(default_factory=dict)

    def raw(self, name: str) -> dict[str, Any] | None:
        return self.segments.get(name)


def _card(text: str | None, usage: str) -> tuple[int, int]:
    if text is None:
        return {"R": (1, 1), "X": (0, 0)}.get(usage, (0, 1))
    match = CARD.fullmatch(str(text))
    if not match:  # the meta-schema refuses these; keep going with the usage's default
        return _card(None, usage)
    low, high = match.groups()
    return int(low), UNBOUNDED if high == "*" else int(high)


def _card_for_usage(card: str, usage: str) -> str:
    """The library's cardinality adapted to a profile's new usage: X -> 0..0, R -> min at least 1, else min 0."""
    match = CARD.fullmatch(card)
    if not match:
        return card
    low, high = match.groups()
    if usage == "X":
        return "0..0"
    if usage == "R":
        return f"{max(int(low), 1)}..{high}"
    return f"0..{high}"


class _Compiler:
    """Compiles one profile (plus the library) and collects problems located in the files."""

    def __init__(self, tables: dict[str, CodeTable], library: SegmentLibrary,
                 formats: dict[str, Format] | None = None) -> None:
        self.tables = tables
        self.formats = formats or {}
        self.library = library
        self.problems: list[ContractProblem] = []

    def problem(self, source: SourceFile, pointer: str, message: str) -> None:
        self.problems.append(source.problem(pointer, message))

    # -- fields -----------------------------------------------------------------------------------------
    def element(self, data: dict[str, Any], source: SourceFile, pointer: str, where: str,
                siblings: dict[int, dict[str, Any]] | None = None, depth: int = 0) -> ElementDef | None:
        pos = data.get("pos")
        name = data.get("name")
        dtype = data.get("type")
        label = f"{where}-{pos}" if depth == 0 else f"{where}.{pos}"
        if not isinstance(pos, int) or not isinstance(name, str) or not isinstance(dtype, str):
            missing = [k for k, v in (("name", name), ("type", dtype)) if not isinstance(v, str)]
            self.problem(source, pointer, f"{label}: {' and '.join(missing) or 'pos'} missing (not in the segment library either)")
            return None
        if not datatypes.known(dtype):
            self.problem(source, f"{pointer}/type", f"{label}: unknown data type {dtype!r}")
            return None
        usage = data.get("usage", "O")
        low, high = _card(data.get("card"), usage)
        if "card" in data:
            if high != UNBOUNDED and low > high:
                self.problem(source, f"{pointer}/card", f"{label}: cardinality {data['card']} has min above max")
            if usage == "R" and low < 1:
                self.problem(source, f"{pointer}/card", f"{label}: usage R needs a minimum of at least 1, not {data['card']}")
            if usage == "X" and high != 0:
                self.problem(source, f"{pointer}/card", f"{label}: usage X allows no occurrence; cardinality must be 0..0")
            if usage in ("RE", "O", "C") and low > 0:
                self.problem(source, f"{pointer}/card", f"{label}: usage {usage} may be empty; minimum must be 0")
        values: frozenset[str] | None = None
        table = data.get("table", "")
        if table:
            if table not in self.tables:
                self.problem(source, f"{pointer}/table", f"{label}: unknown code table {table!r}")
            else:
                values = frozenset(self.tables[table].values)
        narrowed = data.get("values")
        if narrowed is not None:
            narrowed = [str(v) for v in narrowed]
            if values is not None:
                outside = [v for v in narrowed if v not in values]
                if outside:
                    self.problem(source, f"{pointer}/values",
                                 f"{label}: {', '.join(outside)} not in code table {table}")
            values = frozenset(narrowed)
        type_from = data.get("type_from", 0)
        if type_from and dtype != datatypes.VARIES:
            self.problem(source, f"{pointer}/type_from", f"{label}: type_from only applies to type {datatypes.VARIES}")
        if type_from and siblings is not None and type_from not in siblings:
            self.problem(source, f"{pointer}/type_from", f"{label}: type_from names field {type_from}, which is not defined")
        comps: list[ElementDef] = []
        raw_comps = data.get("components") or []
        if raw_comps:
            if dtype in datatypes.PRIMITIVE or dtype == datatypes.VARIES:
                self.problem(source, f"{pointer}/components", f"{label}: type {dtype} has no components")
            seen: dict[int, int] = {}
            limit = datatypes.components(dtype)
            for index, comp in enumerate(raw_comps):
                cpointer = f"{pointer}/components/{index}"
                cpos = comp.get("pos")
                if cpos in seen:
                    self.problem(source, f"{cpointer}/pos", f"{label}.{cpos}: position defined twice")
                    continue
                seen[cpos] = index
                if limit and isinstance(cpos, int) and cpos > limit:
                    self.problem(source, f"{cpointer}/pos", f"{label}.{cpos}: type {dtype} has {limit} components")
                    continue
                if depth >= 1 and comp.get("components"):
                    self.problem(source, f"{cpointer}/components", f"{label}.{cpos}: subcomponents have no components")
                    continue
                if "card" in comp:
                    self.problem(source, f"{cpointer}/card", f"{label}.{cpos}: components do not repeat; drop card")
                built = self.element(comp, source, cpointer, label, None, depth + 1)
                if built is not None:
                    comps.append(built)
        binding = data.get("binding", "required")
        pattern: re.Pattern[str] | None = None
        format_name = data.get("format", "")
        if format_name:
            if format_name not in self.formats:
                known = ", ".join(self.formats) or "none"
                self.problem(source, f"{pointer}/format", f"{label}: unknown format {format_name!r} (contract formats: {known})")
            else:
                pattern = re.compile(self.formats[format_name].pattern)
        return ElementDef(
            pos=pos, name=name, type=dtype, usage=usage, min=low, max=high, length=int(data.get("len", 0) or 0),
            table=table, values=values, strict=binding != "extensible",
            components=tuple(sorted(comps, key=lambda c: c.pos)), type_from=type_from,
            pattern=pattern, pattern_name=format_name,
        )

    def segment(self, name: str, override: dict[str, Any] | None, source: SourceFile | None,
                pointer: str) -> SegmentDef:
        """The library definition of `name` with the profile's field overrides merged in by position."""
        lib_source = self.library.source
        base = self.library.raw(name) or {}
        merged: dict[int, tuple[dict[str, Any], SourceFile, str]] = {}
        if lib_source is not None:
            for index, item in enumerate(base.get("fields") or []):
                fpointer = f"/segments/{name}/fields/{index}"
                if item.get("pos") in merged:
                    self.problem(lib_source, f"{fpointer}/pos", f"{name}-{item.get('pos')}: position defined twice")
                    continue
                merged[item.get("pos")] = (item, lib_source, fpointer)
        title = base.get("title", name)
        if override is not None and source is not None:
            title = override.get("title", title)
            seen: set[int] = set()
            for index, item in enumerate(override.get("fields") or []):
                fpointer = f"{pointer}/fields/{index}"
                pos = item.get("pos")
                if pos in seen:
                    self.problem(source, f"{fpointer}/pos", f"{name}-{pos}: position defined twice")
                    continue
                seen.add(pos)
                if pos in merged:
                    base_item = merged[pos][0]
                    combined = {**base_item, **item}
                    if "usage" in item and "card" not in item and "card" in base_item:
                        combined["card"] = _card_for_usage(str(base_item["card"]), item["usage"])
                    merged[pos] = (combined, source, fpointer)
                else:
                    merged[pos] = (item, source, fpointer)
        siblings = {pos: item for pos, (item, _, _) in merged.items()}
        fields = []
        for pos in sorted(merged):
            item, src, fpointer = merged[pos]
            built = self.element(item, src, fpointer, name, siblings)
            if built is not None:
                fields.append(built)
        for f in fields:
            if f.type_from:
                ref = siblings.get(f.type_from, {})
                if ref and ref.get("type") not in ("ID", "IS", "CE", "CWE"):
                    item, src, fpointer = merged[f.pos]
                    self.problem(src, f"{fpointer}/type_from", f"{name}-{f.pos}: type_from field {f.type_from} is not a coded field")
        return SegmentDef(name, str(title), tuple(fields))

    # -- the sequence -----------------------------------------------------------------------------------
    def sequence(self, items: list[Any], source: SourceFile, pointer: str, used: dict[str, str],
                 groups: set[str]) -> tuple[SegRef | GroupDef, ...]:
        out: list[SegRef | GroupDef] = []
        for index, item in enumerate(items):
            ipointer = f"{pointer}/{index}"
            if isinstance(item, str):
                match = SEGMENT_ITEM.fullmatch(item.strip())
                if not match:
                    self.problem(source, ipointer, f"{item!r}: expected 'SEG USAGE [MIN..MAX]', e.g. 'PID R 1..1'")
                    continue
                name, usage = match.group(1), match.group(2)
                low, high = _card(f"{match.group(3)}..{match.group(4)}" if match.group(3) else None, usage)
                self._card_problems(f"{name}", usage, low, high, source, ipointer)
                used.setdefault(name, ipointer)
                out.append(SegRef(name, usage, low, high))
            else:
                name = item["group"]
                if name in groups:
                    self.problem(source, f"{ipointer}/group", f"group {name} is defined twice")
                groups.add(name)
                usage = item.get("usage", "R")
                low, high = _card(item.get("card"), usage)
                self._card_problems(f"group {name}", usage, low, high, source, ipointer)
                children = self.sequence(item["sequence"], source, f"{ipointer}/sequence", used, groups)
                if not children:
                    continue
                out.append(GroupDef(name, usage, low, high, children))
        return tuple(out)

    def _card_problems(self, label: str, usage: str, low: int, high: int, source: SourceFile, pointer: str) -> None:
        if high != UNBOUNDED and low > high:
            self.problem(source, pointer, f"{label}: cardinality {low}..{high} has min above max")
        elif usage == "R" and low < 1:
            self.problem(source, pointer, f"{label}: usage R needs a minimum of at least 1")
        elif usage == "X" and high != 0:
            self.problem(source, pointer, f"{label}: usage X allows no occurrence; cardinality must be 0..0")
        elif usage in ("RE", "O", "C") and low > 0:
            self.problem(source, pointer, f"{label}: usage {usage} may be absent; minimum must be 0")


def compile_library(source: SourceFile | None, tables: dict[str, CodeTable],
                    formats: dict[str, Format] | None = None) -> tuple[SegmentLibrary, list[ContractProblem]]:
    """Check the segment library on its own (each segment compiled without overrides)."""
    library = SegmentLibrary(source, dict((source.data or {}).get("segments") or {}) if source else {})
    compiler = _Compiler(tables, library, formats)
    if source is not None:
        for key in ("message", "structure", "sequence"):
            if key in (source.data or {}):
                compiler.problem(source, f"/{key}", f"a segment library holds only segments; {key!r} belongs in a message profile")
        for name in library.segments:
            compiler.segment(name, None, None, "")
    return library, compiler.problems


def compile_profile(source: SourceFile, key: str, tables: dict[str, CodeTable], library: SegmentLibrary,
                    defaults: dict[str, str], versions: tuple[str, ...] = (),
                    formats: dict[str, Format] | None = None) -> tuple[Profile | None, list[ContractProblem]]:
    """Compile one message profile; (None, problems) when it cannot be used.

    `versions` are the contract's HL7 versions: a profile may narrow them, not add to them.
    """
    data: dict[str, Any] = source.data
    compiler = _Compiler(tables, library, formats)
    for required in ("message", "structure", "sequence"):
        if required not in data:
            compiler.problem(source, "", f"a message profile needs {required!r}")
    if compiler.problems:
        return None, compiler.problems
    declared = data["message"] if isinstance(data["message"], list) else [data["message"]]
    if key not in declared:
        compiler.problem(source, "/message", f"profile is for {', '.join(declared)} but the contract names it for {key!r}")
    for index, version in enumerate(data.get("versions") or ()):
        if versions and str(version) not in versions:
            compiler.problem(source, f"/versions/{index}", f"version {version} is not among the contract's versions {', '.join(versions)}")
    used: dict[str, str] = {}
    children = compiler.sequence(data["sequence"], source, "/sequence", used, set())
    if not children or not isinstance(children[0], SegRef) or children[0].name != "MSH":
        compiler.problem(source, "/sequence/0", "the sequence must start with MSH")
    overrides: dict[str, Any] = data.get("segments") or {}
    for name in overrides:
        if name not in used:
            compiler.problem(source, f"/segments/{name}", f"segment {name} is defined but not in the sequence")
    segments: dict[str, SegmentDef] = {}
    for name, pointer in used.items():
        if library.raw(name) is None and name not in overrides:
            compiler.problem(source, pointer, f"unknown segment {name}: not in the segment library nor in this profile's segments")
            continue
        segments[name] = compiler.segment(name, overrides.get(name), source, f"/segments/{name}")
    root = GroupDef(data["structure"], "R", 1, 1, children) if children else GroupDef(data["structure"], "R", 1, 1, ())
    profile = Profile(
        key=key, structure=data["structure"], title=data.get("title", key), path=source.path, root=root,
        segments=segments, versions=tuple(str(v) for v in data.get("versions") or ()),
        z_segments=data.get("z_segments", defaults.get("z_segments", "info")),
        unknown_segments=data.get("unknown_segments", defaults.get("unknown_segments", "error")),
        description=data.get("description", ""), names=frozenset(used),
    )
    return (profile if not compiler.problems else None), compiler.problems
