"""The journal, fault rules and fault plans, without a server."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import pytest

from harness.contract.findings import Finding, Severity
from harness.errors import UsageError
from mocks.transport.faults import KINDS, Fault, FaultPlan
from mocks.transport.journal import KEPT_HEAD, Exchange, Journal, Truncated


def exchange(operation: str | None = "1101", raw: bytes = b"{}") -> Exchange:
    return Exchange("insurance", "http", operation, raw)


# -- journal -----------------------------------------------------------------------------------------------------
def test_journal_numbers_entries_in_order() -> None:
    journal = Journal()
    recorded = [journal.record(exchange(op)) for op in ("9001", "1101", "1101", None)]

    assert [e.id for e in recorded] == [1, 2, 3, 4]
    assert journal.entries() == recorded
    assert journal.entries("1101") == recorded[1:3]
    assert journal.last() is recorded[3]
    assert journal.last("9001") is recorded[0]
    assert journal.last("2207") is None
    assert journal.entries(predicate=lambda e: e.operation is None) == [recorded[3]]
    assert len(journal) == 4


def test_journal_keeps_the_newest_and_counts_the_dropped() -> None:
    journal = Journal(capacity=3)
    for n in range(5):
        journal.record(exchange(str(n)))

    assert len(journal) == 3
    assert [e.operation for e in journal.entries()] == ["2", "3", "4"]
    assert [e.id for e in journal.entries()] == [3, 4, 5], "ids keep counting"
    assert journal.dropped == 2

    journal.clear()
    assert (len(journal), journal.dropped) == (0, 0)
    assert journal.record(exchange()).id == 6, "ids never repeat, even after a clear"


def test_journal_is_safe_across_threads() -> None:
    journal = Journal(capacity=10_000)

    def writer() -> None:
        for _ in range(500):
            journal.record(exchange())

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    ids = [e.id for e in journal.entries()]
    assert len(ids) == 4000 and len(set(ids)) == 4000


def test_exchange_validity_and_dict_form() -> None:
    e = exchange(raw=b"\xff\x00binary")
    e.request_findings = [Finding(Severity.WARNING, "/x", "suspect")]
    e.response_raw = '{"infcode":0,"err_msg":"成功"}'.encode()
    e.response_findings = [Finding(Severity.ERROR, "/output", "missing", "output")]

    assert e.request_valid and not e.response_valid
    document = e.to_dict()
    assert document["request_raw"] == {"base64": "/wBiaW5hcnk="}
    assert document["response_raw"] == {"text": '{"infcode":0,"err_msg":"成功"}'}
    assert document["response_findings"] == [{"severity": "error", "location": "/output", "message": "missing", "rule": "output"}]
    assert document["request_findings"][0]["severity"] == "warning"


# -- fault rules -------------------------------------------------------------------------------------------------
def test_fault_defaults() -> None:
    fault = Fault("no_reply")
    assert (fault.operation, fault.times, fault.phase, fault.delay_s, fault.status) == (None, 1, "after", 0.0, 503)
    assert Fault.from_dict(fault.to_dict()) == fault
    assert {"latency", "no_reply", "reset", "http_status", "error_reply", "malformed"} <= set(KINDS)


@pytest.mark.parametrize(("data", "message"), [
    ({"kind": "explode"}, "unknown fault kind 'explode' (known: latency, no_reply"),
    ({"operation": "2207"}, "a fault needs a kind"),
    ({"kind": "reset", "when": "now"}, "unknown fault field(s): when (known: code, delay_s, kind"),
    ({"kind": "reset", "phase": "during"}, "fault phase must be 'before' or 'after', not 'during'"),
    ({"kind": "reset", "times": 0}, "fault times must be at least 1 (or null for always), not 0"),
    ({"kind": "latency", "delay_s": -1}, "fault delay_s must be between 0 and 3600, not -1"),
    ({"kind": "latency", "delay_s": 3601}, "fault delay_s must be between 0 and 3600, not 3601"),
    ({"kind": "http_status", "status": 200}, "http_status fault needs a 4xx or 5xx status, not 200"),
])
def test_fault_from_dict_refuses_bad_rules(data: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        Fault.from_dict(data)
    assert str(caught.value).startswith(message)


def test_fault_from_dict_of_wrong_types_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        Fault.from_dict({"kind": "latency", "delay_s": "slow"})


def test_fault_from_dict_accepts_null_times() -> None:
    fault = Fault.from_dict({"kind": "error_reply", "operation": "2207", "times": None, "message": "忙"})
    assert (fault.times, fault.operation, fault.message) == (None, "2207", "忙")


# -- fault plans -------------------------------------------------------------------------------------------------
def test_plan_fires_the_first_matching_fault_and_uses_it_up() -> None:
    plan = FaultPlan()
    settle = plan.add(Fault("no_reply", operation="2207"))
    anything = plan.add(Fault("latency", times=2))

    assert plan.take("2207") is settle
    assert plan.take("2207") is anything, "the settlement fault was used up; the catch-all matches"
    assert plan.take("1101") is anything
    assert plan.take("1101") is None
    assert plan.armed() == []
    assert plan.fired == [settle, anything, anything]


def test_plan_keeps_a_forever_fault_and_clears() -> None:
    plan = FaultPlan()
    plan.add(Fault("reset", operation="9001", times=None))
    assert all(plan.take("9001") is not None for _ in range(5))
    assert plan.take("1101") is None
    assert len(plan.armed()) == 1 and len(plan.fired) == 5

    plan.clear()
    assert plan.armed() == [] and plan.fired == [] and plan.take("9001") is None


# -- bounded by bytes -----------------------------------------------------------------------------------------------
def test_an_oversized_body_is_kept_truncated_with_its_length_and_digest() -> None:
    journal = Journal(entry_bytes=1024)
    body = b'{"big": "' + b"x" * 5000 + b'"}'
    kept = journal.record(Exchange("insurance", "http", "9001", body, request={"big": "x" * 5000}, response_raw=b"{}"))

    assert kept.request_raw == body[:KEPT_HEAD] and kept.request is None, "the head is kept, the parsed form is not"
    assert kept.request_truncated == Truncated(len(body), hashlib.sha256(body).hexdigest())
    assert kept.response_raw == b"{}" and kept.response_truncated is None
    assert kept.to_dict()["request_truncated"] == {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                                                   "kept": KEPT_HEAD}


def test_the_journal_keeps_the_newest_entries_within_its_byte_budget() -> None:
    journal = Journal(max_bytes=200_000)
    for n in range(100):
        journal.record(exchange(str(n), raw=b"x" * 10_000))

    kept = journal.entries()
    assert journal.bytes <= 200_000 and 0 < len(kept) < 100
    assert [e.operation for e in kept] == [str(n) for n in range(100 - len(kept), 100)], "the newest, in order"
    assert journal.dropped == 100 - len(kept)
    journal.clear()
    assert (journal.bytes, journal.dropped) == (0, 0)


def test_one_entry_over_the_whole_budget_is_still_kept_alone() -> None:
    journal = Journal(max_bytes=10_000)
    journal.record(exchange("1", raw=b"x" * 100))
    journal.record(exchange("2", raw=b"y" * 50_000))
    assert [e.operation for e in journal.entries()] == ["2"], "the newest exchange is always there to be read"


def test_findings_are_kept_up_to_a_bound_with_clipped_messages() -> None:
    journal = Journal()
    e = exchange()
    too_long = "'" + "v" * 2_000_000 + "' is too long"
    e.request_findings = [Finding(Severity.ERROR, f"/x/{n}", too_long, "maxLength") for n in range(1000)]
    kept = journal.record(e).request_findings
    assert len(kept) == 201 and kept[-1].message == "800 more request findings not kept in the journal"
    assert all(len(f.message) < 600 for f in kept) and "(2000014 characters in all)" in kept[0].message
