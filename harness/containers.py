"""hih's mocks in a container, for tests that want them out of process (the `[containers]` extra: testcontainers).

`probe_engine()` says, without testcontainers and within half a second, whether a Docker engine answers where
testcontainers would look for it (`tc.host` in ~/.testcontainers.properties, else DOCKER_HOST, else the local
socket); tests skip with its `reason` where none does. `MockContainer` builds the image from the project's
Dockerfile, starts it serving the partners asked for (all five by default) with a fresh admin token, waits until
the admin API answers, and gives the mocks' addresses:

    with MockContainer(["blood-center"]) as mocks:
        wsdl = mocks.url("blood-center") + "/BloodCenterService?wsdl"
        httpx.get(mocks.admin_url + "blood-center/journal", headers=mocks.admin_headers)
    with MockContainer(["lis"]) as mocks:
        host, port = mocks.address("lis")        # MLLP

`harness.container_fixtures` has one pytest fixture per partner built on it.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from harness.contract.interfaces import INTERFACES
from harness.contract.transports import TRANSPORTS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DEFAULT_TAG = "hih-mocks:dev"
IMAGE_PORTS = {**{name: i.port for name, i in INTERFACES.items()}, "admin": 8081}
"""The ports the image binds (and EXPOSEs): one per partner (its interface descriptor's `port`), and the admin API."""
MLLP = tuple(name for name, i in INTERFACES.items() if TRANSPORTS[i.transport].wire == "mllp")
"""The partners that speak MLLP (an address, not a URL)."""


@dataclass(frozen=True)
class EngineProbe:
    """Where the Docker engine was looked for, whether it answered `GET /_ping`, and what happened."""

    url: str
    answers: bool
    detail: str

    @property
    def reason(self) -> str:
        return f"Docker engine answers at {self.url}" if self.answers else f"no Docker engine answers at {self.url} ({self.detail})"


def docker_host() -> str:
    """The engine's address as testcontainers resolves it: tc.host, DOCKER_HOST, or the local socket."""
    properties = Path.home() / ".testcontainers.properties"
    try:
        for line in properties.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() == "tc.host" and value.strip():
                return value.strip()
    except OSError:
        pass
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def probe_engine(url: str | None = None, timeout: float = 0.5) -> EngineProbe:
    """Ask the engine at `url` (default: `docker_host()`) for `/_ping`; never takes much longer than `timeout`."""
    url = url or docker_host()
    parts = urlsplit(url)
    try:
        if parts.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(parts.path)
            except OSError:
                sock.close()
                raise
        elif parts.scheme in ("tcp", "http", "https"):
            sock = socket.create_connection((parts.hostname or "localhost", parts.port or 2375), timeout=timeout)
            if parts.scheme == "https" or os.environ.get("DOCKER_TLS_VERIFY"):
                sock.close()  # a TLS endpoint: the port is open; testcontainers does the handshake
                return EngineProbe(url, True, "TLS port open")
        else:
            return EngineProbe(url, True, f"{parts.scheme}:// is not probed; testcontainers will try it")
    except FileNotFoundError:
        return EngineProbe(url, False, "no such socket")
    except PermissionError:
        return EngineProbe(url, False, "permission denied on the socket")
    except TimeoutError:
        return EngineProbe(url, False, f"no connection within {timeout} s")
    except OSError as exc:
        return EngineProbe(url, False, exc.strerror or type(exc).__name__)
    try:
        with sock:
            sock.settimeout(timeout)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = b""
            deadline = time.monotonic() + timeout
            while b"\r\n\r\n" not in reply and time.monotonic() < deadline:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
    except TimeoutError:
        return EngineProbe(url, False, f"no answer to /_ping within {timeout} s")
    except OSError as exc:
        return EngineProbe(url, False, exc.strerror or type(exc).__name__)
    status = reply.split(b"\r\n", 1)[0].decode("latin-1")
    if status.startswith("HTTP/") and status.split()[1:2] == ["200"]:
        return EngineProbe(url, True, status)
    return EngineProbe(url, False, f"/_ping answered {status!r}" if status else "the connection closed without an answer")


class MockContainer:
    """The mocks' image, built from `context` (the project's Dockerfile) unless `image` names one, run with a token."""

    def __init__(self, interfaces: list[str] | tuple[str, ...] = (), context: Path = PROJECT_ROOT,
                 tag: str = DEFAULT_TAG, image: str | None = None, token: str | None = None,
                 ready_timeout: float = 60.0) -> None:
        unknown = [name for name in interfaces if name not in IMAGE_PORTS or name == "admin"]
        if unknown:
            raise KeyError(f"the image serves no {unknown[0]!r} (it serves {', '.join(self.partners())})")
        self.interfaces = tuple(interfaces) or self.partners()
        self.context = context
        self.tag = image or tag
        self.build = image is None
        self.token = token or secrets.token_urlsafe(24)
        self.ready_timeout = ready_timeout
        self.container: Any = None

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> MockContainer:
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.image import DockerImage

        if self.build:
            DockerImage(path=str(self.context), tag=self.tag, clean_up=False).build()
        container = DockerContainer(self.tag).with_env("HIH_ADMIN_TOKEN", self.token)
        container = container.with_command(list(self.interfaces))
        container = container.with_exposed_ports(*(IMAGE_PORTS[name] for name in (*self.interfaces, "admin")))
        self.container = container.start()
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.container is not None:
            self.container.stop()
            self.container = None

    def __enter__(self) -> MockContainer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- where things are --------------------------------------------------------------------------------------
    @staticmethod
    def partners() -> tuple[str, ...]:
        return tuple(name for name in IMAGE_PORTS if name != "admin")

    def _served(self, name: str) -> None:
        if name not in self.interfaces:
            raise KeyError(f"this container serves no {name!r} (it serves {', '.join(self.interfaces)})")

    def address(self, interface: str) -> tuple[str, int]:
        """Host and port of one mock as seen from the host (for the MLLP partners, where a URL does not apply)."""
        if interface != "admin":
            self._served(interface)
        if self.container is None:
            raise RuntimeError("the mock container is not running")
        return self.container.get_container_host_ip(), int(self.container.get_exposed_port(IMAGE_PORTS[interface]))

    def _base(self, name: str) -> str:
        host, port = self.address(name)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def url(self, interface: str) -> str:
        """The base URL of an HTTP mock (insurance, blood-center, mch-platform) as a connector on the host reaches it."""
        if interface in MLLP:
            raise KeyError(f"{interface} speaks MLLP: use address({interface!r})")
        self._served(interface)
        return self._base(interface)

    @property
    def admin_url(self) -> str:
        return self._base("admin") + "/__hih/"

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def health(self) -> str | None:
        """Docker's view of the image's HEALTHCHECK: starting, healthy or unhealthy."""
        if self.container is None:
            return None
        wrapped = self.container.get_wrapped_container()
        wrapped.reload()
        status = (wrapped.attrs.get("State", {}).get("Health") or {}).get("Status")
        return str(status) if status else None

    def logs(self) -> str:
        if self.container is None:
            return ""
        out, err = self.container.get_logs()
        return (out + err).decode("utf-8", "replace")

    def _wait_until_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + self.ready_timeout
        problem = "not started"
        while time.monotonic() < deadline:
            try:
                reply = httpx.get(self.admin_url, headers=self.admin_headers, timeout=2, trust_env=False)
                if reply.status_code == 200:
                    return
                problem = f"admin API answered {reply.status_code}"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            time.sleep(0.25)
        raise TimeoutError(f"the mock container was not ready within {self.ready_timeout} s ({problem}); its log:\n{self.logs()}")
