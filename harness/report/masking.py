"""Mask patient identifiers in everything a report or log shows, by field path for each kind of message.

- JSON: JSON pointer patterns (`/input/data/certno`, `/output/*/certno`, `**/psn_name`; a bare name means any
  depth);
- XML: element paths by local name (`//MotherName`, `/Envelope/Body/*/IdCard`, `//Patient/@id`), globs allowed;
  credentials (`Token`, `Password` ... elements, e.g. a SOAP auth header) become `***` whatever the configuration;
- HL7 v2: `SEG-FIELD[.COMPONENT[.SUBCOMPONENT]]` (`PID-3.1`, `PID-5`), every repetition;
- free text: the shapes of resident ID and phone numbers, `"field": "value"` pairs and `<Field>value</Field>`
  elements of the configured names, configured regular expressions, and every value this masker has already
  masked by path (so an ID number echoed in an error message is masked as well).

Names match case-insensitively. A masked value keeps its length and enough of its ends to tell records apart.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import functools
import json
import re
from collections.abc import Iterable
from typing import Any

import ahocorasick

from harness.config import MaskingConfig
from harness.report.formats import MLLP_FRAME, parse_xml, sniff

DEFAULT_JSON = (
    "certno", "mdtrt_cert_no", "psn_name", "psn_no", "card_sn", "card_no", "ec_token", "ipt_otp_no", "medrcdno",
    "tel", "phone", "mobile", "addr", "address", "coner_name", "patient_name", "patient_id", "name", "id_card",
    "idcard", "idcard_no", "mrn", "password", "sessionkey",
    # the Chinese labels of the same facts, as Gherkin example columns and Chinese-keyed JSON name them
    "姓名", "患者姓名", "身份证号", "身份证号码", "证件号码", "手机号", "手机号码", "联系电话", "电话", "病历号",
    "住院号", "门诊号", "地址", "家庭住址",
)
DEFAULT_XML = (
    "//Name", "//PatientName", "//MotherName", "//FatherName", "//ChildName", "//NewbornName", "//GuardianName",
    "//ContactName", "//ApplicantName", "//PersonName", "//*IdCard*", "//*IdNo", "//*IdNumber", "//CertNo", "//*CardNo", "//PatientId", "//Mrn",
    "//MedicalRecordNo", "//Phone", "//*Phone", "//Mobile", "//Tel", "//Telephone", "//Address", "//*Address",
    "//Addr", "//AD_Detail", "//password", "//*Password", "//sessionKey",
)
SECRET_XML = frozenset({"token", "password", "passwd", "pwd", "secret"})
"""XML elements that carry credentials (a SOAP auth header's Token): replaced by *** whole, never partly shown."""
DEFAULT_HL7 = (
    "PID-2", "PID-3.1", "PID-4", "PID-5", "PID-6", "PID-9", "PID-11", "PID-13", "PID-14", "PID-18.1", "PID-19",
    "PID-20.1", "PID-21.1", "NK1-2", "NK1-4", "NK1-5", "NK1-6", "NK1-30", "NK1-31", "NK1-32", "NK1-33.1",
    "IN1-16", "IN1-19", "IN1-49.1", "GT1-3", "GT1-5", "GT1-6", "GT1-7", "GT1-12", "MRG-1.1", "MRG-7",
)
RESIDENT_ID = r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])"
MOBILE = r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)"
LANDLINE = r"(?<![\d-])(0\d{2,3}-)(\d{7,8})(?![\d-])"
DEFAULT_FIELDS = frozenset(DEFAULT_JSON)
"""The built-in JSON field names (kept for callers that list them)."""

# The same shapes, each look-behind moved past the first character it guards (`(?<!\d)1` is `1(?<!\d1)`): a
# pattern that starts with a literal or a class lets the regex engine skip to where it can match, where a leading
# look-behind is tried at every position of the text. RESIDENT_ID, MOBILE and LANDLINE stay the reference forms
# (tests/report/test_masking_fast.py holds these to them).
_RESIDENT_ID = re.compile(r"(\d(?<![0-9A-Za-z]\d)\d{5})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(1(?<!\d1)[3-9]\d)(\d{4})(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(0(?<![\d-]0)\d{2,3}-)(\d{7,8})(?![\d-])")
_REFERENCE_SHAPES = (re.compile(RESIDENT_ID), re.compile(MOBILE), re.compile(LANDLINE))
_DIGITS = re.compile(r"\d{7}")
"""What the identifier shapes have in common: no text without seven digits in a row holds one of them."""
_LANDLINE_NEEDS = re.compile(r"-\d{7}")
"""A landline number's dash and the seven digits after it: most texts with seven digits in a row have no such."""
LONG_SEEN_CHARS = 4_000_000
"""Characters of long texts (and their masked forms) a masker keeps to answer a text it has masked already."""
GENERIC_NAMES = frozenset({"name"})
"""Field names masked in JSON and XML but not as `name=value` in free text, where they mean anything
(XML attributes in junit.xml, keyword arguments in tracebacks)."""
_NOT_VALUES = frozenset({"", "None", "null", "True", "False", "true", "false", "N/A"})
_GLOB = re.compile(r"[*?\[]")
_HL7_RULE = re.compile(r"^([A-Z][A-Z0-9]{2})-(\d+)(?:\.(\d+)(?:\.(\d+))?)?$")


def mask_value(value: str) -> str:
    """Keep enough to tell records apart, hide the rest: 3301**********1234, 张*, 欧**娜."""
    if len(value) <= 1:
        return "*"
    if len(value) <= 3:
        return value[0] + "*" * (len(value) - 1)
    keep = 4 if len(value) >= 12 else 1
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


def _normalise(pattern: str) -> str:
    """`name` and `//name` mean any depth (`**/name`); `/a/b` is anchored at the document root."""
    pattern = pattern.strip()
    if pattern.startswith("//"):
        return "**/" + pattern[2:].replace("//", "/**/")
    if pattern.startswith("/"):
        return pattern[1:].replace("//", "/**/")
    return "**/" + pattern.replace("//", "/**/")


def _segment_regex(segment: str) -> str:
    out = []
    for char in segment:
        out.append("[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char))
    return "/" + "".join(out)


class PathMatcher:
    """Matches a node's path (a tuple of names from the root) against path patterns.

    Most patterns are `**/name`: those are a set lookup on the last name; `**/glob` is one regex on the last
    name; anything else is one regex over the whole path.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(dict.fromkeys(_normalise(p) for p in patterns if p.strip("/ ")))
        anywhere: set[str] = set()
        last_globs: list[str] = []
        full: list[str] = []
        for pattern in self.patterns:
            segments = [seg for seg in pattern.split("/") if seg]
            if len(segments) == 2 and segments[0] == "**" and segments[1] != "**":
                if _GLOB.search(segments[1]):
                    last_globs.append(_segment_regex(segments[1])[1:])
                else:
                    anywhere.add(segments[1].lower())
                continue
            full.append("".join("(?:/[^/]*)*" if seg == "**" else _segment_regex(seg) for seg in segments))
        self._anywhere = frozenset(anywhere)
        self._last = re.compile("^(?:" + "|".join(last_globs) + ")$", re.IGNORECASE) if last_globs else None
        self._full = re.compile("^(?:" + "|".join(full) + ")$", re.IGNORECASE) if full else None
        self.names = frozenset(p.rsplit("/", 1)[-1].lower() for p in self.patterns
                               if not _GLOB.search(p.rsplit("/", 1)[-1]))
        """Literal last names (`psn_name` of `**/psn_name`), for masking `"name": value` pairs in free text."""
        self._by_last: dict[str, bool] = {}

    def _last_matches(self, last: str) -> bool:
        return last.lower() in self._anywhere or (self._last is not None and self._last.match(last) is not None)

    def matches(self, path: tuple[str, ...]) -> bool:
        if not path:
            return False
        last = str(path[-1])
        if self._full is None:  # the last name decides: a document's keys recur, in every message of a run
            known = self._by_last.get(last)
            if known is None:
                known = self._last_matches(last)
                if len(self._by_last) < LAST_NAMES_KEPT:
                    self._by_last[last] = known
            return known
        if self._last_matches(last):
            return True
        joined = "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
        return self._full.match(joined) is not None


def _hl7_rules(patterns: Iterable[str]) -> dict[str, list[tuple[int, int | None, int | None]]]:
    rules: dict[str, list[tuple[int, int | None, int | None]]] = {}
    for pattern in patterns:
        match = _HL7_RULE.match(pattern.strip())
        if match is None:
            raise ValueError(f"HL7 path {pattern!r}: expected SEG-FIELD[.COMPONENT[.SUBCOMPONENT]]")
        seg, fld, comp, sub = match.groups()
        rules.setdefault(seg, []).append((int(fld), int(comp) if comp else None, int(sub) if sub else None))
    return rules


LAST_NAMES_KEPT = 4096
"""Names a PathMatcher remembers the answer for, when the last name of a path decides it."""
LEARNED_PATTERNS = 1024
"""Compiled patterns of learnt values kept, one per set of values found together in a text."""


def _trie_regex(words: Iterable[str]) -> str:
    """One regex alternation for many literal words, branching on shared prefixes (fast on long texts)."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        ending = "" in node
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 and not ending else "(?:" + "|".join(branches) + ")"
        return body + "?" if ending and branches else body

    return build(trie)


@functools.lru_cache(maxsize=LEARNED_PATTERNS)
def _learned_regex(words: frozenset[str]) -> re.Pattern[str]:
    """The pattern that masks learnt values: at each place the longest value there, an ASCII letter-or-digit value
    only where no letter or digit adjoins it (an ID number inside a longer number is not that ID number)."""
    alnum = {w for w in words if w[0].isascii() and w[0].isalnum() and w[-1].isascii() and w[-1].isalnum()}
    parts = []
    if alnum:
        parts.append(r"(?<![0-9A-Za-z])" + _trie_regex(alnum) + r"(?![0-9A-Za-z])")
    if words - alnum:
        parts.append(_trie_regex(words - alnum))
    return re.compile("|".join(parts))


class Masker:
    """Masks JSON documents by pointer pattern, XML by element path, HL7 by field path, free text by shape.

    A masker remembers the values it masked by path and masks them wherever they appear in free text later.
    """

    def __init__(self, json: Iterable[str] = DEFAULT_JSON, xml: Iterable[str] = DEFAULT_XML,
                 hl7: Iterable[str] = DEFAULT_HL7, text: Iterable[str] = (), fields: Iterable[str] | None = None) -> None:
        if fields is not None:  # the earlier form: JSON field names only
            json = tuple(fields)
        self.json_paths = PathMatcher(json)
        self.xml_paths = PathMatcher(xml)
        self.hl7_rules = _hl7_rules(hl7)
        self.text_patterns = tuple(re.compile(p) for p in text)
        self._learned: set[str] = set()
        self._finder: ahocorasick.Automaton | None = None
        self._seen: dict[str, str] = {}
        self._long_seen: dict[str, str] = {}
        self._long_chars = 0
        # Chinese labels name table columns and JSON keys, not XML elements: `<姓名>` is a Gherkin placeholder
        self._pairs = self._pair_regexes(frozenset(n for n in self.json_paths.names | self.xml_paths.names if n.isascii()),
                                          self.json_paths.names - GENERIC_NAMES)
        self._hl7_segment = re.compile(r"(?:^|[\r\n\x0b])(?:" + "|".join(map(re.escape, self.hl7_rules)) + r")\|")

    @classmethod
    def default(cls) -> Masker:
        return cls()

    def scoped(self) -> Masker:
        """A masker with the same rules that has learnt nothing yet: what it masks depends only on what it is
        shown, so a scenario's name and node id come out the same in every run, whatever ran before it."""
        fresh = copy.copy(self)
        fresh._learned = set()
        fresh._finder = None
        fresh._seen = {}
        fresh._long_seen = {}
        fresh._long_chars = 0
        return fresh

    def remember(self, values: Iterable[str]) -> None:
        """Values to mask wherever they appear in free text from now on (identifiers another masker learnt)."""
        for value in values:
            self._mask(value)

    @property
    def learned(self) -> frozenset[str]:
        """The values this masker masks in free text because a rule masked them somewhere."""
        return frozenset(self._learned)

    @classmethod
    def from_config(cls, config: MaskingConfig) -> Masker:
        """The built-in rules (unless `defaults = false`) less `exclude`, plus the configured ones."""
        excluded = {p.strip() for p in config.exclude} | {_normalise(p).lower() for p in config.exclude}

        def keep(defaults: tuple[str, ...], extra: tuple[str, ...], paths: bool = True) -> list[str]:
            base = [p for p in defaults if p not in excluded and not (paths and _normalise(p).lower() in excluded)]
            return (base if config.defaults else []) + list(extra)

        return cls(json=keep(DEFAULT_JSON, config.json), xml=keep(DEFAULT_XML, config.xml),
                   hl7=keep(DEFAULT_HL7, config.hl7, paths=False), text=config.text)

    @property
    def fields(self) -> frozenset[str]:
        """The literal JSON field names masked at any depth."""
        return self.json_paths.names

    # -- values -----------------------------------------------------------------------------------------------
    def _mask(self, value: str) -> str:
        # remember it for free text; short ASCII values (codes, "01") would mask unrelated text
        if "*" not in value and value.strip() and len(value) >= (4 if value.isascii() else 2):
            if value not in self._learned:
                self._learned.add(value)
                if self._finder is not None:
                    self._finder.add_word(value, value)  # made into an automaton again when next searched
                self._seen.clear()
                self._long_seen.clear()
                self._long_chars = 0
        return mask_value(value) if value else value

    def _learned_in(self, text: str) -> frozenset[str]:
        """The learnt values that occur in `text`, overlapping ones too, found in one pass (Aho-Corasick).

        Only a value that occurs in a text can match in it, so the pattern of these values masks the text as the
        pattern of every learnt value would; that one, recompiled as the masker learns, cost more than the rest of
        masking (≈ 10-100 ms a compile at hundreds to thousands of values), where the automaton takes in new values
        at a few microseconds each."""
        finder = self._finder
        if finder is None:
            finder = self._finder = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
            for value in self._learned:
                finder.add_word(value, value)
        if finder.kind != ahocorasick.AHOCORASICK:
            finder.make_automaton()
        return frozenset(value for _, value in finder.iter(text))

    # -- JSON -------------------------------------------------------------------------------------------------
    def json(self, node: Any, path: tuple[str, ...] = (), matcher: PathMatcher | None = None) -> Any:
        """A copy of a JSON document with every matching field masked; other strings are masked as free text."""
        matcher = matcher or self.json_paths
        if path and matcher.matches(path):
            return self._mask_all(node)
        if isinstance(node, dict):
            return {k: self._json_child(v, (*path, str(k)), matcher) for k, v in node.items()}
        if isinstance(node, list):
            return [self._json_child(v, (*path, str(i)), matcher) for i, v in enumerate(node)]
        if isinstance(node, str):
            return self.text(node)
        return node

    def _json_child(self, node: Any, path: tuple[str, ...], matcher: PathMatcher) -> Any:
        """`json` of a value inside a document, its leaves handled here: most values of a message are leaves, and a
        call less for each is most of the time the walk takes."""
        if matcher.matches(path):
            return self._mask_all(node)
        if isinstance(node, str):
            return self.text(node)
        if isinstance(node, dict | list):
            return self.json(node, path, matcher)
        return node

    def learn(self, node: Any, path: tuple[str, ...] = (), depth: int = 0) -> None:
        """Remember the identifiers held by objects (dicts, lists, dataclasses) by the JSON field rules, so that
        free text quoting them (a failure message, a repr in a traceback) is masked too."""
        if depth > 6:
            return
        if path and self.json_paths.matches(path) and isinstance(node, str | int) and not isinstance(node, bool):
            self._mask(str(node))
            return
        if isinstance(node, dict):
            items: Iterable[tuple[Any, Any]] = node.items()
        elif isinstance(node, list | tuple):
            items = enumerate(node)
        elif dataclasses.is_dataclass(node) and not isinstance(node, type):
            items = ((f.name, getattr(node, f.name, None)) for f in dataclasses.fields(node))
        else:
            return
        for key, value in items:
            self.learn(value, (*path, str(key)), depth + 1)

    def _mask_all(self, node: Any) -> Any:
        if isinstance(node, dict):
            return {k: self._mask_all(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self._mask_all(v) for v in node]
        if isinstance(node, bool) or node is None:
            return node
        if isinstance(node, int | float | str):
            return self._mask(str(node)) if str(node) != "" else node
        return node

    # -- XML --------------------------------------------------------------------------------------------------
    def xml(self, text: str) -> str:
        """An XML text with matching elements and attributes masked (string payloads holding XML too)."""
        from lxml import etree  # with the first XML text: a run of JSON or HL7 messages never imports lxml

        try:
            declaration, root = parse_xml(text)
        except etree.XMLSyntaxError:
            return self._pairs_in_text(text)
        self._mask_tree(root, ())
        body = etree.tostring(root, encoding="unicode")
        return f"{declaration}\n{body}" if declaration else body

    def _mask_tree(self, element: Any, parent: tuple[str, ...]) -> None:
        if not isinstance(element.tag, str):  # comments, processing instructions
            return
        path = (*parent, _local(element.tag))
        if path[-1].lower() in SECRET_XML and len(element) == 0:
            if element.text:
                element.text = "***"
            return
        if self.xml_paths.matches(path):
            for inner in element.iter():
                if inner.text and isinstance(inner.tag, str):
                    inner.text = self._mask(inner.text)
                if inner is not element and inner.tail and inner.tail.strip():
                    inner.tail = self._mask(inner.tail)
                for name, value in inner.attrib.items():
                    inner.set(name, self._mask(value))
            return
        for name, value in element.attrib.items():
            if self.xml_paths.matches((*path, "@" + _local(name))):
                element.set(name, self._mask(value))
        if element.text and element.text.strip():
            element.text = self.raw(element.text) if element.text.lstrip()[:1] in "<{" else self.text(element.text)
        for child in element:
            self._mask_tree(child, path)
            if child.tail and child.tail.strip():
                child.tail = self.text(child.tail)

    # -- HL7 v2 -----------------------------------------------------------------------------------------------
    def hl7(self, text: str) -> str:
        """An HL7 v2 message (or a few segments) with the configured fields masked; framing kept."""
        start = text.find("MSH|")
        fs, comp, rep, sub = "|", "^", "~", "&"
        if start >= 0 and len(text) >= start + 8:
            fs = text[start + 3]
            chars = (text[start + 4:start + 8] + "^~\\&")[:4]
            comp, rep, sub = chars[0], chars[1], chars[3]
        parts = re.split(r"(\r\n|\r|\n)", text)
        for i in range(0, len(parts), 2):
            line = parts[i]
            lead = len(line) - len(line.lstrip(MLLP_FRAME))
            body = line[lead:]
            seg = body[:3]
            rules = self.hl7_rules.get(seg)
            if not rules or body[3:4] != fs:
                continue
            fields = body.split(fs)
            for number, component, subcomponent in rules:
                index = number - 1 if seg == "MSH" else number
                if 0 < index < len(fields):
                    fields[index] = self._hl7_field(fields[index], component, subcomponent, rep, comp, sub)
            parts[i] = line[:lead] + fs.join(fields)
        return "".join(parts)

    def _hl7_field(self, value: str, component: int | None, subcomponent: int | None,
                   rep: str, comp: str, sub: str) -> str:
        def leaf(text: str) -> str:
            return text if text in ("", '""') else self._mask(text)

        repetitions = []
        for repetition in value.split(rep):
            components = repetition.split(comp)
            for c, content in enumerate(components, start=1):
                if component is not None and c != component:
                    continue
                subs = content.split(sub)
                subs = [leaf(s) if subcomponent is None or n == subcomponent else s for n, s in enumerate(subs, start=1)]
                components[c - 1] = sub.join(subs)
            repetitions.append(comp.join(components))
        return rep.join(repetitions)

    # -- free text --------------------------------------------------------------------------------------------
    @staticmethod
    def _pair_regexes(elements: frozenset[str], keys: frozenset[str]) -> tuple[re.Pattern[str], ...]:
        if not elements and not keys:
            return ()
        never = "(?!)"
        alternation = _trie_regex(sorted(keys)) or never
        element_names = _trie_regex(sorted(elements)) or never
        return (
            # "psn_name": "张三", 'psn_name': '张三', "psn_no": 123 (JSON, Python reprs, truncated JSON)
            re.compile(r"""(["'])(?:""" + alternation + r""")\1\s*[:=]\s*(?:"((?:\\.|[^"\\])*)"|'((?:\\.|[^'\\])*)'|(-?\d[\d.]*))""",
                       re.IGNORECASE),
            # <PatientName>张三</PatientName>, <ns:IdCard>..., also escaped inside another document (&lt;Phone&gt;...)
            re.compile(r"(?:<|&lt;)(?:[\w.-]+:)?(?:" + element_names + r")(?:\s[^<>&]*)?(?:>|&gt;)([^<&]+)", re.IGNORECASE),
            # psn_no=1234, certno: 3301..., psn_name='张三' (keyword reprs), in log lines and query strings
            re.compile(r"(?<![\w\"'])(?:" + alternation + r")\s*[=:]\s*(?:'([^'\n]*)'|\"([^\"\n]*)\"|([^\s&,;\"'<>()\[\]{}]+))",
                       re.IGNORECASE),
        )

    def _pairs_in_text(self, text: str, shortcuts: bool = True) -> str:
        if not self._pairs:
            return text
        quoted, element, bare = self._pairs

        def quoted_value(m: re.Match[str]) -> str:
            start, end = m.span()
            if m.group(2) is not None:  # a JSON string: mask what it says, not its escapes
                try:
                    decoded = json.loads('"' + m.group(2) + '"')
                except ValueError:
                    decoded = m.group(2)
                masked = json.dumps(self._mask(decoded), ensure_ascii=False)[1:-1]
                a, b = m.span(2)
            else:
                group = 3 if m.group(3) is not None else 4
                masked = self._mask(m.group(group))
                a, b = m.span(group)
            return m.string[start:a] + masked + m.string[b:end]

        def group_masked(group: int) -> Any:
            def replace(m: re.Match[str]) -> str:
                start, end = m.span()
                a, b = m.span(group)
                return m.string[start:a] + self._mask(m.group(group)) + m.string[b:end]
            return replace

        # each pattern needs a character the text may not hold at all: a membership test is cheaper than a scan
        if not shortcuts or '"' in text or "'" in text:
            text = quoted.sub(quoted_value, text)
        if not shortcuts or "<" in text or "&lt;" in text:
            text = element.sub(group_masked(1), text)
        if not shortcuts or "=" in text or ":" in text:
            text = bare.sub(self._bare_value, text)
        return text

    def _bare_value(self, m: re.Match[str]) -> str:
        group = next(g for g in (1, 2, 3) if m.group(g) is not None)
        if m.group(group) in _NOT_VALUES:
            return m.group(0)
        (start, end), (a, b) = m.span(), m.span(group)
        return m.string[start:a] + self._mask(m.group(group)) + m.string[b:end]

    def text(self, text: str) -> str:
        """Free text (logs, error messages, malformed messages) with every identifier it can recognise masked."""
        if len(text) < 2:
            return text
        # What a text becomes depends on the text, the rules and the values learnt (any value learnt empties both
        # caches; one learnt while masking this text is learnt before the learnt values are masked, so the result
        # kept is the one the text gives from then on). Short values repeat (codes, dates, amounts); long ones are
        # an exchange's raw text, masked a second time once the exchange's reply has taught its values, mostly
        # none new (tests/report/test_masking_fast.py holds the cached to the uncached).
        short = len(text) <= 200
        known = self._seen.get(text) if short else self._long_seen.get(text)
        if known is not None:
            return known
        masked = self._text(text)
        if short:
            if len(self._seen) < 100_000:
                self._seen[text] = masked
        elif self._long_chars + len(text) + len(masked) <= LONG_SEEN_CHARS:
            self._long_seen[text] = masked
            self._long_chars += len(text) + len(masked)
        return masked

    def _text(self, text: str, shortcuts: bool = True) -> str:
        """`shortcuts`: skip the patterns that need a character the text does not hold (False: run them all, which
        gives the same text; tests/report/test_masking_shortcuts.py holds them to it)."""
        if self.hl7_rules and (not shortcuts or "|" in text) and self._hl7_segment.search(text):  # a segment's "|"
            text = self.hl7(text)
        text = self._pairs_in_text(text, shortcuts)
        if not shortcuts or _DIGITS.search(text):  # every shape below holds seven digits in a row (a landline's)
            resident_id, mobile, landline = (_RESIDENT_ID, _MOBILE, _LANDLINE) if shortcuts else _REFERENCE_SHAPES
            text = resident_id.sub(lambda m: m.group(1) + "*" * 8 + m.group(3)[-1:].rjust(4, "*"), text)
            text = mobile.sub(lambda m: m.group(1) + "****" + m.group(3), text)
            if not shortcuts or _LANDLINE_NEEDS.search(text):
                text = landline.sub(lambda m: m.group(1) + mask_value(m.group(2)), text)
        for pattern in self.text_patterns:
            text = pattern.sub(self._configured_match, text)
        # Most texts hold none of the values learnt, and those that do hold a few: the pattern is of those alone
        if self._learned:
            found = self._learned_in(text)
            if found:
                text = _learned_regex(found).sub(lambda m: mask_value(m.group(0)), text)
        return text

    def nodeid(self, nodeid: str) -> str:
        """A pytest node id masked: `test_x[张三-MRN0001]` keeps its shape; pytest writes the parameters' non-ASCII
        characters as `\\uXXXX` escapes, which are read back, masked and written again the same way."""
        head, bracket, params = nodeid.partition("[")
        if not bracket:
            return self.text(nodeid)
        body, closing = (params[:-1], "]") if params.endswith("]") else (params, "")
        decoded = _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2) or m.group(3), 16)), body)
        masked = self.text(decoded)
        if masked == decoded:
            return self.text(head) + bracket + params
        if body.isascii():
            masked = "".join(c if c.isascii() else _escaped(c) for c in masked)
        return self.text(head) + bracket + masked + closing

    def _configured_match(self, m: re.Match[str]) -> str:
        """A configured pattern's match masked: its first group when it has one, else all of it."""
        if not m.groups() or m.group(1) is None:
            return self._mask(m.group(0))
        (start, end), (a, b) = m.span(), m.span(1)
        return m.string[start:a] + self._mask(m.group(1)) + m.string[b:end]

    def raw(self, text: str, transport: str | None = None) -> str:
        """A message as it crossed the wire, masked by its kind (JSON, XML, HL7), then as free text."""
        kind = sniff(text, transport)
        if kind == "json":
            try:
                document = json.loads(text)
            except ValueError:
                return self.text(text)
            masked = json.dumps(self.json(document), ensure_ascii=False)
            return self.text(masked)
        if kind == "xml":
            return self.text(self.xml(text))
        return self.text(text)  # hl7 and plain text: text() recognises HL7 segments

    # -- journal entries --------------------------------------------------------------------------------------
    def exchange(self, entry: dict[str, Any]) -> dict[str, Any]:
        """A journal entry (Exchange.to_dict) with every identifier masked: parsed and raw forms, findings, meta."""
        out = dict(entry)
        transport = entry.get("transport")
        for side in ("request", "response"):
            raw = entry.get(f"{side}_raw")
            kind = None
            if isinstance(raw, dict):
                text = raw.get("text")
                if text is None and raw.get("base64"):
                    text = _decode(base64.b64decode(raw["base64"]))
                    kind = sniff(text, transport)
                    out[f"{side}_raw"] = {"text": self.raw(text, transport), "decoded": "gb18030"}
                elif isinstance(text, str):
                    kind = sniff(text, transport)
                    out[f"{side}_raw"] = {**raw, "text": self.raw(text, transport)}
            parsed = entry.get(side)
            if parsed is not None:
                matcher = self.xml_paths if kind == "xml" else self.json_paths
                out[side] = self.json(parsed, matcher=matcher) if not isinstance(parsed, str) else self.raw(parsed, transport)
        # values learnt above are masked wherever they appear again: raw texts, findings, meta
        for side in ("request", "response"):
            raw = out.get(f"{side}_raw")
            if isinstance(raw, dict) and isinstance(raw.get("text"), str):
                out[f"{side}_raw"] = {**raw, "text": self.text(raw["text"])}
            findings = entry.get(f"{side}_findings")
            if findings:
                out[f"{side}_findings"] = [self.strings(f) for f in findings]
        if entry.get("meta"):
            out["meta"] = self.strings(entry["meta"])
        for key in ("fault", "peer"):
            if isinstance(entry.get(key), str):
                out[key] = self.text(entry[key])
        return out

    def strings(self, node: Any) -> Any:
        """Every string in a structure masked as free text (keys kept)."""
        if isinstance(node, dict):
            return {k: self.strings(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.strings(v) for v in node]
        return self.text(node) if isinstance(node, str) else node


_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})|\\x([0-9a-fA-F]{2})")


def _escaped(char: str) -> str:
    """One character as pytest writes it in a test id (`str.encode("unicode_escape")`)."""
    return char.encode("unicode_escape").decode("ascii")


def _decode(data: bytes) -> str:
    """Bytes that are not UTF-8: GB18030 (a superset of GBK and GB2312) is what Chinese systems send."""
    return data.decode("gb18030", errors="replace")


def _local(name: str) -> str:
    """The local part of an element's or attribute's name as lxml gives it (`{namespace}local`, or `local`)."""
    return name.rpartition("}")[2]
