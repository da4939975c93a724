"""The validator's compiled per-segment checks never hide a finding: same findings as the field-by-field walk.

Thousands of seeded mutations of valid messages (field values, characters, segments, delimiters) are validated
both ways; and every segment the compiled check passes must be one the walk has nothing to say about.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

import pytest

from harness.contract.findings import Finding
from harness.contract.hl7 import datatypes, segment_regex, standard
from harness.contract.hl7.contract import HL7Validator
from harness.contract.hl7.message import parse
from harness.contract.hl7.validator import ProfileValidator
from harness.contract.loader import ContractStore
from tests.contracts.hl7 import fuzz
from tests.contracts.hl7 import messages as m

CONTRACTS = (("lis", "2024.1"), ("lis", "2023.1"), ("pacs", "2024.1"))


def _pair(store: ContractStore, interface: str, version: str) -> tuple[HL7Validator, HL7Validator]:
    """(the validator as shipped, the same one walking every field of every segment)."""
    fast = HL7Validator(store.load(interface, version))
    walk = HL7Validator(store.load(interface, version))
    walk._profiles = {
        key: ProfileValidator(pv.profile, walk.settings.limits, fast=False)
        for key, pv in walk._profiles.items()
    }
    return fast, walk


def _encode(text: str) -> bytes:
    return text.encode("gb18030" if "GB 18030" in text.split("\r")[0] else "utf-8")


def _findings(validator: HL7Validator, text: str) -> list[tuple[str, str, str, str]]:
    return [
        (f.severity.value, f.location, f.message, f.rule) for f in validator.check(_encode(text)).findings
    ]


# 2,500 mutants a contract, kept: a text value one character past its length limit let through by the compiled
# check (a planted bug) was found in 39 of 40 corpus seeds by one contract or another, by the 922nd mutant at most,
# and by each contract alone in 17-19 of 20 seeds, by the 2,085th at most; before the mutants grew values to the
# profiles' length limits, in 5, 16 and 0 of 20 (bench/RESULTS.md).
@pytest.mark.parametrize(("interface", "version", "seed"), [(*c, n) for n, c in enumerate(CONTRACTS)])
def test_same_findings_as_the_walk(store: ContractStore, interface: str, version: str, seed: int) -> None:
    fast, walk = _pair(store, interface, version)
    quiet = 0
    for text in [*fuzz.seeds(), *fuzz.mutants(2500, seed=seed)]:
        expected = _findings(walk, text)
        assert _findings(fast, text) == expected, text.replace("\r", "\n")
        quiet += not expected
    assert quiet > 100  # the mutations leave enough valid messages for the fast path to matter


@pytest.mark.parametrize(("interface", "version"), CONTRACTS)
def test_every_segment_passed_is_one_the_walk_passes(
    store: ContractStore, interface: str, version: str
) -> None:
    validator = HL7Validator(store.load(interface, version))
    passed = 0
    for text in fuzz.mutants(2500, seed=7):
        msg = validator.decode(_encode(text))
        key = validator.route(msg)
        if key is None:
            continue
        pv = validator._profiles[key]
        pv.validate(msg)  # compiles the plans of the segments it meets
        lib = standard.library_version(msg.version)
        plans = pv._plans(msg.seps, lib) or {}
        for seg in msg.segments:
            sdef = pv.defs.get(lib, {}).get(seg.name)  # the profile's, completed by the standard's
            plan = plans.get(seg.name)
            if sdef is None or plan is None or not pv._quiet(seg, plan, msg):
                continue
            walked: list[Finding] = []
            pv._fields(seg, sdef, seg.name, msg, walked)
            assert walked == [], "|".join(seg.fields)
            passed += 1
    assert passed > 3000


@pytest.fixture
def own_compiled(store: ContractStore) -> Iterator[None]:
    """The LIS 2024.1 profiles with nothing compiled for the test, and what they held before put back after it.

    A contract is loaded once per process and what validators compile from a profile is kept on it
    (`MessageProfile.compiled`) for every validator of it: plans compiled by an earlier test would be used here
    instead of ones compiled under this test's settings, and plans compiled here would be used by a later test."""
    profiles = {id(pv.profile): pv.profile for pv in HL7Validator(store.load("lis", "2024.1"))._profiles.values()}
    before = {key: dict(profile.compiled) for key, profile in profiles.items()}
    for profile in profiles.values():
        profile.compiled.clear()
    yield
    for key, profile in profiles.items():
        profile.compiled.clear()
        profile.compiled.update(before[key])


@pytest.mark.usefixtures("own_compiled")
def test_large_value_sets_are_looked_up(store: ContractStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """With value sets too large to be alternatives, membership is checked on the captured value."""
    monkeypatch.setattr(segment_regex, "_MAX_ALTERNATIVES", 2)
    fast, walk = _pair(store, "lis", "2024.1")
    for text in [*fuzz.seeds(), *fuzz.mutants(1500, seed=11)]:
        assert _findings(fast, text) == _findings(walk, text), text.replace("\r", "\n")


def test_what_the_compiled_check_leaves_to_the_walk(store: ContractStore) -> None:
    """29 February, escapes, subcomponents, digits as delimiters: the walk decides, as before."""
    fast, walk = _pair(store, "lis", "2024.1")
    base = m.lis_oru(2)
    cases = [
        base.replace("20240105101500", "20240229101500"),  # a leap day: fine
        base.replace("20240105101500", "20230229101500"),  # not a leap year
        base.replace("张三", "张\\T\\三"),
        base.replace("张三", "张&三"),
        base.replace("|^~\\&|", "|^~\\1|", 1),
    ]
    for text in cases:
        assert _findings(fast, text) == _findings(walk, text)
    assert _findings(fast, cases[0]) == []
    assert any(f[1] == "MSH-7" for f in _findings(fast, cases[1]))


def test_fast_formats_accept_only_what_the_format_checks_accept() -> None:
    rng = random.Random(5)
    for dtype, (pattern, longest) in datatypes.FAST_FORMAT.items():
        regex = re.compile(pattern)
        accepted = 0
        for _ in range(20000):
            value = "".join(
                rng.choice("0123456789+-." if rng.random() < 0.2 else "0123456789")
                for _ in range(rng.randint(1, 26))
            )
            if regex.fullmatch(value):
                accepted += 1
                assert datatypes.FORMAT[dtype][0](value), (dtype, value)
                assert not longest or len(value) <= longest, (dtype, value)
        assert accepted > 100, dtype
    for year in ("2023", "2024", "1900", "2000"):
        for month in range(14):
            for day in range(33):
                for time in ("", "10", "101500.12", "25"):
                    value = f"{year}{month:02d}{day:02d}{time}"
                    for dtype in ("DT", "DTM"):
                        fast = re.fullmatch(datatypes.FAST_FORMAT[dtype][0], value) is not None
                        slow = datatypes.FORMAT[dtype][0](value)
                        assert slow or not fast, (dtype, value)
                        assert fast or not slow or value[4:8] == "0229", (
                            dtype,
                            value,
                        )  # leap days: the check's


def test_get_in_reads_a_segment_at_hand_like_get() -> None:
    msg = parse(m.lis_oru(3).replace("10*9/L", "10\\S\\9/L"))
    for index, obx in enumerate(msg.all("OBX"), 1):
        where = f"OBX[{index}]" if index > 1 else "OBX"
        for path in ("-3.1", "-5", "-6", "-6.1", "-8", "-3(2).1", "-99"):
            assert msg.get_in(obx, "OBX" + path) == msg.get(where + path)


@pytest.mark.parametrize(("interface", "version", "seed"), [(*c, 7 + n) for n, c in enumerate(CONTRACTS)])
def test_the_header_checks_kept_per_header_give_the_findings_of_a_fresh_check(
    store: ContractStore, interface: str, version: str, seed: int
) -> None:
    """One validator over many messages (header checks remembered per MSH-9/12/15/16) against the same checks run
    afresh for each message: mutants change the headers' fields, delimiters and segments. The fresh findings of a
    text are taken once, in the first pass: the second pass asks the validator that remembers for them again."""
    kept = HL7Validator(store.load(interface, version))
    fresh = HL7Validator(store.load(interface, version))
    texts = [*fuzz.seeds(), *fuzz.mutants(1500, seed=seed)]
    afresh = []
    for text in texts:
        fresh._heads.clear()
        afresh.append(_findings(fresh, text))
        assert _findings(kept, text) == afresh[-1], text.replace("\r", "\n")
    for text, expected in zip(texts, afresh, strict=True):  # every header remembered now
        assert _findings(kept, text) == expected, text.replace("\r", "\n")
    assert kept._heads, "headers were remembered"


def test_segments_seen_to_pass_are_remembered_by_text_within_bounds(store: ContractStore) -> None:
    """A segment whose text passed once passes again without its fields being walked; a header is not remembered
    before its volatile fields are known (MSH-10 is new in every message), nor a segment past the length bound; the
    memory is bounded."""
    fast, walk = _pair(store, "lis", "2024.1")
    pv = fast._profiles["OML^O21"]
    # The plans are kept with the contract's profile, which the session's other validators of it share: from none,
    # as a process's first message meets them (what they hold is only ever remembered, never needed).
    pv.plans.clear()
    text = m.lis_oml()
    assert _findings(fast, text) == _findings(walk, text) == []
    msg = parse(text)
    plans = pv._plans(msg.seps, standard.library_version(msg.version)) or {}
    pid_plan, msh_plan = plans["PID"], plans["MSH"]
    assert pid_plan is not None and msh_plan is not None
    assert msh_plan.passed == set() and not msh_plan.volatile
    pid = next(seg for seg in msg.segments if seg.name == "PID")
    assert pid_plan.passed is not None and "|".join(pid.fields) in pid_plan.passed
    # the same PID with a birth date that is no date: not remembered, so the walk reports it
    broken = text.replace("||19900307|", "||19901307|")
    assert broken != text
    assert _findings(fast, broken) == _findings(walk, broken) != []
    assert _findings(fast, text) == []
    for n in range(segment_regex.PASSED_SEGMENTS + 20):  # as many patients as the bound and more
        other = text.replace("张三", f"病人{n}")
        assert _findings(fast, other) == _findings(walk, other) == []
        assert len(pid_plan.passed) <= segment_regex.PASSED_SEGMENTS
    long_name = text.replace("张三", "张" * segment_regex.PASSED_LENGTH)
    _findings(fast, long_name)
    assert all(len(t) <= segment_regex.PASSED_LENGTH for t in pid_plan.passed)


def _fresh(text: str, n: int) -> str:
    """An order as a hospital sends the next one: new MSH-7, MSH-10 and placer number (ORC-2, OBR-2)."""
    return (text.replace(m.MSH_TIME, f"2024010510{n % 6000 // 100:02d}{n % 60:02d}")
            .replace("|HIS0001|", f"|HIS{n:05d}|").replace("|HIS2401|", f"|HIS{n:05d}|")
            .replace("HIS20240105001", f"HIS2024{n:06d}"))


@pytest.mark.parametrize(("interface", "version", "seed"), [("lis", "2024.1", 31), ("lis", "2023.1", 32)])
def test_segments_remembered_without_their_volatile_fields_give_the_walks_findings(
    store: ContractStore, interface: str, version: str, seed: int
) -> None:
    """Once new MSH-7, MSH-10 and placer numbers have come `VOLATILE_AFTER` times, MSH, ORC and OBR are remembered
    with those fields emptied and only they are checked on the next order; seeded mutations of every field (those
    positions among them) still get the walk's findings from the validator so trained."""
    fast, walk = _pair(store, interface, version)
    base = m.lis_oml() if version == "2024.1" else m.lis24_orm()
    for n in range(2 * segment_regex.VOLATILE_AFTER):
        text = _fresh(base, n)
        assert _findings(fast, text) == _findings(walk, text) == []
    msg = parse(base)
    pv = fast._profiles[fast.route(msg) or ""]
    plans = pv._plans(msg.seps, standard.library_version(msg.version)) or {}
    volatile = {name: plan.volatile for name, plan in plans.items() if plan is not None and plan.volatile}
    # (plans are compiled once per process: other tests may have made more positions volatile before this one)
    assert {7, 10} <= set(volatile["MSH"]) and 2 in volatile["ORC"] and 2 in volatile["OBR"], volatile
    msh_plan = plans["MSH"]
    assert msh_plan is not None and msh_plan.passed
    assert any("||P|" in text for text in msh_plan.passed)  # kept with MSH-10 (before MSH-11 `P`) emptied
    rng = random.Random(seed)
    for number, text in enumerate(fuzz.mutants(1500, seed=seed)):
        if not text.startswith("MSH|^~\\&|HIS|HOSP|LIS|LAB|"):
            continue
        text = _fresh(text, 100 + number) if rng.random() < 0.5 else text
        assert _findings(fast, text) == _findings(walk, text), text.replace("\r", "\n")
