"""The partners' field readers (`components`, `part`, `whole`) read what `Message.get_in` reads, on wide inputs:
any field text, repetitions, components, escape sequences and delimiters a sender may declare."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.contract.hl7.escape import Separators
from harness.contract.hl7.message import Message, Segment, parse_path
from mocks.hl7_partner import components, part, whole

DELIMITERS = st.sampled_from([Separators(), Separators("|", "^", "~", "\\", "&"), Separators("#", "$", "*", "!", "@")])
PIECES = st.sampled_from(["", "A", "张三", " ", "\\F\\", "\\S\\", "\\E\\", "\\X41\\", "\\Z1\\", "\\", "^", "~", "&",
                          "|", "#", "$", "*", "!", "@", "20240105", "CBC", "血常规"])


@st.composite
def segments(draw: st.DrawFn) -> tuple[Segment, Separators]:
    seps = draw(DELIMITERS)
    fields = ["OBR"]
    for _ in range(draw(st.integers(0, 20))):
        fields.append("".join(draw(st.lists(PIECES, max_size=6))))
    return Segment("OBR", fields), seps


@settings(max_examples=200, deadline=None)
@given(segments(), st.integers(1, 22), st.integers(1, 6))
def test_a_component_reads_as_get_in_reads_it(drawn: tuple[Segment, Separators], field: int, component: int) -> None:
    seg, seps = drawn
    message = Message([seg], seps)
    expected = message.get_in(seg, parse_path(f"OBR-{field}.{component}"))
    assert part(components(seg, field, seps), component, seps) == expected


@settings(max_examples=200, deadline=None)
@given(segments(), st.integers(1, 22))
def test_a_whole_field_reads_as_get_in_reads_it(drawn: tuple[Segment, Separators], field: int) -> None:
    seg, seps = drawn
    message = Message([seg], seps)
    assert whole(seg, field, seps) == message.get_in(seg, parse_path(f"OBR-{field}"))


def test_an_absent_segment_reads_empty() -> None:
    seps = Separators()
    assert (part(components(None, 2, seps), 1, seps), whole(None, 1, seps)) == ("", "")
