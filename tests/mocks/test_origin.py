"""The Host allow-list, the same-origin check and same-origin redirect targets, without a server."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mocks.transport.origin import HostAllowList, host_name, machine_names, same_origin_path


@pytest.mark.parametrize(("value", "name"), [
    ("127.0.0.1", "127.0.0.1"), ("127.0.0.1:8088", "127.0.0.1"), ("LocalHost:1", "localhost"), ("[::1]", "::1"),
    ("[::1]:8088", "::1"), ("training.local.", "training.local"), ("", None), (None, None), ("a:b", None),
    ("[::1", None), ("host:123456", None), (":80", None), ("[]:80", None),
])
def test_host_header_names(value: str | None, name: str | None) -> None:
    assert host_name(value) == name


@given(st.text(max_size=60))
def test_any_host_header_is_a_name_or_refused(value: str) -> None:
    allowed = HostAllowList.for_bind("127.0.0.1")
    assert allowed.allows(value) == (host_name(value) in allowed.names)


def test_the_default_names_are_loopback_and_the_bound_host() -> None:
    assert HostAllowList.for_bind("127.0.0.1").names == {"127.0.0.1", "localhost", "::1"}
    assert "10.1.2.3" in HostAllowList.for_bind("10.1.2.3").names
    assert "training.local" in HostAllowList.for_bind("127.0.0.1", ["Training.Local"]).names
    assert HostAllowList.for_bind("127.0.0.1", ["*"]).allows("anything.example")


def test_bound_to_every_address_the_machines_own_names_are_allowed() -> None:
    names = HostAllowList.for_bind("0.0.0.0").names
    assert socket.gethostname().lower() in names and names >= machine_names()
    assert "0.0.0.0" not in names


@pytest.mark.parametrize(("origin", "host", "same"), [
    ("http://127.0.0.1:8088", "127.0.0.1:8088", True), ("http://127.0.0.1:8088", "127.0.0.1:9999", False),
    ("http://evil.example", "evil.example", False), ("null", "127.0.0.1", False), ("file://", "127.0.0.1", False),
    ("http://localhost:8088", "LOCALHOST:8088", True),
])
def test_same_origin(origin: str, host: str, same: bool) -> None:
    assert HostAllowList.for_bind("127.0.0.1").same_origin(origin, host) is same


@pytest.mark.parametrize(("candidate", "target"), [
    ("http://127.0.0.1:8088/console/orders/H1%2FORD1", "/console/orders/H1%2FORD1"),
    ("/console/notices", "/console/notices"),
    ("//evil.example/x", "/console/"), ("http://127.0.0.1//evil.example/console", "/console/"),
    ("/console//evil.example", "/console//evil.example"),
    ("/console/../admin", "/console/"), ("/console/%2e%2e/admin", "/console/"), ("/console\\evil", "/console/"),
    ("/console/%0d%0aSet-Cookie:x", "/console/"), ("javascript:alert(1)", "/console/"), ("/other", "/console/"),
    (None, "/console/"), ("http://[::1", "/console/"),
])
def test_redirect_targets_stay_on_the_console(candidate: str | None, target: str) -> None:
    assert same_origin_path(candidate, "/console", "/console/") == target
