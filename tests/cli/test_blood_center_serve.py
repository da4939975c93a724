"""The training blood centre as a real process: `hih mock serve --interface blood-center --state FILE` announces its
service, WSDL and console; a kill -9 loses nothing it answered, and a restart on the same file carries on."""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import zeep
from zeep.transports import Transport

from mocks.blood_center.service import TEST_HOSPITAL, TEST_TOKEN
from tests.forked_hih import ForkedHih
from tests.served import end

SERVICE = "{urn:hih:blood-center:service}"


class Served:
    """One `hih mock serve` process and what it announced."""

    def __init__(self, state: Path, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HIH_ADMIN", "HIH_CONSOLE", "HIH_BLOOD"))}
        # forked from the test process's pre-imported one (tests/forked_hih.py): a process of its own, in a session
        # of its own, that a signal ends (SIGKILL: no clean shutdown) and whose exit status the test reads
        self.process = ForkedHih(["mock", "serve", "--interface", "blood-center", "--state", str(state)], env, cwd)
        self.printed: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.lines: dict[str, str] = {}
        try:
            self.wait_ready(30.0)
        except BaseException:  # not ready in time (or interrupted): nobody holds this object to stop it later
            self.stop()
            raise
        self.base = self.lines["blood-center"].split("\t")[0]
        self.service = f"{self.base}/BloodCenterService"

    def _read(self) -> None:
        """Queues each printed line, on the reader thread, until the process closes its output."""
        for line in self.process.stdout or []:
            self.printed.put(line)

    def wait_ready(self, timeout_s: float) -> None:
        """Read the announced lines into `lines` ({label: rest}) up to `ready`; queue.Empty after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while "ready" not in self.lines:
            line = self.printed.get(timeout=max(0.1, deadline - time.monotonic())).rstrip("\n")
            name, _, rest = line.partition("\t")
            self.lines[name.split(":")[0]] = rest

    def client(self) -> tuple[zeep.Client, Any]:
        client = zeep.Client(f"{self.service}?wsdl", transport=Transport(timeout=10, operation_timeout=10))
        return client, client.get_element(f"{SERVICE}AuthHeader")(HospitalCode=TEST_HOSPITAL, Token=TEST_TOKEN)

    def stop(self, sig: int = signal.SIGINT) -> int:
        """`sig` to the server, then its group ended (`end`: what did not stop in time is killed)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=10)
        finally:
            end(self.process)
        self.reader.join(5)  # it ends at the exited process's end of output; closing stdout under it would raise there
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()
        return code


def order(number: str) -> dict[str, Any]:
    return {"orderNo": number, "urgency": "ROUTINE", "wantedAt": "2026-01-01T10:00:00", "department": "骨科",
            "orderedBy": "孙医生", "item": [{"lineNo": 1, "productCode": "E0001", "abo": "O", "rhd": "POS", "quantity": 2, "unit": "U"}]}


def test_the_training_server_survives_kill_9_with_its_orders(tmp_path: Path) -> None:
    state = tmp_path / "training.sqlite"
    first = Served(state, tmp_path)
    try:
        assert first.lines["blood-center"].endswith(f"(contract 2025.1, state in {state})")
        assert first.lines["blood-center console"] == f"{first.base}/console/"
        assert first.lines["blood-center wsdl"] == f"{first.service}?wsdl"
        client, header = first.client()
        for number in ("TRAIN001", "TRAIN002", "TRAIN003"):
            assert client.service.SubmitBloodOrder(order=order(number), _soapheaders=[header]).ResultCode == "0"
        with httpx.Client(base_url=first.base, timeout=10) as web:
            for action in ("accept", "issue"):
                assert web.post(f"/console/orders/{quote(TEST_HOSPITAL + '/TRAIN002')}/{action}").status_code == 303
            assert web.post(f"/console/orders/{quote(TEST_HOSPITAL + '/TRAIN003')}/accept").status_code == 303
        issued = client.service.DownloadIssuedUnits(orderNo="TRAIN002", _soapheaders=[header]).issue[0]
    finally:
        first.stop(signal.SIGKILL)  # no clean shutdown, no chance to flush anything

    second = Served(state, tmp_path)
    try:
        client, header = second.client()
        statuses = {n: client.service.QueryOrderFeedback(orderNo=n, _soapheaders=[header]).feedback.status
                    for n in ("TRAIN001", "TRAIN002", "TRAIN003")}
        assert statuses == {"TRAIN001": "RECEIVED", "TRAIN002": "ISSUED", "TRAIN003": "ACCEPTED"}
        again = client.service.DownloadIssuedUnits(orderNo="TRAIN002", _soapheaders=[header]).issue[0]
        assert (again.issueNo, [u.din for u in again.unit]) == (issued.issueNo, [u.din for u in issued.unit])
        assert client.service.SubmitBloodOrder(order=order("TRAIN001"), _soapheaders=[header]).status == "RECEIVED"
        changed = order("TRAIN001")
        changed["urgency"] = "URGENT"
        assert client.service.SubmitBloodOrder(order=changed, _soapheaders=[header]).ResultCode == "2001"
        page = httpx.get(f"{second.base}/console/", timeout=10).text
        assert all(n in page for n in ("TRAIN001", "TRAIN002", "TRAIN003"))
    finally:
        code = second.stop()
    assert code == 0
