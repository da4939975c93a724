"""The quick envelope check (`SoapValidator._plain_envelope`) agrees with the general one on every envelope: the same
header, body content and findings, on generated envelopes that mix the parts a quick check must not wave through
(comments, text, a second Body, another SOAP version, blanks, a missing Header or Body)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from harness.contract.loader import load_contract
from harness.contract.soap_validate import SoapChecked, SoapValidator
from harness.contract.soap_wsdl import SOAP11_ENV, SOAP12_ENV
from tests.contracts.soap.conftest import EXAMPLE
from tests.strategies import examples

VALIDATOR = SoapValidator(load_contract(EXAMPLE))
HEADER = '<s:Header><ex:AuthHeader><ex:HospitalCode>H1</ex:HospitalCode></ex:AuthHeader></s:Header>'
CONTENT = "<ex:SubmitOrder><ex:order/></ex:SubmitOrder>"
BITS = st.sampled_from(["", " ", "\n  ", "x", "<!-- c -->", "<?pi x?>", "\u3000"])


@st.composite
def envelopes(draw: st.DrawFn) -> bytes:
    ns = draw(st.sampled_from([SOAP11_ENV, SOAP11_ENV, SOAP12_ENV, "urn:other"]))
    root = draw(st.sampled_from(["Envelope", "Envelope", "Envelop"]))
    parts = draw(st.lists(st.sampled_from(["header", "body", "body", "other"]), min_size=0, max_size=3))
    pieces = []
    for part in parts:
        pieces.append(draw(BITS))
        if part == "header":
            pieces.append(HEADER)
        elif part == "other":
            pieces.append("<ex:Extra/>")
        else:
            inner = [draw(BITS)]
            for _ in range(draw(st.integers(0, 2))):
                inner += [CONTENT, draw(BITS)]
            pieces.append("<s:Body>" + "".join(inner) + "</s:Body>")
    pieces.append(draw(BITS))
    text = (f'<s:{root} xmlns:s="{ns}" xmlns:ex="urn:hih:example:service">' + "".join(pieces) + f"</s:{root}>")
    return text.encode("utf-8")


def _outcome(root: etree._Element, quick: bool) -> tuple[object, ...]:
    checked = SoapChecked("request", None, root=root)
    ok = VALIDATOR._envelope(root, checked) if quick else VALIDATOR._any_envelope(root, checked)
    return (ok, checked.header, checked.content, [(f.location, f.message, f.rule) for f in checked.findings])


@given(raw=envelopes())
@settings(max_examples=examples(400), deadline=None)
def test_the_quick_envelope_check_agrees_with_the_general_one(raw: bytes) -> None:
    try:
        root = etree.fromstring(raw)
    except etree.XMLSyntaxError:  # text outside the root element: not an envelope anyone parses
        return
    assert _outcome(root, True) == _outcome(root, False)


def test_the_common_envelopes_take_the_quick_check() -> None:
    for text in (f'<s:Envelope xmlns:s="{SOAP11_ENV}" xmlns:ex="urn:hih:example:service">{HEADER}<s:Body>{CONTENT}</s:Body></s:Envelope>',
                 f'<s:Envelope xmlns:s="{SOAP11_ENV}" xmlns:ex="urn:hih:example:service">\n <s:Body>\n {CONTENT}\n</s:Body>\n</s:Envelope>'):
        checked = SoapChecked("request", None)
        assert VALIDATOR._plain_envelope(etree.fromstring(text.encode()), checked)
        assert checked.content is not None and checked.content.tag == "{urn:hih:example:service}SubmitOrder"
