"""Learnt values are masked in free text by the pattern of the values a text holds (found by an Aho-Corasick
automaton that takes in each value as it is learnt), which must mask every text as the pattern of every value learnt
does: overlapping values, a value inside another, a number inside a longer number, values learnt between texts."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness.report import masking
from harness.report.masking import Masker
from tests.strategies import examples


class _EveryValue(Masker):
    """The reference: every value learnt goes into the pattern, whatever the text holds."""

    def _learned_in(self, text: str) -> frozenset[str]:
        return frozenset(self._learned)


known = st.sampled_from(["1234", "2345", "12345678", "5678901", "MRN0001", "张三丰", "三丰", "A-12", "-12X", "0001",
                         "11010519491231002X", "110105194912310021", "44010000000000012345", "4401000000000001"])
"""Values that overlap one another, or hold one another, in the texts below; the long ones are identifiers of the
lengths a run learns (an 18-character resident ID, a 20-digit insured person's number, and prefixes they share)."""
value_pieces = st.sampled_from(["1234", "2345", "345", "12", "MRN", "0001", "张三", "三丰", "-", "A", "9", " "])
values = st.one_of(known, st.lists(value_pieces, min_size=1, max_size=3).map("".join))
neighbours = st.sampled_from(["0", "5", "X", "丰", "-", " ", "|", "*", "\n", "x" * 30, "12345", "0123456789"])
texts = st.lists(st.one_of(known, value_pieces, values, neighbours), max_size=10).map("".join)
"""Texts of the values' own pieces and their neighbours: values overlap in them and meet digits and letters often."""
steps = st.lists(st.one_of(st.tuples(st.just("learn"), st.lists(values, min_size=1, max_size=4)),
                           st.tuples(st.just("text"), texts)), min_size=1, max_size=12)


@settings(max_examples=examples(300), deadline=None)
@given(steps=steps)
# identifiers of a run's lengths, each learnt before and after the automaton is made: drawn together rarely
@example(steps=[("learn", ["11010519491231002X"]), ("text", "身份证11010519491231002X，号 110105194912310021")])
@example(steps=[("text", "x"), ("learn", ["44010000000000012345", "4401000000000001"]),
                ("text", "参保人 44010000000000012345 与 4401000000000001 及 440100000000000123456")])
def test_the_values_a_text_holds_mask_it_as_every_value_learnt_does(steps: list[tuple[str, object]]) -> None:
    quick, reference = Masker(), _EveryValue()
    for kind, arg in steps:
        if kind == "learn":
            assert isinstance(arg, list)
            quick.remember(arg)
            reference.remember(arg)
        else:
            assert isinstance(arg, str)
            assert quick.text(arg) == reference.text(arg)


def test_a_text_holds_each_value_it_contains_overlapping_ones_too() -> None:
    masker = Masker()
    masker.remember(["12345678", "5678901", "张三丰", "三丰"])
    assert masker._learned_in("x12345678901 张三丰") == {"12345678", "5678901", "张三丰", "三丰"}
    assert masker._learned_in("nothing here") == frozenset()
    masker.remember(["MRN0001"])  # learnt after the automaton was made: in it from the next text on
    assert masker._learned_in("MRN0001 and 5678901") == {"MRN0001", "5678901"}
    assert masker.text("病历 MRN0001") == "病历 " + masking.mask_value("MRN0001")


def test_a_scoped_masker_finds_none_of_what_its_parent_learnt() -> None:
    parent = Masker()
    parent.remember(["MRN0001"])
    assert parent._learned_in("MRN0001") == {"MRN0001"}
    child = parent.scoped()
    assert child.text("MRN0001") == "MRN0001"
    child.remember(["MRN0002"])
    assert parent._learned_in("MRN0002") == frozenset()
    assert re.search(r"\*", child.text("MRN0002"))
