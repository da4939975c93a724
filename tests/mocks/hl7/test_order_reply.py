"""The mock LIS's ORL^O22 / ORR^O02, built as segments' fields, is the message its ER7 lines parse to: same text on the
wire, same fields, for any patient, order numbers and text (escaped delimiters, Chinese, spaces)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from harness.contract.hl7.message import from_fields, parse
from harness.contract.loader import ContractStore
from mocks.hl7_partner import er7, esc, now_ts, pid_segment
from mocks.lis import LisMock
from tests.strategies import examples

TEXT = st.text(st.sampled_from(list("AZ09 -.张三血常规|^~\\&#")), max_size=12)


def lines_of(mock: LisMock, version: str, order_control: str, order: dict[str, Any], text: str,
             patient: dict[str, Any]) -> str:
    """The reply as ER7 lines, the way the mock wrote it before it built segments."""
    structure = "O22^ORL_O22" if mock.response_type == "ORL^O22" else "O02^ORR_O02"
    kind = mock.response_type.split("^")[0]
    status = {"OK": "SC", "CR": "CA"}.get(order_control, "")
    header = "|".join(["MSH", "^~\\&", "", "", "", "", "", "", f"{kind}^{structure}", "", "", version])
    msa = f"MSA|AA||{esc(text)}" if text else "MSA|AA|"
    orc = f"ORC|{order_control}|{esc(order['placer_no'])}|{esc(order.get('filler_no', ''))}||{status}||||{now_ts()}"
    return er7(header, msa, pid_segment(patient, version), orc)


@pytest.fixture(scope="module", params=["2024.1", "2023.1"])
def lis(request: pytest.FixtureRequest, store: ContractStore) -> LisMock:
    return LisMock(store.load("lis", request.param))


@settings(max_examples=examples(150), deadline=None)
@given(control=st.sampled_from(["OK", "UA", "CR", "UC"]), placer=TEXT, filler=TEXT, text=TEXT,
       mrn=TEXT, name=TEXT, card=TEXT, birth=st.sampled_from(["", "19900307"]), sex=st.sampled_from(["", "M", "F"]))
def test_the_reply_is_the_message_its_lines_parse_to(lis: LisMock, control: str, placer: str, filler: str,
                                                     text: str, mrn: str, name: str, card: str, birth: str,
                                                     sex: str) -> None:
    version = lis.version
    message = parse(er7(lis.msh("OML^O21^OML_O21", "C1", "UNICODE UTF-8", version), "PID|1||X^^^HOSP^MR"))
    patient = {"mrn": mrn, "name": name, "id_card": card, "birth_date": birth, "sex": sex}
    order = {"placer_no": placer, "filler_no": filler}
    lines = lines_of(lis, version, control, order, text, patient)
    segments = lis._answer(message, control, order, text, patient).segments
    assume(now_ts() in lines)  # the same second on both sides
    assert segments is not None
    reply = from_fields(segments)
    assert reply.to_er7() == lines
    assert [(s.name, s.index, s.fields) for s in reply.segments] == \
        [(s.name, s.index, s.fields) for s in parse(lines).segments]
