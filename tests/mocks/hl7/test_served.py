"""`hih mock serve --interface lis --interface pacs` as a separate process: it prints host:port, an outside MLLP
client (`mllp_send` of the `hl7` package) gets correct acknowledgements from it, and with `--push` it sends
results to a hospital listener on its own."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.contract.hl7.ack import ack_problems
from harness.contract.hl7.charsets import encode_message
from harness.contract.hl7.message import Message, parse
from harness.contract.hl7.mllp import deframe_all, frame
from harness.contract.hl7.mllp_ack import AckBuilder
from harness.contract.hl7.mllp_listener import MllpListener
from tests.contracts.hl7 import messages as m
from tests.forked_hih import ForkedHih
from tests.mocks.mllp.conftest import decoded
from tests.served import end

pytest.importorskip("hl7", reason="the hl7 package (dev extra) is not installed")


class Served:
    """A running `hih mock serve`, its printed lines read on a thread."""

    def __init__(self, *args: str, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "HIH_ADMIN_TOKEN"}
        # forked from the test process's pre-imported one (tests/forked_hih.py): a process of its own, in a session
        # of its own, with its exit status, its signals and its output pipes, without an interpreter's start
        self.process = ForkedHih(["mock", "serve", *args], env, cwd)
        self.lines: queue.Queue[str] = queue.Queue()
        self.printed: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            self.wait_for(lambda line: line.startswith("ready"))
        except BaseException:  # not ready in time (or interrupted): nobody holds this object to stop it later
            self.close()
            raise

    def _read(self) -> None:
        """Queues each printed line, on the reader thread, until the process closes its output."""
        for line in self.process.stdout or []:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, wanted: object, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            for line in self.printed:
                if callable(wanted) and wanted(line):
                    return line
            left = deadline - time.monotonic()
            assert left > 0, f"not printed in time; printed: {self.printed}"
            try:
                self.printed.append(self.lines.get(timeout=min(left, 0.5)))
            except queue.Empty:
                assert self.process.poll() is None, self.process.stderr.read() if self.process.stderr else ""

    def address(self, interface: str) -> tuple[str, int]:
        url = self.wait_for(lambda line: line.startswith(f"{interface}\t")).split("\t")[1]
        assert url.startswith("mllp://127.0.0.1:"), url
        host, _, port = url.removeprefix("mllp://").rpartition(":")
        return host, int(port)

    def stop(self) -> tuple[int, str]:
        """Ctrl-C, as a user stops it: its exit status and what it wrote to stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=10)
        finally:
            end(self.process)  # what did not stop in time, and anything of its group left behind
        stderr = self.process.stderr.read() if self.process.stderr else ""
        self.close()
        return code, stderr

    def close(self) -> None:
        """End the process's group (when still running) and close its pipes once the reader has seen their end."""
        end(self.process)
        self.reader.join(5)  # it ends at the exited process's end of output; closing stdout under it would raise there
        for stream in (self.process.stderr, self.process.stdout):
            if stream:
                stream.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for s in started:  # each one, even when the test failed before stopping it
        s.close()


def mllp_send(port: int, texts: list[str], tmp_path: Path) -> list[Message]:
    capture = tmp_path / "messages.hl7"
    capture.write_bytes(b"".join(frame(t.encode()) for t in texts))
    done = subprocess.run([sys.executable, "-m", "hl7.client", "--file", str(capture), "--port", str(port),
                           "127.0.0.1"], capture_output=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return [decoded(f.payload) for f in deframe_all(done.stdout)]


def test_mllp_send_gets_correct_acks_from_the_served_mocks(served: list[Served], tmp_path: Path) -> None:
    s = Served("--interface", "lis", "--interface", "pacs", cwd=tmp_path)
    served.append(s)
    lis_texts = [m.lis_adt(control="MS1"), m.lis_oml(control="MS2"), m.lis_oml(control="MS3", order_control="CA")]
    acks = mllp_send(s.address("lis")[1], lis_texts, tmp_path)
    assert [a.get("MSA-1") for a in acks] == ["AA", "AA", "AA"]
    assert [a.message_type for a in acks] == ["ACK^A01", "ORL^O22", "ORL^O22"]
    assert [a.get("ORC-1") for a in acks[1:]] == ["OK", "CR"]
    for ack, text in zip(acks, lis_texts, strict=True):
        assert ack_problems(ack, parse(text)) == []

    pacs_texts = [m.pacs_omi(control="MP1"), m.pacs_orm(control="MP2", order_control="CA"), m.lis_oru(control="MP3")]
    acks = mllp_send(s.address("pacs")[1], pacs_texts, tmp_path)
    assert [a.get("MSA-1") for a in acks] == ["AA", "AA", "AR"]  # an LIS result is no PACS message
    for ack, text in zip(acks, pacs_texts, strict=True):
        assert ack_problems(ack, parse(text)) == []

    code, stderr = s.stop()
    assert code == 0 and "Traceback" not in stderr


def test_push_sends_results_to_the_hospital_listener(served: list[Served], tmp_path: Path) -> None:
    received: list[Message] = []
    builder = AckBuilder("HIS", "HOSP")

    def handle(payload: bytes) -> list[bytes]:
        msg = decoded(payload)
        received.append(msg)
        return [encode_message(builder.ack(msg, "AA", charset="UNICODE UTF-8", declared=True).to_er7(),
                               "UNICODE UTF-8")]

    listener = MllpListener(handle)
    host, port = listener.start()
    try:
        s = Served("--interface", "lis", "--push", f"lis={host}:{port}", "--push-every", "0.1", cwd=tmp_path)
        served.append(s)
        assert s.wait_for(lambda line: line.startswith("lis push\t")) == f"lis push\tmllp://{host}:{port} every 0.1 s"
        mllp_send(s.address("lis")[1], [m.lis_oml(control="PUSH1")], tmp_path)
        s.wait_for(lambda line: "sent ORU^R01" in line and line.endswith(": AA") and "-> " in line)
        deadline = time.monotonic() + 10
        while len(received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        code, stderr = s.stop()
    finally:
        listener.close()
    assert [(msg.message_type, msg.get("OBR-25"), msg.get("OBR-2")) for msg in received[:2]] == [
        ("ORU^R01", "P", "HIS20240105001"), ("ORU^R01", "F", "HIS20240105001")]
    assert code == 0 and "Traceback" not in stderr


def test_a_bad_push_address_is_a_usage_error(tmp_path: Path) -> None:
    hih = Path(sys.executable).with_name("hih")
    done = subprocess.run([str(hih), "mock", "serve", "--interface", "lis", "--push", "lis=nowhere"],
                          capture_output=True, text=True, timeout=30, check=False, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["hih: error: --push lis=nowhere: expected HOST:PORT of the hospital's listener"]
