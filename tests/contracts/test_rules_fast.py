"""The cross-field rules' fast paths against the plain definitions they replace (an oracle): `_contains_key` as a
plain recursion, `required_when_present` looking at the field before searching the input, and `sum` deciding
amounts that add up in whole cents."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.contract.model import Rule
from harness.contract.rules import _MISSING, _contains_key, as_decimal, cents, check_rules, resolve_pointer
from tests.strategies import examples, one_of

KEYS = st.sampled_from(["psn_no", "mdtrt_id", "data", "feedetail", "x"])
JSON = st.recursive(one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3), st.floats(allow_nan=False)),
                    lambda inner: one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
                    max_leaves=30)



def _bury(document: Any, layers: list[str], key: str) -> Any:
    node: Any = {key: document}
    for layer in layers:
        node = [1, node] if layer == "list" else {"x": None, "data": node}
    return node


def buried(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """A document holding one of `keys` one to three arrays or objects down: random documents hold a key below an
    array in a few examples of a hundred (the recursion into arrays is what such a key tests)."""
    return st.builds(_bury, JSON, st.lists(st.sampled_from(["list", "dict"]), min_size=1, max_size=3), keys)


DOCUMENTS = one_of(JSON, buried(KEYS))


def contains_key_oracle(node: Any, key: str) -> bool:
    if isinstance(node, dict):
        return key in node or any(contains_key_oracle(v, key) for v in node.values())
    if isinstance(node, list):
        return any(contains_key_oracle(v, key) for v in node)
    return False


# 150 examples (was 300): a key below an array not searched (a planted bug) was found in every one of 40 seeds, by the
# 67th example at most, once half the documents held a key one to three arrays or objects down (bench/RESULTS.md).
@settings(max_examples=examples(150))
@given(document=DOCUMENTS, key=KEYS)
def test_contains_key_answers_as_the_plain_definition(document: Any, key: str) -> None:
    assert _contains_key(document, key) is contains_key_oracle(document, key)


RULE = Rule(id="psn-no-needs-insuplc", kind="required_when_present", where="request", applies_to=("2207",),
            params={"field": "/insuplc_admdvs", "when_present": "psn_no"})


# 250 examples (was 300): an empty area taken as given, and a psn_no below an array not searched (planted bugs), were
# found in every one of 40 seeds, by the 134th and 60th example at most, once half the inputs held psn_no one to three
# arrays or objects down (bench/RESULTS.md).
@settings(max_examples=examples(250))
@given(inputs=one_of(JSON, buried(st.just("psn_no"))), area=st.sampled_from([None, "", "330100", 0]), present=st.booleans())
def test_required_when_present_finds_what_the_plain_definition_finds(inputs: Any, area: Any, present: bool) -> None:
    message: dict[str, Any] = {"input": inputs}
    if present:
        message["insuplc_admdvs"] = area
    expected = contains_key_oracle(inputs, "psn_no") and resolve_pointer(message, "/insuplc_admdvs") in (_MISSING, None, "")
    findings = check_rules([RULE], "request", "2207", message)
    assert [f.location for f in findings] == (["/insuplc_admdvs"] if expected else [])


# -- the `sum` rule in whole cents ------------------------------------------------------------------------------
AMOUNTS = (st.decimals(min_value=-10**13, max_value=10**13, places=2, allow_nan=False).map(float)
           | st.integers(-10**15, 10**15) | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from([0.1, 0.2, 0.3, 0.30000000000000004, -0.0, 1e16, 2.675, True, None, "1.00"]))
SUM = Rule(id="setl-sum", kind="sum", where="response", applies_to=("2207",),
           params={"total": "/t", "parts": ["/a", "/b"]}, message="")


def sum_oracle(message: dict[str, Any]) -> list[str]:
    """The rule's definition in `Decimal` (the general path, written out)."""
    values = [as_decimal(message.get(k)) for k in ("t", "a", "b")]
    if any(v is None for v in values):
        return []
    return ["/t"] if values[0] != sum((v for v in values[1:] if v is not None), Decimal(0)) else []


# 600 examples, kept: floats past 2**53 cents taken as whole cents (the bound planted at 2**60) took up to the 245th
# example in 20 seeds at 400, the 157th in 20 at 600 (bench/RESULTS.md).
@settings(max_examples=examples(600))
@given(value=AMOUNTS)
def test_cents_is_the_decimal_amount_times_100_or_nothing(value: Any) -> None:
    whole = cents(value)
    if whole is not None:
        assert Decimal(whole) == as_decimal(value) * 100  # type: ignore[operator]  # a number: as_decimal reads it


PARTS = one_of(
    AMOUNTS,
    # past the cents bound in doubles: whole cents there are a double's spacing apart or more
    st.integers(2**49, 2**61).map(lambda c: c / 100), st.integers(-(2**61), -(2**49)).map(lambda c: c / 100),
    st.decimals(min_value=-10**4, max_value=10**4, places=3, allow_nan=False).map(float),  # a third decimal
    st.decimals(min_value=-10**6, max_value=10**6, places=2, allow_nan=False).map(str),  # amounts as text
)
"""A sum's parts: `AMOUNTS`, and the values its fast path must not take for whole cents while `Decimal` reads them
(past the bound, with a third decimal, text)."""
TOTALS = ("as drawn", "added", "added, rounded to cents", "b left out")


def _total(a: Any, b: Any, how: str) -> Any:
    """`a + b` in `Decimal` as a float (text when `a` is text), rounded to cents or not; None when not numbers."""
    first, second = as_decimal(a), as_decimal(b)
    if first is None or second is None or not all(p.is_finite() and abs(p) < 10**20 for p in (first, second)):
        return None
    added = first + second
    if how != "added":
        added = added.quantize(Decimal("0.01"))
    return str(added) if isinstance(a, str) else float(added)


# 600 examples, kept: floats past the cents bound taken as whole cents, floats within half a cent taken as cents, and
# a part the fast path cannot read counted as zero (planted bugs) were found in every one of 40 seeds, by the 307th,
# 182nd and 152nd example at most (bench/RESULTS.md).
@settings(max_examples=examples(600))
@given(total=AMOUNTS, a=PARTS, b=PARTS, how=st.sampled_from(TOTALS))
def test_the_sum_rule_finds_what_decimal_arithmetic_finds(total: Any, a: Any, b: Any, how: str) -> None:
    if how == "b left out":  # a total missing a part: wrong unless b is nothing, or not a number
        total = a
    elif how != "as drawn":  # amounts that add up (the common case), or a total rounded from parts that do not
        total = _total(a, b, how)
    message = {"t": total, "a": a, "b": b}
    assert [f.location for f in check_rules([SUM], "response", "2207", message)] == sum_oracle(message)
