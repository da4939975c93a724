"""The mock LIS's light way for a new order (`LisMock._new_order`) answers and keeps what the full way does.

Two mock LIS on real sockets, one taking the light way (the default) and one every order the full way
(`light = False`), get the same seeded corpus of orders over MLLP: new orders of a few patients (escaped delimiters,
Chinese names, the ID card number in PID-3 or PID-19), placer numbers sent again (UA),
cancels held and not held, messages sent again with their MSH-10 (duplicates), and broken orders (a required field
emptied, no PV1, two requests, an unknown segment, an unaccepted version, another message type, other
delimiters). Their replies (but
for the acknowledgement's own MSH-10 and the times), their journals and their stores are the same.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

import pytest

from harness.contract.hl7.mllp_ack import codec_of
from harness.contract.hl7.mllp_client import MllpSyncClient
from harness.contract.loader import ContractStore
from mocks.hl7_partner import now_ts
from mocks.lis import LisMock
from mocks.transport.mllp import MllpExchange
from mocks.transport.runtime import Runtime

PATIENTS = [
    ("0001234567", "张三", "110101199003071234", "M", "O", "V20240105001"),
    ("0007654321", "李四", "", "F", "I", "V1"),
    ("00012\\F\\99", "王\\S\\五", "110101198001010011", "F", "O", "V2"),
    ("0005555555", "赵六", "110101197505050022", "M", "I", "V3"),
]
TESTS = ["CBC^血常规^L", "K^血钾^L", "GLU^葡萄糖^L", "X\\T\\Y^其他^L"]
ACK_ID = re.compile(r"A\d{18}")
STAMP = re.compile(r"\d{14}")


def masked(text: str) -> str:
    """A reply with what differs between two mocks by design masked: the ACK's MSH-10 and the times."""
    return STAMP.sub("<time>", ACK_ID.sub("<ack-id>", text))


class Corpus:
    """Orders for one contract, drawn from a seeded generator."""

    def __init__(self, version: str, kind: str, seed: int) -> None:
        self.version = version
        self.kind = kind
        self.random = random.Random(seed)
        self.sent: list[str] = []
        self.placers: list[str] = []
        self.number = 0

    def header(self, control: str, kind: str | None = None, version: str | None = None) -> str:
        structure = {"OML^O21": "OML^O21^OML_O21", "ORM^O01": "ORM^O01^ORM_O01"}[self.kind]
        charset = "UNICODE UTF-8" if self.version == "2.5.1" else "GB 18030-2000"
        return (f"MSH|^~\\&|HIS|HOSP|LIS|LAB|{now_ts()}||{kind or structure}|{control}|P|{version or self.version}"
                f"|||||CHN|{charset}")

    def patient(self) -> list[str]:
        mrn, name, card, sex, klass, visit = self.random.choice(PATIENTS)
        ids = f"{mrn}^^^HOSP^MR" + (f"~{card}^^^CHN^NNCHN" if card and self.version == "2.5.1" else "")
        pid = f"PID|1||{ids}||{name}||19900307|{sex}"
        if self.version == "2.4" and card:
            pid += "|" * 11 + card
        return [pid, f"PV1|1|{klass}|NEI^101^3" + "|" * 16 + visit]

    def order(self, control: str, order_control: str, placer: str) -> list[str]:
        requests = [self.random.choice(TESTS)]
        if self.version == "2.5.1":
            lines = [self.header(control), *self.patient(),
                     f"ORC|{order_control}|{placer}|||||||20240105080000|||D001^李医生",
                     "TQ1|1||||||20240105083000|||R"]
            lines += [f"OBR|{n}|{placer}||{test}" + "|" * 12 + "D001^李医生" for n, test in enumerate(requests, 1)]
            lines.append("SPM|1|S20240105001||BLD^全血|||||||||||||20240105075500")
        else:
            lines = [self.header(control), *self.patient(),
                     f"ORC|{order_control}|{placer}|||||^^^20240105083000^^R||20240105080000"]
            lines += [f"OBR|{n}|{placer}||{test}" + "|" * 11 + "BLD&全血" for n, test in enumerate(requests, 1)]
        return lines

    def next(self) -> str:
        """The next message of the corpus."""
        self.number += 1
        control = f"HIS{self.number:05d}"
        roll = self.random.random()
        if self.sent and roll < 0.1:  # a message sent again with its MSH-10
            return self.random.choice(self.sent)
        order_control = "NW"
        if self.placers and roll < 0.25:  # a placer number sent before: UA, or a new order after a cancel
            placer = self.random.choice(self.placers)
        elif self.placers and roll < 0.35:  # a cancel, of an order held or not
            order_control = "CA"
            placer = self.random.choice(self.placers) if self.random.random() < 0.7 else f"NOTHELD{self.number}"
        else:
            placer = f"P{self.number:05d}"
            self.placers.append(placer)
        lines = self.order(control, order_control, placer)
        if 0.35 <= roll < 0.5:
            lines = self.broken(lines, control)
        text = "\r".join(lines) + "\r"
        self.sent.append(text)
        return text

    def broken(self, lines: list[str], control: str) -> list[str]:
        how = self.random.choice(["pid3", "unknown", "version", "type", "obr4", "delimiters", "orc1", "no pv1",
                                  "two requests"])
        if how == "pid3":
            lines = [re.sub(r"^PID\|1\|\|[^|]*", "PID|1||", line) for line in lines]
        elif how == "unknown":
            lines = [*lines[:2], "ZXX|1|extra", *lines[2:]]
        elif how == "version":
            lines = [self.header(control, version="2.9"), *lines[1:]]
        elif how == "type":
            lines = [self.header(control, kind="ORU^R01^ORU_R01"), *lines[1:]]
        elif how == "obr4":
            lines = [re.sub(r"^(OBR\|\d+\|[^|]*\|\|)[^|]*", r"\1", line) for line in lines]
        elif how == "delimiters":  # `#` for `^` throughout: valid, and not the light way's delimiters
            lines = [line.replace("^", "#").replace("MSH|#~\\&", "MSH|#~\\&") for line in lines]
        elif how == "no pv1":
            lines = [line for line in lines if not line.startswith("PV1")]
        elif how == "two requests":
            lines = [*lines, *[line.replace("OBR|1|", "OBR|2|") for line in lines if line.startswith("OBR")]]
        else:
            lines = [re.sub(r"^ORC\|[A-Z]*", "ORC|XO", line) for line in lines]
        return lines


def served(runtime: Runtime, store: ContractStore, version: str, light: bool) -> LisMock:
    mock = LisMock(store.load("lis", version))
    mock.light = light
    mock.start(runtime)
    return mock


@pytest.fixture(scope="module", params=["2024.1", "2023.1"])
def pair(request: pytest.FixtureRequest, runtime: Runtime, store: ContractStore) -> Iterator[tuple[LisMock, LisMock]]:
    light, full = served(runtime, store, request.param, True), served(runtime, store, request.param, False)
    yield light, full
    for mock in (light, full):
        mock.reset()
        if mock._listener is not None:
            runtime.call(mock._listener.stop())


def journal_view(mock: LisMock) -> list[dict[str, Any]]:
    """The journal as JSON, with what differs by design masked (ids, times, peers' ports, the ACK's MSH-10)."""
    out = []
    for entry in mock.journal.entries():
        assert isinstance(entry, MllpExchange)
        row = entry.to_dict()
        for key in ("id", "started", "duration_ms", "peer"):
            row.pop(key)
        row["meta"].pop("duplicate_of", None)  # exchange ids
        raw = entry.response_raw
        row["response_raw"] = masked(raw.decode(codec_of(entry.charset))) if raw is not None else None
        row["response"] = masked(repr(row["response"]))
        row["request_findings"] = [masked(repr(f)) for f in row["request_findings"]]
        out.append(row)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_light_way_answers_journals_and_keeps_what_the_full_way_does(pair: tuple[LisMock, LisMock],
                                                                           seed: int) -> None:
    light, full = pair
    for mock in pair:
        mock.reset()
    assert light.light and not full.light
    assert light.endpoint is not None and full.endpoint is not None
    corpus = Corpus(light.version, light.order_type, seed)
    clients = [MllpSyncClient("127.0.0.1", m.endpoint.port, timeout=5.0, connect_timeout=2.0)  # type: ignore[union-attr]
               for m in pair]
    codes: set[str] = set()
    try:
        for _ in range(160):
            message = corpus.next()
            got = [masked(c.send(message, check=False, retries=0).raw.decode("utf-8", "replace")) for c in clients]
            assert got[0] == got[1], message
            orc = re.search(r"\rORC\|([A-Z]*)\|", got[0])
            codes.add(orc.group(1) if orc else re.search(r"\rMSA\|([A-Z]*)\|", got[0]).group(1))  # type: ignore[union-attr]
    finally:
        for client in clients:
            client.close()
    assert {"OK", "UA", "CR", "UC", "AE", "AR"} <= codes  # the corpus reached each answer
    assert journal_view(light) == journal_view(full)
    assert light.orders() == full.orders() and light.patients() == full.patients()
    assert any(order["status"] == "cancelled" for order in light.orders())
    assert light._patients and not full._patients  # the light way was taken, and only by the light mock
