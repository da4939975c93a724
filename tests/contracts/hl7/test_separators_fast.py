"""`parse` takes the standard delimiters (`MSH|^~\\&|`) without reading them character by character: the same
separators and findings as the general reading, for any header."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.contract.findings import Finding
from harness.contract.hl7.message import _separators, parse
from tests.strategies import examples

HEADER_CHARS = st.sampled_from(list("|^~\\&#MSH12ab \x0b"))


@settings(max_examples=examples(400), deadline=None)
@given(name=st.sampled_from(["MSH", "FHS", "BHS"]), delimiters=st.text(HEADER_CHARS, max_size=9),
       rest=st.text(HEADER_CHARS, max_size=12), standard=st.booleans())
def test_the_standard_delimiters_read_as_the_general_reading_reads_them(name: str, delimiters: str, rest: str,
                                                                         standard: bool) -> None:
    header = name + ("|^~\\&|" if standard else delimiters) + rest
    message = parse(header + "\rPID|1\r")
    if not message.segments:
        return  # not an HL7 message (a framing character, say): nothing to compare
    expected: list[Finding] = []
    seps = _separators(header, expected)
    assert message.seps == seps
    kept = [f for f in message.findings if f.location.startswith(f"{name}-")]
    assert kept == [f for f in expected if f.location.startswith(f"{name}-")]
