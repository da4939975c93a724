"""The transport's fast paths give what the general code gives: one whole frame per read, the MSH read once."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.contract.hl7.ack_mode import AckMode, mode_findings
from harness.contract.hl7.message import parse
from harness.contract.hl7.mllp import END, SB, Deframer
from tests.strategies import examples


@pytest.mark.parametrize("data", [
    SB + b"MSH|^~\\&|A\r" + END,
    SB + END,
    SB + b"x" * 11 + END,          # over the limit of 10
    SB + b"a\x0bb" + END,          # a start block inside
    SB + b"a\x1cb" + END,          # an end block inside
    b"junk" + SB + b"abc" + END,   # bytes before the start block
])
def test_one_frame_per_read_matches_the_buffered_path(data: bytes) -> None:
    fast, slow = Deframer(10), Deframer(10)
    slow.feed(b"")
    got = fast.feed(data)
    expected = [f for part in (data[:1], data[1:]) for f in slow.feed(part)]
    assert got == expected
    assert fast.pending == slow.pending == 0 or fast.close() == slow.close()


def test_garbage_before_a_whole_frame_is_counted() -> None:
    deframer = Deframer()
    assert deframer.feed(b"noise") == []
    frames = deframer.feed(SB + b"MSH|x" + END)
    assert [(f.payload, f.skipped) for f in frames] == [(b"MSH|x", 5)]


@pytest.mark.parametrize("header", [
    "MSH|^~\\&|LIS^x|LAB|HIS|HOSP|20240105||ORU^R01^ORU_R01|C1|P|2.5.1|||AL|NE||CHN|UNICODE UTF-8",
    "MSH|^~\\&|LIS|LAB|HIS|HOSP|20240105||ORU^R01~ADT^A01| C2 |P|2.3.1^x",
    "MSH|^~\\&|LIS|LAB|||20240105||ACK|C3",
    "MSH|^~\\&|||||||ORU",
    "MSH#$%*@#A#B#C#D#1##ADT$A01#C4#P#2.4",
    "MSH|^~\\&|A|B|C|D|||ORU^|C5|P|2.5||||SU",
    "MSH|^~\\&| LIS ~X| LAB^y ||| 2024 || OML ^ O21 ~ORU^R01 | C6 ~C7|P| 2.5.1 ~2.4",
    "MSH|^~\\&|||||||||||",
])
def test_head_reads_what_the_message_properties_read(header: str) -> None:
    """`head` reads what the properties read, and the properties read after it (from what it remembered) the
    same as on a message whose head was never read."""
    fresh = parse(header + "\rPID|1\r")
    expected = (fresh.message_type, fresh.control_id, fresh.version, fresh.sender, fresh.receiver,
                fresh.enhanced_mode)
    msg = parse(header + "\rPID|1\r")
    assert msg.head() == expected
    assert (msg.message_type, msg.control_id, msg.version, msg.sender, msg.receiver, msg.enhanced_mode) == expected
    msg.set("MSH-12", "2.3")  # a value written since is read afresh
    assert msg.version == "2.3"


_ACK_VALUES = st.sampled_from(["", " ", "AL", "NE", "ER", "SU", "XX", "AL~NE", " ~AL", "AL^x", " AL "])


@settings(max_examples=examples(300), deadline=None)
@given(accept=_ACK_VALUES, application=_ACK_VALUES, mtype=st.sampled_from(["OML^O21", "ACK", "ACK^O21", "ORU^R01"]))
def test_the_mode_notes_skipped_are_those_mode_findings_leaves_empty(accept: str, application: str,
                                                                    mtype: str) -> None:
    """The server skips `mode_findings` for a message whose head reads MSH-15/16 blank under an original-mode
    contract: there it gives nothing, whatever else the header says."""
    msg = parse(f"MSH|^~\\&|HIS|HOSP|LIS|LAB|20240105||{mtype}|C1|P|2.5.1|||{accept}|{application}\rPID|1\r")
    for mode in (AckMode(), AckMode("enhanced", "AL", "AL")):
        skipped = not mode.enhanced and not msg.head().enhanced_mode
        if skipped:
            assert mode_findings(mode, msg) == []
