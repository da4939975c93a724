"""Free-text masking skips a pattern when the text lacks a character the pattern needs: the result is the one every
pattern run in turn gives, whatever the text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.config import MaskingConfig
from harness.report.masking import Masker
from tests.report.maskers import new_masker
from tests.strategies import examples

pieces = st.sampled_from([
    '"psn_name": "张三"', "'certno': '11010519491231002X'", "psn_no=1234567", "tel: 13812345678",
    "<Phone>0571-88886666</Phone>", "&lt;IdCard&gt;330106199001011234&lt;/IdCard&gt;", "MSH|^~\\&|HIS|LAB|",
    "\rPID|1||MRN0001^^^H||张^三||19900101|F", "0571-8888666", "1234567", "123456", "１２３４５６７", "病历号：MRN0001",
    "姓名=李四", "|", "=", ":", "'", '"', "<", ">", "&lt;", "&gt;", " ", "\n", "\r", "a", "9", "X", "-", "0",
])
TEXT_RULES = MaskingConfig(text=(r"工号(\d{4})",))
texts = st.lists(pieces, max_size=14).map("".join) | st.text(max_size=60)


# 400 examples: a shortcut that skips the quoted pattern without a double quote, or the element pattern without a
# "<" (an escaped "&lt;" forgotten), was found by the 192nd example or sooner in each of 40 seeds (bench/RESULTS.md).
@settings(max_examples=examples(400), deadline=None)
@given(text=texts, learned=st.lists(st.sampled_from(["MRN0001", "张三丰", "0571"]), max_size=2))
def test_skipping_patterns_changes_nothing(text: str, learned: list[str]) -> None:
    shortcut, every = new_masker(Masker.from_config, TEXT_RULES), new_masker(Masker.from_config, TEXT_RULES)
    shortcut.remember(learned)
    every.remember(learned)
    assert shortcut._text(text) == every._text(text, shortcuts=False)
    assert shortcut.learned == every.learned
