"""Segment checks compiled once per process: the expressions shared, what is remembered beside them not.

`segment_regex.pattern` keeps each compiled expression for the process, so the profiles of one contract, its other
versions and the other HL7 contracts reuse what an earlier one compiled; a plan checked field by field does not
compile its segment's whole expression at all. The oracles: a validator whose profile starts with nothing compiled
(fresh plans, empty remembered values) and the field walk (`fast=False`) give the same findings, message by message,
as one whose plans and remembered values were filled by another validator of the contract (a mock started earlier
in the same process).
"""

from __future__ import annotations

import dataclasses

import pytest

from harness.contract.hl7 import segment_regex, standard
from harness.contract.hl7.contract import HL7Validator
from harness.contract.hl7.escape import DEFAULT
from harness.contract.hl7.validator import ProfileValidator
from harness.contract.loader import ContractStore
from tests.contracts.hl7 import fuzz

CONTRACTS = (("lis", "2024.1"), ("lis", "2023.1"), ("pacs", "2024.1"))


def _fresh(validator: HL7Validator, *, fast: bool = True) -> HL7Validator:
    """`validator`'s contract with profiles that remember nothing yet (each a copy with its own `compiled`)."""
    out = HL7Validator(validator.contract)
    out._profiles = {key: ProfileValidator(dataclasses.replace(pv.profile, compiled={}), out.settings.limits,
                                           fast=fast)
                     for key, pv in validator._profiles.items()}
    return out


def _encode(text: str) -> bytes:
    return text.encode("gb18030" if "GB 18030" in text.split("\r")[0] else "utf-8")


def _findings(validator: HL7Validator, text: str) -> list[tuple[str, str, str, str]]:
    return [(f.severity.value, f.location, f.message, f.rule) for f in validator.check(_encode(text)).findings]


def _field_checks(validator: HL7Validator) -> list[segment_regex.FieldCheck]:
    return [check for pv in validator._profiles.values() for plans in pv.plans.values()
            for plan in plans.values() if plan is not None for check in plan.fields or () if check is not None]


@pytest.mark.parametrize(("interface", "version", "seed"), [(*c, 40 + n) for n, c in enumerate(CONTRACTS)])
def test_a_reused_plan_finds_what_a_fresh_one_and_the_walk_find(store: ContractStore, interface: str, version: str,
                                                                seed: int) -> None:
    earlier = HL7Validator(store.load(interface, version))  # a mock started before, in the same process
    texts = [*fuzz.seeds(), *fuzz.mutants(600, seed=seed)]
    for text in texts:
        earlier.check(_encode(text))
    reused = HL7Validator(store.load(interface, version))
    walk = _fresh(reused, fast=False)
    remembered = sum(len(check.known) for check in _field_checks(reused))
    assert remembered > 0  # the earlier validator's values seen to pass are there for the next one
    quiet = 0
    for n, text in enumerate(texts):
        expected = _findings(walk, text)
        assert _findings(reused, text) == expected, text.replace("\r", "\n")
        if n % 6 == 0:  # a validator that has compiled nothing yet, for every sixth message (each costs a compile)
            assert _findings(_fresh(reused), text) == expected, text.replace("\r", "\n")
        quiet += not expected
    assert quiet > 20  # enough valid messages for the remembered values to matter


def test_contracts_share_expressions_but_not_remembered_values(store: ContractStore) -> None:
    segment_regex.pattern.cache_clear()
    first = _fresh(HL7Validator(store.load("lis", "2023.1")))
    first.warm()
    compiled = segment_regex.pattern.cache_info().currsize
    second = _fresh(HL7Validator(store.load("lis", "2024.1")))
    second.warm()
    info = segment_regex.pattern.cache_info()
    assert compiled > 0 and info.hits > 0  # the second version reused expressions the first compiled
    assert info.currsize <= segment_regex.PATTERNS and info.maxsize == segment_regex.PATTERNS
    ones = {id(check.regex): check for check in _field_checks(first) if check.regex is not None}
    shared = [(ones[id(check.regex)], check) for check in _field_checks(second)
              if check.regex is not None and id(check.regex) in ones]
    assert shared  # one compiled expression in both contracts' plans ...
    for mine, theirs in shared:  # ... each with its own remembered values
        assert mine is not theirs and mine.known is not theirs.known
    mine, theirs = shared[0]
    mine.known.add("only-in-the-first")
    assert "only-in-the-first" not in theirs.known


def test_a_segment_checked_field_by_field_compiles_no_whole_expression(store: ContractStore) -> None:
    validator = _fresh(HL7Validator(store.load("lis", "2024.1")))
    validator.warm()
    plans = validator._profiles["ORU^R01"]._plans(DEFAULT, standard.library_version("2.5.1")) or {}
    obx, pid = plans["OBX"], plans["PID"]
    assert obx is not None and obx.fields is None and obx.short is not None  # OBX-5 typed by OBX-2: one expression
    assert pid is not None and pid.fields is not None and pid.short is None
