"""Find patient identifiers in a report directory: valid resident ID numbers, mobile numbers, seeded full names.

The names are those of every seeded person a run can meet: the insurance population, the blood centre's samples,
the maternal-child records, and the patients the HL7 specs name in their steps and examples.
"""

from __future__ import annotations

import functools
import inspect
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.contract.identifiers import resident_id_check_char
from harness.report.masking import _trie_regex
from tests.conftest import ROOT

RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{17})([\dXx])(?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
# SHA-256 and other hex digests (manifest, signoff.sha256, contract and connector identities): eleven digits in a row
# inside one are chance, not a mobile number, and a digest changes every run.
# The sign-off PDF prints a digest or a git commit in a narrow column, so its text comes out wrapped over lines: the
# fragments are joined back when each holds a hex letter (a number on a line of its own is still scanned).
HEX_RUN = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]+(?:\n[0-9a-f]+)*(?![0-9A-Za-z])")
_HEX_LETTER = re.compile(r"[a-f]")


def _digest_or_itself(match: re.Match[str]) -> str:
    parts = match.group(0).split("\n")
    whole = sum(map(len, parts)) >= 32 and (len(parts) == 1 or all(_HEX_LETTER.search(part) for part in parts))
    return " " if whole else match.group(0)


def without_digests(text: str) -> str:
    """`text` with every hex digest of 32 characters or more (wrapped over lines or not) blanked out."""
    return HEX_RUN.sub(_digest_or_itself, text)
# cucumber.json's step durations, in nanoseconds: a step of 13 to 20 s (a loaded machine, a timeout) is eleven digits
# that begin 13..19, which is the shape of a mobile number but no one's; a number kept as a JSON string is scanned.
DURATION = re.compile(r'"duration": ?\d+')
_ESCAPE = re.compile(r"\\+u([0-9a-fA-F]{4})|\\+U([0-9a-fA-F]{8})")
"""An escape with the backslashes before it: text JSON-encoded inside a JSON string (a raw body kept as a string)
writes `\\\\u5f20\\\\u4e09` for 张三, and reading back only `\\u5f20` would leave a backslash between the
characters of the name."""
_STEP_NAME = re.compile(r'(?:患者|姓名为) "([^"<>]+)"')


def _feature_names() -> set[str]:
    """Names the specs give patients: `患者 "张三"`, `姓名为 "张三"` and `姓名` columns of example tables."""
    names: set[str] = set()
    for path in (ROOT / "features").rglob("*.feature"):
        text = path.read_text(encoding="utf-8")
        names |= {m.group(1) for m in _STEP_NAME.finditer(text) if not m.group(1).isascii()}
        column: int | None = None
        for line in text.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.strip().startswith("|") else None
            if cells is None:
                column = None
            elif column is None:
                column = cells.index("姓名") if "姓名" in cells else -1
            elif column >= 0 and column < len(cells):
                names.add(cells[column])
    return names


def _values(node: Any, keys: tuple[str, ...]) -> set[str]:
    if isinstance(node, dict):
        found = {str(v) for k, v in node.items() if k in keys and isinstance(v, str) and v}
        return found.union(*(_values(v, keys) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_values(v, keys) for v in node))
    return set()


def seeded_names() -> set[str]:
    """Every seeded person's full name."""
    from features.steps import mch_samples
    from mocks.blood_center.centre import _seed_samples
    from mocks.population import generate

    names = {p.psn_name for p in generate()}
    names |= {s["PatientName"] for s in _seed_samples(datetime.now())}
    record_types = re.findall(r'record_type == "(\w+)"', inspect.getsource(mch_samples))
    assert record_types, "the maternal-child samples name their record types"
    for record_type in record_types:
        data = mch_samples.sample(record_type, "R1").data
        names |= _values(data, ("motherName", "childName", "fatherName", "applicantName"))
    names |= _feature_names()
    return names


def seeded_numbers() -> set[str]:
    """The insured population's other identifiers: person numbers, card numbers and serials, e-voucher tokens."""
    from mocks.population import generate

    return {getattr(p, f) for p in generate() for f in ("psn_no", "card_no", "card_sn", "ec_token")}


def _pdf_text(path: Path) -> str:
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext (Debian poppler-utils, installed by ./scripts/setup) reads the PDF's text"
    return subprocess.run([pdftotext, "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, timeout=60,
                          check=True).stdout


def readable_texts(directory: Path) -> dict[str, str]:
    """Every file of `directory` as text a reader sees: as written, with its `\\uXXXX` escapes read back, PDFs as
    text. Python's bytecode caches (`__pycache__/`, beside feature step modules) are no one's reading.

    A JSON file's text decoded (parsed and written again without ASCII escapes) would hold nothing to find that the
    two texts kept do not: it differs from the file as written only where an escape is, which the unescaped text
    reads back (a string's escape, and also one of text JSON-encoded inside a string, at any depth: the backslashes
    before an escape go with it), and in
    whitespace and punctuation, which no identifier's pattern reads (tests/report/test_identifiers.py). Scanning it
    too was a third of the scan of a run's directory."""
    texts: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or "__pycache__" in path.relative_to(directory).parts:
            continue
        name = path.relative_to(directory).as_posix()
        text = _pdf_text(path) if path.suffix == ".pdf" else path.read_text(encoding="utf-8")
        texts[name] = text
        if _ESCAPE.search(text):  # JSON's escapes; node ids in junit.xml and pytest.log write non-ASCII as \\uXXXX
            texts[f"{name} (unescaped)"] = _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)
    return texts


@functools.cache
def _seeded() -> re.Pattern[str]:
    """One pattern for every seeded name and insurance number (the population is the same for the whole session)."""
    return re.compile(_trie_regex(seeded_names() | seeded_numbers()))


def mobiles(text: str) -> list[str]:
    """The mobile numbers in `text`, but those inside a digest or a step's duration.

    Digests are blanked only in a text that holds something shaped like a mobile number: blanking a run of hex
    characters (with a space on non-alphanumeric borders) can hide such a number but never make one, and a run's
    report directory holds tens of megabytes of text, most of it without any."""
    text = DURATION.sub(" ", text)
    if MOBILE.search(text) is None:
        return []
    return [m.group(0) for m in MOBILE.finditer(without_digests(text))]


def unmasked(directory: Path, texts: dict[str, str] | None = None) -> list[str]:
    """`file: value` for every valid resident ID, mobile number, seeded full name and seeded insurance number
    found in `directory` (`texts`: its `readable_texts`, when the caller has read them already)."""
    names = _seeded()
    found = []
    for name, text in (readable_texts(directory) if texts is None else texts).items():
        found += [f"{name}: {m.group(0)}" for m in RESIDENT_ID.finditer(text)
                  if resident_id_check_char(m.group(1)) == m.group(2).upper()]
        found += [f"{name}: {number}" for number in mobiles(text)]
        found += [f"{name}: {m.group(0)}" for m in names.finditer(text)]
    return sorted(set(found))
