"""A response given as its segments' fields and completed as text (`AckBuilder.complete_text`, the MLLP
transport's path when no fault or acknowledgement mode needs the parsed form) is the text and summary of the same
response built as a message and completed by `AckBuilder.complete` (the general path), for any original header
and any response fields: the general path is the oracle, and it fills the header as the ACK header built for the
original would (`by_template`, the rule as written)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.contract.hl7.message import Message, from_fields, parse
from harness.contract.hl7.mllp_ack import AckBuilder, summary
from tests.strategies import examples, one_of

TEXT = st.text(st.sampled_from(list("AZ09 -.张三^&\\")), max_size=8)
MSH_FIELD = one_of(st.just(""), TEXT)
# Built once: Hypothesis validates a strategy it has not met on every draw, and `sampled_from` over a list is a new
# strategy each time it is written inside a `@composite`.
TYPES = st.sampled_from(["OML^O21^OML_O21", "OML^O21", "ORM^O01", "OML", ""])
MODES, VERSIONS = st.sampled_from(["P", "T", ""]), st.sampled_from(["2.5.1", "2.4", "2.3", ""])
ACCEPT, APPLICATION = st.sampled_from(["", "AL"]), st.sampled_from(["", "NE"])
CHARSETS = st.sampled_from(["", "UNICODE UTF-8", "GB 18030-2000"])
MSA_FIELDS = st.lists(one_of(st.just(""), st.sampled_from(["AA", "AE"]), TEXT), max_size=3)
OTHER_SEGMENTS = st.lists(one_of(
    st.builds(lambda v: ["PID", "1", "", v], TEXT),
    st.builds(lambda v: ["ORC", "OK", v, "", "", "SC"], TEXT),
    st.builds(lambda c: ["ERR", "", "PID^1^3", f"{c}^Required field missing^HL70357", "E"],
              st.sampled_from(["101", "102", "207"])),
    st.builds(lambda c: ["ERR", f"PID^1^3^{c}&Data type error&HL70357"], st.sampled_from(["101", "102"])),
    st.just(["MSA", "AE", "X"]),
), max_size=4)


@st.composite
def originals(draw: Any) -> str:
    """An original message's header: any sender, receiver, type, version, mode and charset (some left empty)."""
    values = ["MSH", "^~\\&", draw(MSH_FIELD), draw(MSH_FIELD), draw(MSH_FIELD), draw(MSH_FIELD),
              "20240105080000", "", draw(TYPES), draw(TEXT), draw(MODES), draw(VERSIONS), "", "", draw(ACCEPT),
              draw(APPLICATION), "CHN", draw(CHARSETS)]
    return "|".join(values[: draw(st.integers(10, len(values)))]) + "\rPID|1||X^^^HOSP^MR\r"


@st.composite
def responses(draw: Any) -> list[list[str]]:
    """A response: an MSH with some fields given, then MSA (maybe short, maybe with a code), other segments,
    sometimes ERR segments of v2.5 or v2.4 shape, sometimes a second MSA; now and then no MSH first."""
    header = ["MSH", "|", "^~\\&", *[draw(MSH_FIELD) for _ in range(draw(st.integers(0, 17)))]]
    msa = ["MSA", *draw(MSA_FIELDS)]
    rest = draw(OTHER_SEGMENTS)
    segments = [header, msa, *rest]
    return segments[1:] if draw(st.integers(0, 15)) == 0 else segments


class Stopped(AckBuilder):
    """An ACK builder whose clock stands still, so that two builders stamp alike."""

    def now(self) -> str:
        return "20240105080000"


def by_template(builder: AckBuilder, response: Message, original: Message, code: str, charset: str) -> Message:
    """`complete` as it reads in the rules: the ACK header `_header` builds for the original is the template whose
    length the response's MSH takes and whose MSH-3..6, 7, 10, 11, 12 and 18 fill its empty ones."""
    if not response.segments or response.segments[0].name != "MSH":
        return response
    template = builder._header(original, response.seps, charset, False).fields
    fields = response.segments[0].fields
    while len(fields) < len(template):
        fields.append("")
    for n in (3, 4, 5, 6, 7, 10, 11, 12, 18):
        if n < len(template) and not fields[n]:
            fields[n] = template[n]
    msa = response.segment("MSA")
    if msa is not None:
        while len(msa.fields) < 3:
            msa.fields.append("")
        msa.fields[1] = msa.fields[1] or code
        msa.fields[2] = original.segments[0].field(10)
    return response


@settings(max_examples=examples(400), deadline=None)
@given(original=originals(), segments=responses(), code=st.sampled_from(["AA", "AE", "AR"]),
       charset=st.sampled_from(["", "UNICODE UTF-8", "GB 18030-2000"]))
def test_same_text_and_summary_as_the_completed_message(original: str, segments: list[list[str]], code: str,
                                                         charset: str) -> None:
    msg = parse(original)
    general, fast, rules = (Stopped("LIS", "LAB", "2.5.1") for _ in range(3))
    given_fields = copy.deepcopy(segments)
    completed = general.complete(from_fields(copy.deepcopy(segments)), msg, code, charset)
    assert completed.to_er7() == by_template(rules, from_fields(copy.deepcopy(segments)), msg, code, charset).to_er7()
    text, done = fast.complete_text(segments, msg, code, charset)
    assert text == completed.to_er7()
    assert done == summary(completed)
    assert segments == given_fields  # the caller's lists are left as they were


class Numbered(Stopped):
    """A stopped ACK builder that counts the control ids it gives (each `complete_text` takes exactly one)."""

    def __init__(self) -> None:
        super().__init__("LIS", "LAB", "2.5.1")
        self.taken = 0

    def new_control_id(self) -> str:
        self.taken += 1
        return f"A{self.taken:06d}"


SHARED = Numbered()
"""One builder over every example: its header templates (made once per sender, version and response fields) are
used by the examples after the one that made them."""


@settings(max_examples=examples(400), deadline=None)
@given(original=originals(), segments=responses(), code=st.sampled_from(["AA", "AE", "AR"]),
       charset=st.sampled_from(["", "UNICODE UTF-8", "GB 18030-2000"]))
def test_a_remembered_header_is_the_header_filled_afresh(original: str, segments: list[list[str]], code: str,
                                                          charset: str) -> None:
    msg = parse(original)
    for _ in range(2):  # the second call finds the template the first made (or the first found)
        general = Numbered()
        general.taken = SHARED.taken
        completed = general.complete(from_fields(copy.deepcopy(segments)), msg, code, charset)
        before = SHARED.taken
        text, done = SHARED.complete_text(segments, msg, code, charset)
        assert SHARED.taken == before + (1 if segments and segments[0][0] == "MSH" else 0)
        assert text == completed.to_er7()
        assert done == summary(completed)


def with_charset(original: str, charset: str) -> str:
    """`original` with its MSH-18 (character set) set to `charset`, the header's other fields as they were."""
    header, _, rest = original.partition("\r")
    fields = header.split("|")
    fields += [""] * (18 - len(fields))
    fields[17] = charset
    return "|".join(fields) + "\r" + rest


@settings(max_examples=examples(50), deadline=None)
@given(original=originals(), segments=responses(), code=st.sampled_from(["AA", "AE", "AR"]),
       charset=st.sampled_from(["", "UNICODE UTF-8", "GB 18030-2000"]))
def test_a_header_remembered_for_one_character_set_is_not_given_for_another(
        original: str, segments: list[list[str]], code: str, charset: str) -> None:
    """The same sender's header under each character set it may declare in MSH-18, one builder for all: a template
    made for one set is not the header of another (two systems of one sender, one sending GB 18030, one UTF-8)."""
    builder = Numbered()
    for declared in ("", "UNICODE UTF-8", "GB 18030-2000"):
        msg = parse(with_charset(original, declared))
        general = Numbered()
        general.taken = builder.taken
        completed = general.complete(from_fields(copy.deepcopy(segments)), msg, code, charset)
        text, _ = builder.complete_text(segments, msg, code, charset)
        assert text == completed.to_er7(), declared


def test_a_header_holding_a_mark_character_is_filled_afresh() -> None:
    builder = Numbered()
    msg = parse("MSH|^~\\&|HIS|HOSP|LIS|LAB|20240105080000||OML^O21^OML_O21|C1|P|2.5.1\r")
    header = ["MSH", "|", "^~\\&", "\x00\x07", "", "", "", "", "", "ORL^O22^ORL_O22"]
    for _ in range(2):
        text, done = builder.complete_text([header, ["MSA", "AA"]], msg, "AA")
        assert text.startswith("MSH|^~\\&|\x00\x07|LAB|HIS|HOSP|20240105080000||ORL^O22^ORL_O22|A")
        assert done.control_id == f"A{builder.taken:06d}"
