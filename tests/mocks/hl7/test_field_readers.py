"""The partners' field readers (`components`, `part`, `whole`) read what `Message.get_in` reads, on wide inputs:
any field text, repetitions, components, escape sequences and delimiters a sender may declare."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.contract.hl7.escape import DEFAULT, Separators
from harness.contract.hl7.message import Message, Segment, parse_path
from mocks import hl7_partner
from mocks.hl7_partner import components, part, patient_of, read_patient, whole
from mocks.lis import _pair, _value
from tests.strategies import examples

DELIMITERS = st.sampled_from([Separators(), Separators("|", "^", "~", "\\", "&"), Separators("#", "$", "*", "!", "@")])
PIECES = st.sampled_from(["", "A", "张三", " ", "\\F\\", "\\S\\", "\\E\\", "\\X41\\", "\\Z1\\", "\\", "^", "~", "&",
                          "|", "#", "$", "*", "!", "@", "20240105", "CBC", "血常规"])


# The strategies the composites below draw from, built once: one built inside a composite is a new strategy at every
# draw, checked again by Hypothesis each time; built once, they draw the same examples for less.
FIELD_COUNTS = st.integers(0, 20)
FIELD_PIECES = st.lists(PIECES, max_size=6)
TEXTS = st.lists(PIECES, max_size=4).map("".join)
IDS = st.lists(st.tuples(TEXTS, st.sampled_from(["MR", "NNCHN", "", "PI"])), max_size=3)
PID_TEXTS, PV1_TEXTS = st.lists(TEXTS, max_size=17), st.lists(TEXTS, max_size=20)


@st.composite
def segments(draw: st.DrawFn) -> tuple[Segment, Separators]:
    seps = draw(DELIMITERS)
    fields = ["OBR"]
    for _ in range(draw(FIELD_COUNTS)):
        fields.append("".join(draw(FIELD_PIECES)))
    return Segment("OBR", fields), seps


@settings(max_examples=examples(200), deadline=None)
@given(segments())
def test_a_component_reads_as_get_in_reads_it(drawn: tuple[Segment, Separators]) -> None:
    """Every component of every field the segment has (and of one beyond it), not one drawn: most drawn fields would
    be past the segment's end, where every reader gives "" alike."""
    seg, seps = drawn
    message = Message([seg], seps)
    for field in range(1, len(seg.fields) + 1):
        for component in range(1, 7):
            expected = message.get_in(seg, parse_path(f"OBR-{field}.{component}"))
            assert part(components(seg, field, seps), component, seps) == expected, (field, component)


@settings(max_examples=examples(200), deadline=None)
@given(segments())
def test_a_whole_field_reads_as_get_in_reads_it(drawn: tuple[Segment, Separators]) -> None:
    seg, seps = drawn
    message = Message([seg], seps)
    for field in range(1, len(seg.fields) + 1):
        assert whole(seg, field, seps) == message.get_in(seg, parse_path(f"OBR-{field}")), field


def test_an_absent_segment_reads_empty() -> None:
    seps = Separators()
    assert (part(components(None, 2, seps), 1, seps), whole(None, 1, seps)) == ("", "")


@st.composite
def patients(draw: st.DrawFn) -> tuple[Message, Separators]:
    """A message with a PID and a PV1 of any field texts (PID-3 with kinds of identifier), under any delimiters."""
    seps = draw(DELIMITERS)
    ids = draw(IDS)
    pid = ["PID", "1", "", seps.repetition.join(f"{n}{seps.component * 4}{k}" for n, k in ids), *draw(PID_TEXTS)]
    pv1 = ["PV1", *draw(PV1_TEXTS)]
    return Message([Segment("PID", pid), Segment("PV1", pv1)], seps), seps


@settings(max_examples=examples(300), deadline=None)
@given(patients())
def test_a_patient_remembered_reads_as_one_read_afresh(drawn: tuple[Message, Separators]) -> None:
    message, seps = drawn
    first = message.firsts()
    expected = read_patient(first.get("PID"), first.get("PV1"), seps)
    given = patient_of(message)
    assert given == expected
    given["mrn"] = "changed by a caller"  # a caller's change is its own
    again = patient_of(Message([Segment(s.name, list(s.fields)) for s in message.segments], seps))
    assert again == expected
    assert len(hl7_partner._PATIENTS) <= hl7_partner.PATIENTS_KEPT


OTHER_DELIMITERS = (Separators(), Separators("#", "$", "*", "!", "@"), Separators("|", "$", "~", "\\", "&"))


@settings(max_examples=examples(25), deadline=None)
@given(patients())
def test_a_patient_remembered_under_one_set_of_delimiters_is_read_again_under_another(
        drawn: tuple[Message, Separators]) -> None:
    """The same PID and PV1 texts under other delimiters are another patient's: what was remembered under one set is
    not given for another (a sender that declares its own delimiters in MSH-1/MSH-2)."""
    message, _ = drawn
    patient_of(message)
    texts = [Segment(s.name, list(s.fields)) for s in message.segments]
    for other in OTHER_DELIMITERS:
        first = Message(texts, other).firsts()
        assert patient_of(Message(texts, other)) == read_patient(first.get("PID"), first.get("PV1"), other), other


def test_patients_remembered_are_bounded() -> None:
    seps = Separators()
    for n in range(hl7_partner.PATIENTS_KEPT + 10):
        message = Message([Segment("PID", ["PID", "1", "", f"{n}^^^HOSP^MR", "", f"病人{n}"])], seps)
        assert patient_of(message)["mrn"] == str(n)
        assert len(hl7_partner._PATIENTS) <= hl7_partner.PATIENTS_KEPT


@settings(max_examples=examples(300), deadline=None)
@given(segments(), st.integers(1, 22), st.integers(0, 6))
def test_the_light_reader_reads_as_the_readers_do(drawn: tuple[Segment, Separators], field: int,
                                                  component: int) -> None:
    """`mocks.lis._value` (the light way of a new order, default delimiters only) in one call."""
    seg, _ = drawn
    expected = whole(seg, field, DEFAULT) if not component else part(components(seg, field, DEFAULT), component, DEFAULT)
    assert _value(seg, field, component) == expected
    assert _value(None, field, component) == ""


@settings(max_examples=examples(200), deadline=None)
@given(segments())
def test_the_light_pair_reads_the_first_two_components_as_the_readers_do(drawn: tuple[Segment, Separators]) -> None:
    """`mocks.lis._pair` (a request's test, the ordering provider: one field split once) reads components 1 and 2 as
    `part(components(...))` does, under the default delimiters the light way takes: every field the segment has,
    and one beyond it."""
    seg, _ = drawn
    for field in range(1, len(seg.fields) + 1):
        comps = components(seg, field, DEFAULT)
        assert _pair(seg, field) == (part(comps, 1, DEFAULT), part(comps, 2, DEFAULT)), field
