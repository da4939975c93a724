"""MSH-18 character sets: bytes in, text out, and a finding whenever the declaration and the bytes disagree.

lis 2023.1 accepts GB 18030-2000 and UNICODE UTF-8, decodes a blank MSH-18 as GB 18030 (a warning);
lis 2024.1 accepts UTF-8 only, and a blank MSH-18 on non-ASCII bytes is an error.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.contract.hl7.charsets import (
    CharsetPolicy,
    codec,
    declared_charset,
    decode_message,
    encode_message,
)
from harness.contract.hl7.contract import HL7Validator
from tests.contracts.hl7 import messages as m
from tests.strategies import examples


@pytest.fixture(scope="module")
def lis24(lis: HL7Validator) -> HL7Validator:
    return lis


def seen(findings: list) -> list[tuple[str, str, str]]:
    return [(f.severity.value, f.location, f.rule) for f in findings]


def test_utf8_declared_and_sent(lis24: HL7Validator) -> None:
    checked = lis24.check(m.lis_oru(name="张三").encode("utf-8"))

    assert checked.findings == []
    assert checked.message.get("PID-5.1") == "张三" and checked.message.charset == "UNICODE UTF-8"
    assert checked.message.get("OBX-3.2") == "白细胞计数1"


def test_gb18030_declared_and_sent(lis23: HL7Validator) -> None:
    raw = m.lis24_oru(name="张三", charset="GB 18030-2000").encode("gb18030")
    checked = lis23.check(raw)

    assert b"\xd5\xc5\xc8\xfd" in raw  # 张三 in GB 18030
    assert checked.findings == []
    assert checked.message.get("PID-5.1") == "张三" and checked.message.charset == "GB 18030-2000"


def test_blank_msh18_uses_the_contract_default(lis23: HL7Validator) -> None:
    checked = lis23.check(m.lis24_oru(charset="").encode("gb18030"))

    assert checked.message.get("PID-5.1") == "张三" and checked.message.charset == "GB 18030-2000"
    assert seen(checked.findings) == [("warning", "MSH-18", "charset")]
    assert "decoded as the contract default GB 18030-2000" in checked.findings[0].message


def test_blank_msh18_is_an_error_where_the_contract_says_so(lis24: HL7Validator) -> None:
    checked = lis24.check(m.lis_oru(charset="").encode("utf-8"))

    assert checked.message.get("PID-5.1") == "张三"
    assert seen(checked.findings) == [("error", "MSH-18", "charset"), ("error", "MSH-18", "usage")]


def test_blank_msh18_on_ascii_bytes_is_no_charset_finding(lis23: HL7Validator) -> None:
    checked = lis23.check(m.lis24_oru(charset="", name="ZHANG^SAN").encode("ascii", "replace"))

    assert checked.findings == [] and checked.message.charset == "ASCII"


def test_utf8_declared_but_gb18030_sent(lis24: HL7Validator) -> None:
    checked = lis24.check(m.lis_oru(name="张三").encode("gb18030"))

    assert seen(checked.findings) == [("error", "MSH-18", "charset")]
    assert "do not decode as UNICODE UTF-8" in checked.findings[0].message
    assert "decode as GB 18030-2000" in checked.findings[0].message
    assert checked.message.get("PID-5.1") == "张三"


def test_gb18030_declared_but_utf8_sent(lis23: HL7Validator) -> None:
    checked = lis23.check(m.lis24_oru(charset="GB 18030-2000").encode("utf-8"))

    assert seen(checked.findings) == [("error", "MSH-18", "charset")]
    assert "do not decode as GB 18030-2000" in checked.findings[0].message
    assert "decode as UNICODE UTF-8" in checked.findings[0].message
    assert checked.message.get("PID-5.1") == "张三"


def test_utf8_bytes_that_also_decode_as_the_declared_gb18030_are_flagged() -> None:
    text = m.join(m.msh("ADT", "A08", "C1", "2.4", "GB 18030-2000"), "EVN|A08|20240105", m.pid("张三"))
    decoded = decode_message(text.encode("utf-8"), CharsetPolicy("GB 18030-2000", ("GB 18030-2000", "UNICODE UTF-8")))

    assert decoded.charset == "GB 18030-2000" and "张三" not in decoded.text  # mojibake: why the warning matters
    assert seen(decoded.findings) == [("warning", "MSH-18", "charset")]
    assert "also valid UTF-8" in decoded.findings[0].message


def test_aliases_unknown_names_and_charsets_the_contract_refuses(lis23: HL7Validator, lis24: HL7Validator) -> None:
    alias = lis23.check(m.lis24_oru(charset="GBK").encode("gb18030"))
    unknown = lis23.check(m.lis24_oru(charset="KLINGON").encode("gb18030"))
    refused = lis24.check(m.lis_oru(charset="GB 18030-2000").encode("gb18030"))

    assert alias.message.get("PID-5.1") == "张三"
    assert ("warning", "MSH-18", "charset") in seen(alias.findings)
    assert "write 'GB 18030-2000'" in alias.findings[0].message
    assert unknown.message.get("PID-5.1") == "张三"
    assert seen(unknown.findings)[0] == ("warning", "MSH-18", "charset")  # lis 2023.1: when_unknown: warning
    assert "not a character set of HL7 Table 0211" in unknown.findings[0].message
    assert refused.message.get("PID-5.1") == "张三"
    assert seen(refused.findings) == [("error", "MSH-18", "charset")]  # one defect, one finding (not also MSH-18's value set)
    assert "not accepted by the contract (accepted: UNICODE UTF-8)" in refused.findings[0].message


def test_bytes_no_charset_decodes_are_replaced_not_raised() -> None:
    policy = CharsetPolicy("UNICODE UTF-8", ("UNICODE UTF-8",))
    raw = m.lis_oru(charset="ASCII").encode("utf-8").replace(b"|F|", b"|\xff|")

    decoded = decode_message(raw, policy)
    assert decoded.charset == "ASCII" and "\ufffd" in decoded.text
    assert seen(decoded.findings)[-1] == ("error", "MSH-18", "charset")
    assert decoded.findings[-1].message.endswith("decoded with replacement characters")


def test_latin1_and_repeated_msh18() -> None:
    text = m.join(m.msh("ADT", "A08", "C1", charset="8859/1~UNICODE UTF-8"), "PID|1||A1^^^HOSP^MR||Müller^Jürgen")
    raw = text.encode("latin-1")
    decoded = decode_message(raw, CharsetPolicy("UNICODE UTF-8", ("8859/1", "UNICODE UTF-8")))

    assert declared_charset(raw) == "8859/1"
    assert decoded.charset == "8859/1" and "Müller^Jürgen" in decoded.text and decoded.findings == []


def test_encode_and_codec_names() -> None:
    assert encode_message("张三", "GB 18030-2000") == b"\xd5\xc5\xc8\xfd"
    assert encode_message("张三", "UNICODE UTF-8") == "张三".encode()
    assert codec("gbk") == "gb18030" and codec("UTF-8") == "utf-8"
    with pytest.raises(LookupError):
        codec("EBCDIC")
    with pytest.raises(UnicodeEncodeError):
        encode_message("张三", "8859/1")


def _declared_by_every_field(raw: bytes) -> str:
    """MSH-18 read the plain way (every field of the MSH line split, both ends of line looked for in the whole
    message): the oracle of `declared_charset`."""
    start = raw.find(b"MSH")
    if start < 0 or len(raw) < start + 8:
        return ""
    end = len(raw)
    for stop in (b"\r", b"\n"):
        pos = raw.find(stop, start)
        if 0 <= pos < end:
            end = pos
    line = raw[start:end]
    sep = line[3:4]
    if not sep:
        return ""
    parts = line.split(sep)
    if len(parts) < 18:
        return ""
    value = parts[17]
    if len(parts[1]) >= 2:
        value = value.split(parts[1][1:2])[0]
    return value.decode("latin-1").strip()


@settings(max_examples=examples(500), deadline=None)
@given(st.lists(st.sampled_from([b"MSH", b"|", b"^~\\&", b"~", b"\r", b"\n", b"\r\n", b"UNICODE UTF-8", b"GB 18030",
                                 b" ", b"#", b"PID", b"\xe5\xbc\xa0", b"x" * 30]), max_size=40).map(b"".join))
def test_declared_charset_reads_msh_18_as_every_field_split_does(raw: bytes) -> None:
    assert declared_charset(raw) == _declared_by_every_field(raw)
    framed = b"MSH|^~\\&|A|B|C|D|20240105||ADT^A01|1|P|2.5.1|||||CHN|" + raw
    assert declared_charset(framed) == _declared_by_every_field(framed)
