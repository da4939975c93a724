"""MSH-18 character sets (HL7 Table 0211): bytes in, text out, with findings when the declaration and bytes disagree.

A message is bytes on the wire. Its charset is named in MSH-18 (`UNICODE UTF-8`, `GB 18030-2000`, `8859/1`...).
`decode_message` reads MSH-18 without decoding the whole message (CR and `|` never occur inside a multi-byte
character of the charsets HL7 v2 allows), picks the codec, decodes, and reports:
- MSH-18 blank while the bytes are not ASCII (HL7 says blank means ASCII): decoded with the configured default;
- a name outside Table 0211, or a common alias (`UTF-8`, `GBK`): decoded with the default, or the alias's codec;
- a charset the contract does not accept;
- bytes that do not decode with the declared charset (then the default and the other accepted ones are tried).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.contract.findings import Finding, Severity

TABLE_0211: dict[str, str] = {
    "ASCII": "ascii",
    "8859/1": "iso8859-1",
    "8859/2": "iso8859-2",
    "8859/3": "iso8859-3",
    "8859/4": "iso8859-4",
    "8859/5": "iso8859-5",
    "8859/6": "iso8859-6",
    "8859/7": "iso8859-7",
    "8859/8": "iso8859-8",
    "8859/9": "iso8859-9",
    "8859/15": "iso8859-15",
    "ISO IR6": "ascii",
    "ISO IR14": "shift_jis",
    "ISO IR87": "iso2022_jp",
    "ISO IR159": "iso2022_jp_2",
    "GB 18030-2000": "gb18030",
    "KS X 1001": "euc_kr",
    "BIG-5": "big5",
    "UNICODE UTF-8": "utf-8",
}
"""HL7 Table 0211 names with a Python codec. `CNS 11643-1992` has none; UTF-16/32 are not allowed in v2.x."""

ALIASES: dict[str, str] = {
    "UTF-8": "UNICODE UTF-8",
    "UTF8": "UNICODE UTF-8",
    "UNICODE UTF8": "UNICODE UTF-8",
    "GB18030": "GB 18030-2000",
    "GB 18030": "GB 18030-2000",
    "GB18030-2000": "GB 18030-2000",
    "GB18030-2005": "GB 18030-2000",
    "GBK": "GB 18030-2000",
    "GB2312": "GB 18030-2000",
    "CP936": "GB 18030-2000",
    "BIG5": "BIG-5",
    "ISO-8859-1": "8859/1",
    "LATIN1": "8859/1",
    "US-ASCII": "ASCII",
}
"""Names seen in the field that are not Table 0211 values, and the Table 0211 charset they mean."""


def canonical(name: str) -> tuple[str | None, bool]:
    """(Table 0211 name, is_alias) for an MSH-18 value; (None, False) when it names nothing known."""
    key = name.strip()
    if key in TABLE_0211:
        return key, False
    upper = key.upper()
    for table_name in TABLE_0211:
        if table_name.upper() == upper:
            return table_name, True
    alias = ALIASES.get(upper)
    return (alias, True) if alias else (None, False)


def codec(name: str) -> str:
    """The Python codec of a Table 0211 name or alias; LookupError when none."""
    table_name, _ = canonical(name)
    if table_name is None:
        raise LookupError(f"unknown HL7 character set {name!r}")
    return TABLE_0211[table_name]


@dataclass(frozen=True)
class CharsetPolicy:
    """What a contract says about character sets (contract.yaml `hl7.charset`)."""

    default: str = "UNICODE UTF-8"
    accepted: tuple[str, ...] = ("UNICODE UTF-8",)
    when_blank: Severity = Severity.WARNING
    when_unknown: Severity = Severity.ERROR


@dataclass
class Decoded:
    """A message as text, the Table 0211 charset it was decoded with, what MSH-18 said, and the findings."""

    text: str
    charset: str
    declared: str
    findings: list[Finding] = field(default_factory=list)


def declared_charset(raw: bytes) -> str:
    """MSH-18 (first repetition) read from the bytes of the first MSH segment; "" when absent."""
    start = raw.find(b"MSH")
    if start < 0 or len(raw) < start + 8:
        return ""
    end = raw.find(b"\r", start)
    if end < 0:
        end = len(raw)
    lf = raw.find(b"\n", start, end)  # only up to the first CR: not a scan of the whole message for an LF
    if lf >= 0:
        end = lf
    line = raw[start:end]
    sep = line[3:4]
    if not sep:
        return ""
    parts = line.split(sep, 18)  # MSH-18 is the 18th piece: the fields after it need no splitting
    if len(parts) < 18:
        return ""
    value = parts[17]
    encoding = parts[1]
    if len(encoding) >= 2:
        value = value.split(encoding[1:2])[0]
    return value.decode("latin-1").strip()


def _try(raw: bytes, codec_name: str) -> tuple[str | None, UnicodeDecodeError | None]:
    try:
        return raw.decode(codec_name), None
    except UnicodeDecodeError as exc:
        return None, exc


def decode_message(raw: bytes, policy: CharsetPolicy = CharsetPolicy()) -> Decoded:
    """Decode one message's bytes by its MSH-18, falling back by `policy`; never raises."""
    declared = declared_charset(raw)
    findings: list[Finding] = []
    if raw.isascii():
        text = raw.decode("ascii")
        if declared:
            findings.extend(_name_findings(declared, policy))
        charset = (canonical(declared)[0] or "ASCII") if declared else "ASCII"
        return Decoded(text, charset, declared, findings)
    if not declared:
        chosen = policy.default
        findings.append(Finding(
            policy.when_blank, "MSH-18",
            f"no character set declared but the bytes are not ASCII; decoded as the contract default {policy.default}",
            "charset",
        ))
    else:
        findings.extend(_name_findings(declared, policy))
        chosen = canonical(declared)[0] or policy.default
    decoded, error = _try(raw, TABLE_0211[chosen])
    if decoded is not None:
        if chosen != "UNICODE UTF-8" and TABLE_0211[chosen] != "ascii":
            utf8, _ = _try(raw, "utf-8")
            if utf8 is not None:
                findings.append(Finding(
                    Severity.WARNING, "MSH-18",
                    f"decoded as {chosen}, but the bytes are also valid UTF-8: is MSH-18 right?", "charset",
                ))
        return Decoded(decoded, chosen, declared, findings)
    assert error is not None
    said = f"MSH-18 {declared!r}" if declared else f"the default {chosen}"
    message = (f"the bytes do not decode as {chosen} ({said}): byte 0x{raw[error.start]:02x} at offset "
               f"{error.start}")
    for other in (policy.default, *policy.accepted, "UNICODE UTF-8", "GB 18030-2000"):
        if other == chosen:
            continue
        fallback, _ = _try(raw, TABLE_0211[other])
        if fallback is not None:
            findings.append(Finding(Severity.ERROR, "MSH-18", f"{message}; they decode as {other}", "charset"))
            return Decoded(fallback, other, declared, findings)
    findings.append(Finding(Severity.ERROR, "MSH-18", f"{message}; decoded with replacement characters", "charset"))
    return Decoded(raw.decode(TABLE_0211[chosen], errors="replace"), chosen, declared, findings)


def _name_findings(declared: str, policy: CharsetPolicy) -> list[Finding]:
    table_name, alias = canonical(declared)
    if table_name is None:
        return [Finding(policy.when_unknown, "MSH-18",
                        f"{declared!r} is not a character set of HL7 Table 0211; decoded as the contract default "
                        f"{policy.default}", "charset")]
    findings = []
    if alias:
        findings.append(Finding(Severity.WARNING, "MSH-18",
                                f"{declared!r} is not the Table 0211 name; write {table_name!r}", "charset"))
    if table_name not in policy.accepted:
        findings.append(Finding(Severity.ERROR, "MSH-18",
                                f"character set {table_name} is not accepted by the contract "
                                f"(accepted: {', '.join(policy.accepted)})", "charset"))
    return findings


def encode_message(text: str, charset: str = "UNICODE UTF-8") -> bytes:
    """Text to bytes with a Table 0211 charset (or alias); characters it cannot hold raise UnicodeEncodeError."""
    return text.encode(codec(charset))
