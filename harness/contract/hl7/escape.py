"""HL7 v2 separators and escape sequences (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\Xhh\\ \\.br\\ ...): decode and encode."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Separators:
    """The delimiters a message declares in MSH-1 and MSH-2 (`|` and `^~\\&` unless it says otherwise)."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    @property
    def encoding_characters(self) -> str:
        """MSH-2 as it is written."""
        return f"{self.component}{self.repetition}{self.escape}{self.subcomponent}"

    @property
    def all(self) -> str:
        return self.field + self.encoding_characters


DEFAULT = Separators()

_FORMATTING = {"H": "", "N": "", ".br": "\n", ".fi": "", ".nf": "", ".ce": "\n"}
_PARAMETERISED = re.compile(r"^\.(sp|in|ti|sk)([+-]?\d*)$")
_HEX = re.compile(r"^X((?:[0-9A-Fa-f]{2})+)$")
_CHARSET_SWITCH = re.compile(r"^(?:C[0-9A-Fa-f]{4}|M[0-9A-Fa-f]{4}(?:[0-9A-Fa-f]{2})?)$")
_LOCAL = re.compile(r"^Z.*$")


def _decode_sequence(seq: str, seps: Separators, charset: str) -> str | None:
    """What one escape sequence (without its escape characters) stands for; None when it is not one."""
    if len(seq) == 1:
        return {
            "F": seps.field, "S": seps.component, "T": seps.subcomponent, "R": seps.repetition, "E": seps.escape,
            "P": "#", "H": "", "N": "",
        }.get(seq)
    if seq in _FORMATTING:
        return _FORMATTING[seq]
    match = _PARAMETERISED.match(seq)
    if match:
        if match.group(1) == "sp":
            count = int(match.group(2) or "1")
            return "\n" * max(count, 1)
        return ""
    match = _HEX.match(seq)
    if match:
        data = bytes.fromhex(match.group(1))
        try:
            return data.decode(charset)
        except (UnicodeDecodeError, LookupError):
            return data.decode("latin-1")
    if _CHARSET_SWITCH.match(seq):
        return ""
    return None


def unescape(value: str, seps: Separators = DEFAULT, charset: str = "utf-8") -> str:
    """`value` with its escape sequences decoded.

    `\\F\\ \\S\\ \\T\\ \\R\\ \\E\\` give the separators back, `\\Xhh..\\` the bytes decoded with `charset`,
    `\\.br\\` and `\\.sp\\` line breaks; highlighting and other formatting commands are dropped. Anything that is not
    a known sequence (a local `\\Z..\\`, a lone escape character) is kept as it stands: use `escape_problems` to
    report it.
    """
    esc = seps.escape
    if not esc or esc not in value:
        return value
    out: list[str] = []
    i = 0
    while True:
        j = value.find(esc, i)
        if j < 0:
            out.append(value[i:])
            break
        out.append(value[i:j])
        k = value.find(esc, j + 1)
        if k < 0:
            out.append(value[j:])
            break
        decoded = _decode_sequence(value[j + 1 : k], seps, charset)
        if decoded is None:
            out.append(value[j : k + 1])
        else:
            out.append(decoded)
        i = k + 1
    return "".join(out)


@lru_cache(maxsize=64)
def _plain(seps: Separators) -> re.Pattern[str]:
    """Matches text that needs no escaping under `seps` (no delimiter, no CR or LF): one scan instead of seven."""
    return re.compile(f"[^{re.escape(seps.all)}\r\n]*")


_DEFAULT_PLAIN = _plain(DEFAULT)


def escape(text: str, seps: Separators = DEFAULT, *, formatted: bool = False) -> str:
    """`text` made safe for one field, component or subcomponent.

    The escape character is escaped first, then each separator. A line feed becomes `\\.br\\` when
    `formatted` (FT, TX) and `\\X0A\\` otherwise; a carriage return always `\\X0D\\` (it would end the segment).
    """
    if (_DEFAULT_PLAIN if seps is DEFAULT else _plain(seps)).fullmatch(text) is not None:
        return text
    esc = seps.escape
    text = text.replace(esc, f"{esc}E{esc}")
    for char, code in (
        (seps.field, "F"), (seps.component, "S"), (seps.subcomponent, "T"), (seps.repetition, "R"),
    ):
        text = text.replace(char, f"{esc}{code}{esc}")
    text = text.replace("\r\n", "\n").replace("\r", f"{esc}X0D{esc}")
    return text.replace("\n", f"{esc}.br{esc}" if formatted else f"{esc}X0A{esc}")


def escape_problems(value: str, seps: Separators = DEFAULT) -> list[str]:
    """What is wrong with the escape sequences of one value: unknown sequences and unterminated escapes."""
    esc = seps.escape
    if not esc or esc not in value:
        return []
    problems: list[str] = []
    i = 0
    while True:
        j = value.find(esc, i)
        if j < 0:
            break
        k = value.find(esc, j + 1)
        if k < 0:
            problems.append(f"unescaped escape character {esc!r} at offset {j} (write it as {esc}E{esc})")
            break
        seq = value[j + 1 : k]
        if _decode_sequence(seq, seps, "latin-1") is None and not _LOCAL.match(seq):
            problems.append(f"unknown escape sequence {esc}{seq}{esc}")
        i = k + 1
    return problems
