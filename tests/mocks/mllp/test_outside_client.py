"""An outside MLLP client, the `hl7` package (python-hl7): its `mllp_send` program and its asyncio client."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.contract.hl7.ack import ack_problems
from harness.contract.hl7.message import parse
from harness.contract.hl7.mllp import deframe_all, frame
from tests.contracts.hl7 import messages as m
from tests.mocks.mllp.conftest import Served, decoded

hl7 = pytest.importorskip("hl7", reason="the hl7 package (dev extra) is not installed")


def test_mllp_send_gets_correct_acks_on_one_connection(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve()
    texts = [m.lis_oru(control=f"MS{i}", name="张三") for i in range(3)]
    capture = tmp_path / "results.hl7"
    capture.write_bytes(b"".join(frame(t.encode()) for t in texts))

    done = subprocess.run([sys.executable, "-m", "hl7.client", "--file", str(capture), "--port", str(served.port),
                           "127.0.0.1"], capture_output=True, timeout=20, check=False)

    assert done.returncode == 0, done.stderr.decode(errors="replace")
    acks = [decoded(f.payload) for f in deframe_all(done.stdout)]
    assert [a.get("MSA-1") for a in acks] == ["AA"] * 3
    for ack, text in zip(acks, texts, strict=True):
        assert ack_problems(ack, parse(text)) == []
    assert {e.meta["connection"] for e in served.wait_exchanges(3)} == {1}  # mllp_send keeps one connection


def test_the_asyncio_client_of_python_hl7(serve: Callable[..., Served]) -> None:
    served = serve()
    from hl7.mllp import open_hl7_connection

    async def main() -> list[str]:
        reader, writer = await open_hl7_connection("127.0.0.1", served.port, encoding="utf-8")
        codes = []
        try:
            for i in range(5):
                writer.writemessage(hl7.parse(m.lis_oru(control=f"PY{i}", name="李四")))
                await writer.drain()
                ack = await asyncio.wait_for(reader.readmessage(), 2)
                codes.append(f"{ack.segment('MSA')[1]}:{ack.segment('MSA')[2]}")
        finally:
            writer.close()
            await writer.wait_closed()
        return codes

    assert asyncio.run(main()) == [f"AA:PY{i}" for i in range(5)]
