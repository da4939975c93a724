"""A defective LIS/PACS connector planted for hih's own runner tests: it takes whatever acknowledgement comes
back as the answer to what it sent, without comparing MSA-2 with the MSH-10 (someone else's ACK counts)."""

from __future__ import annotations

from typing import Any

from connectors.lis import LisConnector
from connectors.pacs import PacsConnector
from harness.contract.hl7.charsets import encode_message
from harness.contract.hl7.mllp_client import Ack
from harness.ports.hl7 import Hl7Settings


class _AnyAck:
    client: Any
    charset: str

    def send(self, text: str, charset: str | None = None) -> Ack:
        ack: Ack = self.client.send(encode_message(text, charset or self.charset), check=False)
        return ack


class Lis(_AnyAck, LisConnector):
    pass


class Pacs(_AnyAck, PacsConnector):
    pass


def make_lis(settings: Hl7Settings) -> Any:
    return Lis(settings)


def make_pacs(settings: Hl7Settings) -> Any:
    return Pacs(settings)
