"""The hardened parser's rewrite of escaped character data as CDATA (`xmlsafe._as_cdata`) against the parse of the
document as it came: the same tree, or the same refusal (reason, message, line), for valid and broken documents."""

from __future__ import annotations

from unittest import mock
from xml.sax.saxutils import escape

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from harness.contract import xmlsafe

RECORD = ('<?xml version="1.0" encoding="UTF-8"?><DeliveryRecord xmlns="urn:hih:mch:records"><recordNo>W1</recordNo>'
          "<motherName>王芳</motherName><deliveryDate>2026-01-02</deliveryDate><remark>a &lt; b &amp;&amp; c</remark>"
          "</DeliveryRecord>")
ENVELOPE = ('<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:t="urn:hih:mch:service"><s:Body><t:UploadRecord><t:recordType>DELIVERY</t:recordType>'
            "<t:payload>{payload}</t:payload></t:UploadRecord></s:Body></s:Envelope>")


def _as_it_came(raw: bytes, **limits: int) -> tuple[str, bytes | tuple[str, str, int]]:
    """What `xmlsafe.parse` gives without the rewrite: the tree's bytes, or the refusal."""
    with mock.patch.object(xmlsafe, "_as_cdata", lambda raw: None):
        return _outcome(raw, **limits)


def _outcome(raw: bytes, **limits: int) -> tuple[str, bytes | tuple[str, str, int]]:
    try:
        root = xmlsafe.parse(raw, **limits)
    except xmlsafe.XmlRefused as refused:
        return "refused", (refused.reason, refused.message, refused.line)
    return "parsed", etree.tostring(root.getroottree())


def test_a_record_carried_as_escaped_text_is_read_in_one_cdata_section() -> None:
    raw = ENVELOPE.format(payload=escape(RECORD)).encode("utf-8")
    rewritten = xmlsafe._as_cdata(raw)
    assert rewritten is not None and rewritten.count(b"<![CDATA[") == 1 and b"&lt;DeliveryRecord" not in rewritten
    assert _outcome(raw) == _as_it_came(raw)
    root = xmlsafe.parse(raw)
    assert root.findtext(".//{urn:hih:mch:service}payload") == RECORD  # the record's text, its own escapes kept


def test_what_the_rewrite_leaves_alone() -> None:
    escaped = escape(RECORD)
    for raw in [
        ENVELOPE.format(payload=escaped).replace("<s:Body>", "<s:Body><!-- a comment -->"),  # a comment anywhere
        ENVELOPE.format(payload=escaped + "&#13;"),  # a character reference: a CR a CDATA section would lose
        ENVELOPE.format(payload=escaped + "]]&gt;"),  # it would end the section
        ENVELOPE.format(payload=escaped).replace("UTF-8", "GBK", 1),  # an encoding other than UTF-8
        ENVELOPE.format(payload=escape(RECORD[:60])),  # too few references to be worth it
        ENVELOPE.format(payload=escaped).replace("<s:Body>", "<?pi x?><s:Body>"),  # a processing instruction
    ]:
        assert xmlsafe._as_cdata(raw.encode("utf-8")) is None, raw


_TEXT = st.lists(st.sampled_from(list("ab<>&\"']\r\n\t 王;#x") + ["]]>", "&lt;", "&#13;"]), max_size=40).map("".join)
_PIECES = st.lists(st.one_of(
    _TEXT.map(escape),  # escaped as a client escapes
    _TEXT.map(lambda t: escape(t, {'"': "&quot;", "'": "&apos;"})),
    _TEXT,  # raw, often broken
    st.sampled_from(["&#13;", "&#x41;", "&nope;", "& ", "]]&gt;", "]]>", "<![CDATA[x]]>", "<!--c-->", "<?p i?>",
                     "<b>&lt;&gt;</b>", '<b a="x>&lt;y"/>', "&lt;" * 20, "&gt;&amp;" * 10, "</t:payload>", ">"]),
), min_size=1, max_size=12).map("".join)


_ESCAPED = st.lists(_TEXT.map(lambda t: escape(t, {'"': "&quot;", "'": "&apos;"}) if "&#13;" not in t else escape(t)),
                    min_size=1, max_size=8).map("".join)
"""Text as a client escapes it: the document stays well-formed."""


@settings(max_examples=300, deadline=None)
@given(_ESCAPED, st.one_of(st.just(""), _ESCAPED), st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>',
                                                                    "<?xml version='1.0' encoding='utf8'?>"]))
def test_escaped_text_parses_to_the_same_tree(payload: str, other: str, declaration: str) -> None:
    text = ENVELOPE.format(payload=escape(RECORD) + payload).replace(
        '<?xml version="1.0" encoding="UTF-8"?>', declaration, 1).replace("DELIVERY", "DELIVERY" + other, 1)
    raw = text.encode("utf-8")
    outcome = _outcome(raw)
    assert outcome[0] == "parsed" and outcome == _as_it_came(raw)


@settings(max_examples=400, deadline=None)
@given(_PIECES, st.one_of(st.just(""), _PIECES), st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>',
                                                                  "<?xml version='1.0'?>",
                                                                  '<?xml version="1.0" encoding="ISO-8859-1"?>']),
       st.sampled_from(["utf-8", "utf-8-sig"]), st.sampled_from([0, 0, 0, 1, 3]))
def test_the_rewrite_parses_or_refuses_as_the_document_as_it_came(payload: str, other: str, declaration: str,
                                                                  encoding: str, cut: int) -> None:
    text = ENVELOPE.format(payload=escape(RECORD) + payload).replace(
        '<?xml version="1.0" encoding="UTF-8"?>', declaration, 1).replace("DELIVERY", "DELIVERY" + other, 1)
    raw = text.encode(encoding)
    raw = raw[:len(raw) - cut * 7]  # some cut short: broken at the end
    assert _outcome(raw) == _as_it_came(raw)
    assert _outcome(raw, max_depth=3) == _as_it_came(raw, max_depth=3)
