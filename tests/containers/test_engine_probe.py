"""Whether a Docker engine answers, found out at once: the probe behind the container tests' skip, against a missing
socket, fake engines on a Unix socket, a closed TCP port, and the container tests run where no engine answers.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.containers import DEFAULT_DOCKER_HOST, docker_host, probe_engine
from tests.conftest import ROOT


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # Unix socket paths are limited to about 100 bytes; pytest's tmp_path can be longer
    with tempfile.TemporaryDirectory(prefix="hih-", dir="/tmp") as folder:
        yield Path(folder)


def fake_engine(path: Path, reply: bytes | None) -> threading.Thread:
    """A one-connection server on a Unix socket: reads the request, then answers `reply` (None: stays silent)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        with server:
            connection, _ = server.accept()
            with connection:
                connection.recv(4096)
                if reply is None:
                    time.sleep(1.5)
                else:
                    connection.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_a_missing_socket_is_no_engine_and_says_where(short_dir: Path) -> None:
    url = f"unix://{short_dir}/docker.sock"
    started = time.monotonic()
    probe = probe_engine(url)

    assert time.monotonic() - started < 1
    assert not probe.answers
    assert probe.reason == f"no Docker engine answers at {url} (no such socket)"


def test_an_engine_that_answers_the_ping(short_dir: Path) -> None:
    path = short_dir / "docker.sock"
    thread = fake_engine(path, b"HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nContent-Length: 2\r\n\r\nOK")

    probe = probe_engine(f"unix://{path}")
    thread.join(2)

    assert probe.answers and probe.detail == "HTTP/1.1 200 OK"
    assert probe.reason == f"Docker engine answers at unix://{path}"


def test_a_socket_that_never_answers_gives_up_within_the_timeout(short_dir: Path) -> None:
    path = short_dir / "docker.sock"
    fake_engine(path, None)
    started = time.monotonic()

    probe = probe_engine(f"unix://{path}", timeout=0.3)

    assert time.monotonic() - started < 1
    assert not probe.answers and probe.detail == "no answer to /_ping within 0.3 s"


def test_something_else_on_the_socket_is_no_engine(short_dir: Path) -> None:
    path = short_dir / "docker.sock"
    thread = fake_engine(path, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    probe = probe_engine(f"unix://{path}")
    thread.join(2)

    assert not probe.answers and probe.detail == "/_ping answered 'HTTP/1.1 404 Not Found'"


def test_a_closed_tcp_port_is_no_engine() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()

    probe = probe_engine(f"tcp://127.0.0.1:{port}")

    assert time.monotonic() - started < 1
    assert not probe.answers and probe.reason.startswith(f"no Docker engine answers at tcp://127.0.0.1:{port} (")


def test_where_the_engine_is_looked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert docker_host() == DEFAULT_DOCKER_HOST

    monkeypatch.setenv("DOCKER_HOST", "tcp://build-host:2375")
    assert docker_host() == "tcp://build-host:2375"

    (tmp_path / ".testcontainers.properties").write_text("ryuk.disabled=true\ntc.host=tcp://tc-host:2375\n", encoding="utf-8")
    assert docker_host() == "tcp://tc-host:2375"


def test_the_container_tests_skip_at_once_saying_no_engine_answers(short_dir: Path) -> None:
    """The docker-marked tests as CI runs them on a machine without an engine: every one skipped, with the reason."""
    url = f"unix://{short_dir}/docker.sock"
    environment = {**os.environ, "DOCKER_HOST": url, "HOME": str(short_dir)}
    environment.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-m", "docker", "-rs", "-q",
                           "--durations=0", "--durations-min=0", "tests/containers/test_mock_container.py"],
                          cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 skipped" in done.stdout and "passed" not in done.stdout
    reason = f"no Docker engine answers at {url} (no such socket)"
    skipped = re.findall(r"^SKIPPED \[(\d+)\] (.*)$", done.stdout, re.M)
    assert sum(int(n) for n, line in skipped if line.endswith(reason)) == 9, done.stdout
    durations = [float(line.split("s", 1)[0]) for line in done.stdout.splitlines() if line[:1].isdigit() and "s " in line]
    assert sum(durations) < 1, done.stdout
