"""Soak: hostile input to every mock of `hih mock serve` over real sockets, for minutes, while valid probes check
that each mock still serves; the server's memory is sampled throughout.

```sh
.venv/bin/python bench/hostile_soak.py                          # 120 s, 4 client threads, every mock
.venv/bin/python bench/hostile_soak.py --duration 1800 --threads 8 --json bench/results/soak.json
```
Inputs come from the property-based tests' strategies (tests/mocks/hostile.py), drawn once into a pool per target:
insurance bodies (signed, schema-derived and mangled), blood-centre and maternal-child envelopes broken in tree and
bytes, HL7 messages broken and badly framed over MLLP, console forms with hostile text and headers, admin calls with
hostile bodies and Host names, oversized heads and bodies. A reply is an *undeclared failure* when it is a 5xx that is
not the protocol's declared fault (a SOAP 1.1 Client fault is 500 by the standard), or a dropped connection where an
answer was due. Every 2 s each mock gets a valid request that must succeed. Exit 1 on any undeclared failure or
failed probe. RSS is read from /proc/PID/status of the server process.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from lxml import etree  # noqa: E402

from harness.contract.hl7.mllp import Deframer, frame  # noqa: E402
from harness.contract.loader import ContractStore  # noqa: E402
from harness.contract.signing import tif_headers  # noqa: E402
from harness.contract.soap import spec_of  # noqa: E402
from mocks.insurance import TEST_PAASID, TEST_SECRET  # noqa: E402
from tests.conftest import envelope  # noqa: E402
from tests.contracts.hl7 import messages as hl7  # noqa: E402
from tests.mocks.hostile import broken_envelope, broken_hl7, hostile_text, json_inputs, mangled_json  # noqa: E402

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
INTERFACES = ["insurance", "blood-center", "mch-platform", "lis", "pacs"]


def pool(strategy: st.SearchStrategy[Any], size: int) -> list[Any]:
    """`size` values drawn from a strategy (Hypothesis' generation only: no shrinking, no database)."""
    found: list[Any] = []

    @settings(max_examples=size, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found


def serve(journal_mib: int) -> tuple[subprocess.Popen[str], dict[str, str]]:
    hih = Path(sys.executable).with_name("hih")
    command = [str(hih), "mock", "serve", "--journal-mib", str(journal_mib)]
    for name in INTERFACES:
        command += ["--interface", name]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HIH_ADMIN", "HIH_CONSOLE"))}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or []], daemon=True).start()
    urls: dict[str, str] = {}
    while True:
        line = lines.get(timeout=60).rstrip("\n")
        if "\t" in line:
            urls[line.split("\t")[0]] = line.split("\t")[1]
        if line.startswith("ready"):
            return process, urls


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def soap_fault_declared(body: bytes) -> bool:
    try:
        fault = etree.fromstring(body).find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    except etree.XMLSyntaxError:
        return False
    code = fault.findtext("faultcode") if fault is not None else None
    return bool(code) and (code or "").split(":")[-1].split(".")[0] in ("Client", "VersionMismatch", "MustUnderstand")


class Soak:
    """The targets, their input pools and the tallies."""

    def __init__(self, urls: dict[str, str], size: int) -> None:
        self.urls = urls
        self.store = ContractStore()
        self.tally: Counter[str] = Counter()
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.http = threading.local()
        insurance = self.store.load("insurance")
        self.insurance = urls["insurance"]
        sign_in = httpx.post(f"{self.insurance}/fsi/api/signInSignOutService/signIn", timeout=10,
                             content=json.dumps(envelope("9001", {"signIn": {"opter_no": "1", "ip": "10.0.0.1"}})).encode(),
                             headers={**tif_headers(insurance.signing, TEST_PAASID, TEST_SECRET), "Content-Type": "application/json"})
        self.sign_no = sign_in.json()["output"]["signinoutb"]["sign_no"]
        self.paths = {k: f"{self.insurance}/fsi/api/{op.path}" for k, op in insurance.operations.items()}
        valid = json.dumps(envelope("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "110101199003071234"}})).encode()
        print("drawing input pools ...", file=sys.stderr, flush=True)
        self.schema_bodies = [(op, json.dumps(envelope(op, data, sign_no=self.sign_no), ensure_ascii=False).encode())
                              for op in ("1101", "2201", "2204", "2206", "2207", "2601")
                              for data in pool(json_inputs(insurance, op), max(2, size // 10))]
        self.json_bodies = pool(mangled_json(valid), size)
        self.blood = self._soap_pool("blood-center", "QueryOrderFeedback", {"orderNo": "ORD7001"}, size,
                                     HospitalCode="H32010200001", Token="hih-blood-center-test-token")
        self.mch = self._soap_pool("mch-platform", "Login", {"orgCode": "410105000012", "password": "x"}, size)
        self.soap_paths = {name: spec_of(self.store.load(name)).path for name in ("blood-center", "mch-platform")}
        self.hl7 = {name: pool(broken_hl7(text, lambda t: t.encode("utf-8")), size)
                    for name, text in (("lis", hl7.lis_oml()), ("pacs", hl7.pacs_orm()))}
        self.texts = pool(hostile_text, size)

    def _soap_pool(self, name: str, operation: str, args: dict[str, Any], size: int, **auth: str) -> list[bytes]:
        spec = spec_of(self.store.load(name))
        header = spec.document.types.get_element(spec.auth.header)(**auth) if auth and spec.auth else None
        valid = spec.zeep_operation(operation).input.serialize(**args, _soapheaders=[header] if header else None).content
        return pool(broken_envelope(valid), size)

    # -- one request -----------------------------------------------------------------------------------------------
    def client(self) -> httpx.Client:
        found: httpx.Client | None = getattr(self.http, "client", None)
        if found is None:
            found = self.http.client = httpx.Client(timeout=15)
        return found

    def note(self, target: str, outcome: str, failure: str | None = None) -> None:
        with self.lock:
            self.tally[f"{target} {outcome}"] += 1
            if failure and len(self.failures) < 50:
                self.failures.append(f"{target}: {failure}")

    def http_call(self, target: str, method: str, url: str, soap: bool = False, **kwargs: Any) -> None:
        try:
            response = self.client().request(method, url, **kwargs)
        except httpx.TransportError as exc:
            self.note(target, "dropped", f"no answer ({type(exc).__name__}) to {method} {url}")
            self.http.client = None
            return
        status = response.status_code
        if status >= 500 and not (soap and soap_fault_declared(response.content)):
            self.note(target, f"{status} undeclared", f"{status} {response.text[:200]!r}")
        else:
            self.note(target, str(status))

    def hostile(self, rng: random.Random) -> None:
        kind = rng.choice(["schema", "json", "blood", "mch", "lis", "pacs", "console", "admin", "head"])
        insurance = self.store.load("insurance")
        signed = {**tif_headers(insurance.signing, TEST_PAASID, TEST_SECRET), "Content-Type": "application/json"}
        if kind == "schema":
            op, body = rng.choice(self.schema_bodies)
            self.http_call("insurance", "POST", self.paths[op], content=body, headers=signed)
        elif kind == "json":
            self.http_call("insurance", "POST", self.paths["1101"], content=rng.choice(self.json_bodies),
                           headers={**signed, "Content-Type": rng.choice(["application/json", "text/plain"])})
        elif kind in ("blood", "mch"):
            name = "blood-center" if kind == "blood" else "mch-platform"
            body = rng.choice(self.blood if kind == "blood" else self.mch)
            self.http_call(name, "POST", self.urls[name] + self.soap_paths[name], soap=True, content=body,
                           headers={"Content-Type": "text/xml; charset=utf-8"})
        elif kind in ("lis", "pacs"):
            self.mllp(kind, rng.choice(self.hl7[kind]), rng)
        elif kind == "console":
            text = rng.choice(self.texts)
            form = {"type": rng.choice(["POLICY", "RECALL", "X"]), "title": text, "content": text[::-1], "dins": text[:30]}
            headers = rng.choice([{}, {"Host": "attacker.example"}, {"Origin": "http://evil.example"},
                                  {"Referer": "//evil.example/x"}])
            self.http_call("console", "POST", self.urls["blood-center console"].split(" ")[0] + "notices", data=form,
                           headers=headers, follow_redirects=False)
        elif kind == "admin":
            body = rng.choice([b"[" * 10_000, b'{"kind": "latency", "delay_s": 1e999}', rng.choice(self.texts).encode(),
                               b'{"kind": "reset", "operation": "x", "times": 1}'])
            self.http_call("admin", "POST", self.urls["admin"] + "lis/faults", content=body,
                           headers=rng.choice([{}, {"Host": "attacker.example"}]))
            self.client().delete(self.urls["admin"] + "lis/faults")
        else:
            self.http_call("insurance", "POST", self.paths["9001"], headers={"X-Big": "a" * 40_000}, content=b"{}")

    def mllp(self, name: str, raw: bytes, rng: random.Random) -> None:
        host, port = self.urls[name].removeprefix("mllp://").rsplit(":", 1)
        wire = rng.choice([frame(raw), raw, b"\x0b" + raw, frame(raw) * 3])
        try:
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(wire)
                sock.shutdown(socket.SHUT_WR)
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
        except OSError as exc:
            self.note(name, "dropped", f"MLLP: {type(exc).__name__}: {exc}")
            return
        acks = [f.payload for f in Deframer().feed(data)]
        if wire.startswith(b"\x0b") and wire.endswith(b"\x1c\r") and not acks:
            self.note(name, "unanswered", f"no ACK for a framed message ({len(raw)} bytes)")
        else:
            self.note(name, "acknowledged" if acks else "unframed")

    # -- probes ------------------------------------------------------------------------------------------------------
    def probe(self) -> None:
        checks: dict[str, Callable[[], bool]] = {
            "insurance": lambda: httpx.post(self.paths["9001"], timeout=10, content=json.dumps(envelope(
                "9001", {"signIn": {"opter_no": "1", "ip": "10.0.0.1"}})).encode(), headers={**tif_headers(
                    self.store.load("insurance").signing, TEST_PAASID, TEST_SECRET), "Content-Type": "application/json"}
            ).json()["infcode"] == 0,
            "blood-center": lambda: b"<ns0:ResultCode>0</ns0:ResultCode>" in httpx.post(
                self.urls["blood-center"] + "/BloodCenterService", timeout=10, headers={
                    "Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:hih:blood-center:QueryNotices"'},
                content=self.blood_notices()).content,
            "console": lambda: httpx.get(self.urls["blood-center console"].split(" ")[0], timeout=10).status_code == 200,
            "admin": lambda: httpx.get(self.urls["admin"], timeout=10).status_code == 200,
            "lis": lambda: self.ack_code("lis", hl7.lis_adt(control=f"P{time.time_ns() % 10**9}")) == "AA",
        }
        for name, check in checks.items():
            try:
                ok = check()
            except Exception as exc:  # noqa: BLE001 - a probe that cannot even be made is a failed probe
                ok = False
                self.note(name, "probe error", f"{type(exc).__name__}: {exc}")
            self.note(name, "probe ok" if ok else "probe FAILED", None if ok else "a valid request did not succeed")

    def blood_notices(self) -> bytes:
        return (f'<s:Envelope xmlns:s="{SOAP11}" xmlns:t="urn:hih:blood-center:service"><s:Header><t:AuthHeader>'
                "<t:HospitalCode>H32010200001</t:HospitalCode><t:Token>hih-blood-center-test-token</t:Token>"
                "</t:AuthHeader></s:Header><s:Body><t:QueryNotices><t:since>2000-01-01T00:00:00</t:since>"
                "</t:QueryNotices></s:Body></s:Envelope>").encode()

    def ack_code(self, name: str, text: str) -> str:
        host, port = self.urls[name].removeprefix("mllp://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(frame(text.encode("utf-8")))
            deframer, frames = Deframer(), []
            while not frames:
                frames = deframer.feed(sock.recv(65536))
        for segment in frames[0].payload.split(b"\r"):
            if segment.startswith(b"MSA|"):
                return segment.split(b"|")[1].decode()
        return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--pool", type=int, default=150, help="hostile inputs drawn per target")
    parser.add_argument("--journal-mib", type=int, default=64)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    process, urls = serve(args.journal_mib)
    try:
        soak = Soak(urls, args.pool)
        rss = [(0.0, rss_mib(process.pid))]
        started = time.monotonic()
        stop = threading.Event()

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            while not stop.is_set():
                soak.hostile(rng)

        threads = [threading.Thread(target=worker, args=(args.seed + n,), daemon=True) for n in range(args.threads)]
        for thread in threads:
            thread.start()
        while (elapsed := time.monotonic() - started) < args.duration:
            time.sleep(2.0)
            soak.probe()
            rss.append((round(elapsed, 1), rss_mib(process.pid)))
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        alive = process.poll() is None
    finally:
        process.terminate()
        process.wait(timeout=30)
    requests = sum(v for k, v in soak.tally.items() if "probe" not in k)
    undeclared = sum(v for k, v in soak.tally.items() if "undeclared" in k or "dropped" in k or "unanswered" in k)
    failed_probes = sum(v for k, v in soak.tally.items() if "probe FAILED" in k or "probe error" in k)
    result = {"duration_s": args.duration, "threads": args.threads, "requests": requests,
              "undeclared_failures": undeclared, "failed_probes": failed_probes, "server_alive": alive,
              "rss_start_mib": rss[0][1], "rss_peak_mib": max(r for _, r in rss), "rss_end_mib": rss[-1][1],
              "rss_samples": rss, "tally": dict(sorted(soak.tally.items())), "failures": soak.failures}
    print(json.dumps({k: v for k, v in result.items() if k != "rss_samples"}, ensure_ascii=False, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0 if alive and not undeclared and not failed_probes else 1


if __name__ == "__main__":
    sys.exit(main())
