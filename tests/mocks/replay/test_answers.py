"""How a replaying mock finds the recorded answer for a request (`mocks.replay.answers`), on recordings written by
`harness.contract.recording.Writer`: volatile fields never prevent a match, any other changed field does unless the
contract's correlation keys agree, recorded answers are given in order, and a recording of another interface or a
masked one without masking rules is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.contract import recording
from harness.contract.loader import ContractStore
from harness.contract.model import Contract
from harness.errors import UsageError
from mocks.replay.answers import Answers
from tests.conftest import CONTRACTS, envelope


@pytest.fixture(scope="module")
def contract() -> Contract:
    return ContractStore(CONTRACTS).load("insurance", "2025.1")


def person_query(certno: str, **changed: Any) -> dict[str, Any]:
    body = envelope("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "psn_cert_type": "01",
                                      "certno": certno, **changed}}, sign_no="S1")
    return body


def write(folder: Path, contract: Contract, pairs: list[tuple[dict[str, Any], dict[str, Any]]],
          masked: bool = False) -> Path:
    writer = recording.Writer(folder, recording.Meta("insurance", contract.version, "http://upstream", masked=masked))
    for number, (request, reply) in enumerate(pairs, start=1):
        messages = []
        for direction, sender, body in (("request", "hospital", request), ("reply", "partner", reply)):
            text = json.dumps(body, ensure_ascii=False)
            messages.append(recording.Message(number, recording.now(), direction, sender, "1101", text,
                                              text.encode("utf-8")))
        writer.write(number, messages)
    writer.close()
    return folder


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def test_a_request_differing_only_in_volatile_fields_matches_by_fields(tmp_path: Path, contract: Contract) -> None:
    folder = write(tmp_path / "rec", contract, [(person_query("A1"), {"infcode": 0, "output": {"n": 1}})])
    answers = Answers(contract, folder)
    again = person_query("A1")  # a fresh msgid and inf_time

    match = answers.find("1101", raw(again))

    assert again["msgid"] != json.loads(recording.read(folder)[1][0].request.text)["msgid"]
    assert match is not None and match.by == "fields" and match.differing == []
    assert json.loads(match.reply.text)["output"] == {"n": 1}


def test_a_changed_field_matches_by_the_correlation_keys_and_names_what_differed(tmp_path: Path,
                                                                                 contract: Contract) -> None:
    folder = write(tmp_path / "rec", contract, [(person_query("A1"), {"infcode": 0, "output": {"n": 1}})])
    answers = Answers(contract, folder)

    same_person = answers.find("1101", raw(person_query("A1", psn_name="张三")))
    other_person = answers.find("1101", raw(person_query("B2")))

    assert same_person is not None and same_person.by == "correlation"
    assert same_person.differing == ["/input/data/psn_name"]
    assert other_person is None, "another certificate number is another person: no recorded answer"
    assert answers.find("2201", raw(person_query("A1"))) is None, "another transaction"


def test_recorded_answers_are_given_in_order_then_the_last_again(tmp_path: Path, contract: Contract) -> None:
    query = person_query("A1")
    folder = write(tmp_path / "rec", contract, [(query, {"output": {"n": 1}}), (query, {"output": {"n": 2}})])
    answers = Answers(contract, folder)

    given = [json.loads(m.reply.text)["output"]["n"] for m in (answers.find("1101", raw(person_query("A1")))
                                                               for _ in range(3)) if m is not None]

    assert given == [1, 2, 2]
    assert len(answers) == 2


def test_a_recording_of_another_interface_or_masked_without_rules_is_refused(tmp_path: Path,
                                                                              contract: Contract) -> None:
    folder = write(tmp_path / "rec", contract, [(person_query("A1"), {"output": {}})], masked=True)
    lis = ContractStore(CONTRACTS).load("lis")

    with pytest.raises(UsageError, match="a recording of insurance, not of lis"):
        Answers(lis, folder)
    with pytest.raises(UsageError, match="no masking rules"):
        Answers(contract, folder)


def test_replay_is_served_by_one_process(tmp_path: Path, contract: Contract) -> None:
    """`--replay` with `--workers`: each worker would keep its own place in the recording, so it is refused before
    anything starts (one line, exit 2), not served out of step."""
    from harness.cli import main

    folder = write(tmp_path / "rec", contract, [(person_query("330106199001011234"), {"infcode": 0, "output": {}})])
    with pytest.raises(UsageError, match="--replay answers from one process: leave out --workers"):
        from mocks.serve import ServeOptions, serve

        serve(ServeOptions(interfaces=["insurance"], workers=2, replay=[folder], contracts_dir=CONTRACTS), print)
    assert main(["mock", "serve", "--interface", "insurance", "--workers", "2", "--replay", str(folder)]) == 2
