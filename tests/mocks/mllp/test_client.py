"""The MLLP client: ACK correlation, stale ACKs, reconnects and safe retries, timeouts, charsets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from harness.contract.hl7.ack_mode import AckMode
from harness.contract.hl7.message import parse
from harness.contract.hl7.mllp_client import AckTimeout, ConnectionLost, MllpClient, MllpSyncClient
from tests.contracts.hl7 import messages as m
from tests.mocks.mllp.conftest import Served


def test_retries_resend_the_same_message_and_the_server_processes_it_once(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("no_reply")
    client = served.client(timeout=0.3, retries=1)

    ack = client.send(m.lis_oru(control="RT1"))

    assert ack.code == "AA" and ack.attempts == 2 and served.handler.handled == 1


def test_retries_after_a_reset_reconnect(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("reset")
    client = served.client(retries=2)

    ack = client.send(m.lis_oru(control="RT2"))

    assert ack.code == "AA" and ack.attempts == 2 and client.client.connects == 2
    assert served.handler.handled == 1


def test_a_wrong_msa2_can_be_accepted_knowingly(serve: Callable[..., Served]) -> None:
    served = serve()
    served.inject("wrong_ack_id", message="SOMEONE-ELSE")
    client = served.client()

    ack = client.send(m.lis_oru(control="CK1"), check=False)

    assert ack.message is not None and ack.message.get("MSA-2") == "SOMEONE-ELSE"


def test_enhanced_mode_waits_for_both_acks(serve: Callable[..., Served]) -> None:
    served = serve(ack_mode=AckMode("enhanced"))
    client = served.client()

    ack = client.send(m.lis_oru(control="EN1").replace("|||||CHN|", "|||AL|AL|CHN|"))

    assert ack.codes == ["CA", "AA"] and ack.ok
    none = client.send(m.lis_oru(control="EN2").replace("|||||CHN|", "|||NE|NE|CHN|"))
    assert none.acks == [] and none.code == "" and none.message is None


def test_gb18030_messages_and_bytes(serve: Callable[..., Served]) -> None:
    from harness.contract.hl7.charsets import CharsetPolicy

    served = serve(charset=CharsetPolicy(default="UNICODE UTF-8", accepted=("UNICODE UTF-8", "GB 18030-2000")))
    client = served.client()
    text = m.lis_oru(control="GB1", name="赵六", charset="GB 18030-2000")

    as_text = client.send(text)
    as_bytes = client.send(m.lis_oru(control="GB2", name="赵六", charset="GB 18030-2000").encode("gb18030"))
    as_message = client.send(parse(m.lis_oru(control="GB3", name="赵六", charset="GB 18030-2000")))

    assert [a.code for a in (as_text, as_bytes, as_message)] == ["AA"] * 3
    assert served.wait_exchanges(3)[0].request_raw == text.encode("gb18030")


def test_no_server_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with MllpSyncClient("127.0.0.1", port, connect_timeout=1.0) as client, pytest.raises(ConnectionLost):
        client.send(m.lis_oru(control="X"))


def test_a_silent_server_is_a_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.read(65536):  # reads, never answers, until the client hangs up
                pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with MllpClient("127.0.0.1", port, timeout=0.2) as client:
            with pytest.raises(AckTimeout):
                await client.send(m.lis_oru(control="T1"))
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0.05)  # the handler sees the client's close

    asyncio.run(main())


def test_a_batch_is_one_frame_each_way(serve: Callable[..., Served]) -> None:
    served = serve()
    client = served.client()
    messages = [m.lis_oru(control=f"CB{i}", name="孙七").rstrip("\r") for i in range(3)]

    ack = client.send("\r".join(["BHS|^~\\&|LIS|LAB|HIS|HOSP", *messages, "BTS|3"]) + "\r")

    assert ack.message is not None and ack.message.names()[0] == "BHS"
    assert [s.field(2) for s in ack.message.all("MSA")] == ["CB0", "CB1", "CB2"]
    assert served.handler.handled == 3
