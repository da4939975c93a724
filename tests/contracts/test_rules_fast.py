"""The cross-field rules' fast paths against the plain definitions they replace (an oracle): `_contains_key` as a
plain recursion, and `required_when_present` looking at the field before searching the input."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.contract.model import Rule
from harness.contract.rules import _MISSING, _contains_key, check_rules, resolve_pointer
from tests.strategies import one_of

KEYS = st.sampled_from(["psn_no", "mdtrt_id", "data", "feedetail", "x"])
JSON = st.recursive(one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3), st.floats(allow_nan=False)),
                    lambda inner: one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
                    max_leaves=30)


def contains_key_oracle(node: Any, key: str) -> bool:
    if isinstance(node, dict):
        return key in node or any(contains_key_oracle(v, key) for v in node.values())
    if isinstance(node, list):
        return any(contains_key_oracle(v, key) for v in node)
    return False


@settings(max_examples=300)
@given(document=JSON, key=KEYS)
def test_contains_key_answers_as_the_plain_definition(document: Any, key: str) -> None:
    assert _contains_key(document, key) is contains_key_oracle(document, key)


RULE = Rule(id="psn-no-needs-insuplc", kind="required_when_present", where="request", applies_to=("2207",),
            params={"field": "/insuplc_admdvs", "when_present": "psn_no"})


@settings(max_examples=300)
@given(inputs=JSON, area=st.sampled_from([None, "", "330100", 0]), present=st.booleans())
def test_required_when_present_finds_what_the_plain_definition_finds(inputs: Any, area: Any, present: bool) -> None:
    message: dict[str, Any] = {"input": inputs}
    if present:
        message["insuplc_admdvs"] = area
    expected = contains_key_oracle(inputs, "psn_no") and resolve_pointer(message, "/insuplc_admdvs") in (_MISSING, None, "")
    findings = check_rules([RULE], "request", "2207", message)
    assert [f.location for f in findings] == (["/insuplc_admdvs"] if expected else [])
