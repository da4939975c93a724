"""Replay over MLLP (HL7 v2): the mock LIS or PACS acknowledges from the recording.

The mock's MLLP server keeps doing what a partner's server does (framing, charsets, duplicates, acknowledgement
modes, faults, the journal); only its handler is wrapped. A message with a recorded answer is checked against the
contract without being acted on, and answered with the recorded acknowledgement or response (ORL^O22 ...): its
MSA-2 set to this message's MSH-10 and its MSH-7 and MSH-10 made afresh by the server, as a partner's would be.
A message without one is the mock's to act on (`--unrecorded contract`) or gets an AE naming the recording
(`--unrecorded error`). What the mock sends on its own (results, reports: `--push`) is its behaviour's, not the
recording's.
"""

from __future__ import annotations

from typing import Any

from harness.contract.findings import Finding, Severity
from harness.contract.hl7.message import Message, parse
from mocks.base import MockService
from mocks.replay.answers import Answers, describe_unrecorded, no_answer_text
from mocks.transport.mllp import MllpExchange, MllpHandler, Reply


class ReplayMllpHandler:
    """An `MllpHandler` answering from the recording, the mock's own handler for everything else."""

    def __init__(self, inner: MllpHandler, answers: Answers, unrecorded: str) -> None:
        self.inner = inner
        self.interface = inner.interface
        self.answers = answers
        self.unrecorded = unrecorded

    def identify(self, message: Message) -> str | None:
        return self.inner.identify(message)

    def screen(self, message: Message) -> list[Finding]:
        return self.inner.screen(message)

    def inspect(self, message: Message, exchange: MllpExchange) -> None:
        self.inner.inspect(message, exchange)

    async def handle(self, message: Message, exchange: MllpExchange) -> Reply:
        match = self.answers.find(exchange.operation, exchange.request_raw)
        if match is None:
            exchange.meta["replay"] = describe_unrecorded(self.answers.folder, exchange.operation, self.unrecorded)
            if self.unrecorded == "contract":
                return await self.inner.handle(message, exchange)
            self.inner.inspect(message, exchange)
            return Reply("AE", [Finding(Severity.ERROR, "", no_answer_text(self.answers.folder, exchange.operation),
                                        "replay")])
        self.inner.inspect(message, exchange)
        exchange.meta["replay"] = match.describe(self.answers.folder)
        response = parse(match.reply.text, match.reply.charset)
        if response.segments and response.segments[0].name == "MSH":
            header = response.segments[0].fields
            for number in (7, 10):  # made afresh by the server, as a partner makes them
                if number < len(header):
                    header[number] = ""
        return Reply(response.get("MSA-1") or "AA", response=response)


def install(mock: MockService, answers: Answers, unrecorded: str) -> None:
    """Put the recording in front of an MLLP mock (a `server` with a `handler`, as the mock LIS and PACS have)."""
    server: Any = getattr(mock, "server", None)
    if server is None or not hasattr(server, "handler"):
        raise TypeError(f"the {mock.interface} mock has no MLLP server to replay on")
    server.handler = ReplayMllpHandler(server.handler, answers, unrecorded)
