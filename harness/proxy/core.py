"""What every proxy shares: its options, its place among the mocks (journal, faults and admin API as theirs), and
`serve`, which starts one until it is interrupted.

A proxy is a `MockService` without a behaviour of its own: the admin API, the journal (bounded, masked when read)
and the faults work on it as on a mock, so a tester can slow or drop a real partner's answers too. Each transport's
proxy (named by its transport descriptor) forwards, checks and records; this module knows none of them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.config import load_config
from harness.contract import recording
from harness.contract.codec import Codec
from harness.contract.findings import Finding, Severity
from harness.contract.interfaces import resolve
from harness.contract.loader import ContractStore
from harness.contract.model import Contract
from harness.contract.transports import Transport, codec, of_interface
from harness.errors import UsageError
from harness.proxy.record import Recorder, journal_view
from harness.report.masking import Masker
from mocks.base import MockService
from mocks.serve import is_loopback, run_until_stopped
from mocks.transport.admin import admin_app
from mocks.transport.journal import DEFAULT_MAX_BYTES
from mocks.transport.origin import HostAllowList
from mocks.transport.runtime import Runtime

ADMIN = "admin"
ROLES = ("partner", "hospital")
DEFAULT_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0
MAX_TIMEOUT_S = 3600.0


@dataclass
class ProxyOptions:
    """What `hih proxy` was asked for."""

    interface: str
    upstream: str
    """`http://HOST:PORT[/PREFIX]` for HTTP interfaces, `HOST:PORT` for MLLP."""
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=dict)
    """The interface's and `admin`'s port (0 or absent: a free one)."""
    record: Path | None = None
    strict: bool = False
    """Refuse messages that break the contract instead of forwarding them."""
    contract: str | None = None
    contracts_dir: Path | None = None
    upstream_role: str = "partner"
    """Who the upstream is: the partner (the hospital connects to the proxy) or, for MLLP, the hospital's own
    listener (the partner connects to the proxy)."""
    timeout_s: float = DEFAULT_TIMEOUT_S
    """The longest wait for the upstream's reply to one message."""
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    allowed_hosts: list[str] = field(default_factory=list)
    journal_bytes: int = DEFAULT_MAX_BYTES
    record_bytes: int = recording.DEFAULT_MAX_BYTES


class Proxy(MockService):
    """Base of the proxies: a MockService whose answers come from the upstream."""

    def __init__(self, contract: Contract, options: ProxyOptions, recorder: Recorder | None = None) -> None:
        self.options = options
        self.codec: Codec = codec(contract.transport)
        self.recorder = recorder
        self.interface = contract.interface
        super().__init__(contract)
        self.journal.max_bytes = options.journal_bytes

    @property
    def direction(self) -> str:
        """The way requests travel through this proxy: from_hospital (to a partner) or to_hospital."""
        return "from_hospital" if self.options.upstream_role == "partner" else "to_hospital"

    @property
    def senders(self) -> tuple[str, str]:
        """Who sends the requests and who the replies."""
        return ("hospital", "partner") if self.options.upstream_role == "partner" else ("partner", "hospital")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "proxy": True, "upstream": self.options.upstream,
                "upstream_role": self.options.upstream_role, "strict": self.options.strict,
                "recording": str(self.options.record) if self.options.record else None}

    def population_data(self) -> dict[str, Any]:
        return {"interface": self.interface, "proxy": True, "upstream": self.options.upstream,
                "note": "a proxy holds no population of its own: the upstream's test environment does"}

    def close(self) -> None:
        """Release what the proxy holds besides its listener (upstream connections)."""


def unreachable(where: str, exc: BaseException) -> Finding:
    """The finding of an upstream that could not be reached or did not answer."""
    reason = f"no answer within the time allowed ({type(exc).__name__})" if isinstance(exc, TimeoutError) \
        else f"{type(exc).__name__}: {exc}"
    return Finding(Severity.ERROR, "", f"upstream {where}: {reason}", "upstream")


def http_upstream(value: str) -> str:
    """`http(s)://HOST[:PORT][/PREFIX]` checked; the base URL without a trailing slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise UsageError(f"--upstream {value!r}: an HTTP interface's upstream is a URL such as http://10.0.0.5:8080 "
                         "(a path prefix may follow)")
    try:
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        raise UsageError(f"--upstream {value!r}: the port is not a number from 1 to 65535") from None
    return value.rstrip("/")


def tcp_upstream(value: str) -> tuple[str, int]:
    """`HOST:PORT` checked."""
    host, sep, port = value.removeprefix("mllp://").rpartition(":")
    host = host.strip("[]")
    if not sep or not host or "/" in host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--upstream {value!r}: an MLLP interface's upstream is HOST:PORT, such as 10.0.0.5:2575")
    return host, int(port)


def _check(options: ProxyOptions, carrier: Transport) -> None:
    if options.upstream_role not in ROLES:
        raise UsageError(f"--upstream-role {options.upstream_role!r}: partner or hospital")
    if options.upstream_role == "hospital" and carrier.wire != "mllp":
        raise UsageError(f"--upstream-role hospital: only HL7 partners call the hospital ({options.interface} is "
                         f"{carrier.name})")
    for flag, value in (("--timeout", options.timeout_s), ("--connect-timeout", options.connect_timeout_s)):
        if not 0 < value <= MAX_TIMEOUT_S:
            raise UsageError(f"{flag} {value:g}: give seconds above 0 and at most {MAX_TIMEOUT_S:g}")
    if options.journal_bytes < 2**20:
        raise UsageError(f"--journal-mib {options.journal_bytes / 2**20:g}: give at least 1 (MiB)")
    if options.record_bytes < 2**20:
        raise UsageError(f"--record-mib {options.record_bytes / 2**20:g}: give at least 1 (MiB)")
    for name in options.ports:
        if name not in (options.interface, ADMIN):
            raise UsageError(f"--port {name}=...: this proxy serves {options.interface} (and {ADMIN})")
    if carrier.wire == "mllp":
        tcp_upstream(options.upstream)
    else:
        http_upstream(options.upstream)


def start(options: ProxyOptions, runtime: Runtime, masker: Masker | None = None) -> Proxy:
    """Check the options, load the contract, start the interface's proxy on `runtime`; UsageError when anything
    is wrong (nothing left running)."""
    _, carrier = of_interface(options.interface)
    _check(options, carrier)
    contract = ContractStore(options.contracts_dir).load(options.interface, options.contract)
    masker = masker or Masker.from_config(load_config().masking)
    recorder = None
    if options.record is not None:
        meta = recording.Meta(options.interface, contract.version, options.upstream, options.upstream_role)
        recorder = Recorder(recording.Writer(options.record, meta, options.record_bytes), contract, masker)
    proxy_class: type[Proxy] = resolve(carrier.proxy)
    proxy = proxy_class(contract, options, recorder)
    try:
        proxy.start(runtime, options.host, options.ports.get(options.interface, 0))
    except BaseException:
        if recorder is not None:
            recorder.close()
        raise
    return proxy


def serve(options: ProxyOptions, announce: Callable[[str], None], stop: threading.Event | None = None) -> None:
    """Start the proxy and its admin API, announce both, forward until `stop` is set or SIGINT/SIGTERM."""
    import os

    token = os.environ.get("HIH_ADMIN_TOKEN")
    if not is_loopback(options.host) and not token:
        raise UsageError(f"--host {options.host} is not loopback: set HIH_ADMIN_TOKEN so the admin API asks for it")
    masker = Masker.from_config(load_config().masking)
    runtime = Runtime().start()
    proxy: Proxy | None = None
    try:
        proxy = start(options, runtime, masker)
        endpoint = proxy.endpoint
        assert endpoint is not None
        notes = [f"proxy to {options.upstream}" + (" (the hospital's listener)" if options.upstream_role == "hospital"
                                                   else ""), f"contract {proxy.contract.version}"]
        if options.record is not None:
            notes.append(f"recording to {options.record}")
        if options.strict:
            notes.append("strict: messages that break the contract are refused")
        announce(f"{options.interface}\t{endpoint.url}\t({', '.join(notes)})")
        hosts = HostAllowList.for_bind(options.host, options.allowed_hosts)
        admin = runtime.serve_http(admin_app({options.interface: proxy}, token if not is_loopback(options.host) else None,
                                             hosts, view=journal_view(masker)),
                                   options.host, options.ports.get(ADMIN, 0))
        shown = f"[{options.host}]" if ":" in options.host else options.host
        announce(f"{ADMIN}\thttp://{shown}:{admin.port}/__hih/")
        announce("ready: press Ctrl-C to stop")
        run_until_stopped(stop or threading.Event(), 1.0, lambda: None)
    finally:
        runtime.stop()
        if proxy is not None:
            proxy.close()
            if proxy.recorder is not None:
                proxy.recorder.close()
                if proxy.recorder.stopped():
                    announce(f"{options.interface}\t{proxy.recorder.stopped()}")


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000

