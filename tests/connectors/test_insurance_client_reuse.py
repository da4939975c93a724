"""The insurance connector's httpx client handed from a closed connector to the next one (one a scenario in a run),
over the real mock's socket: the next scenario still starts clean after a fault that closed connections."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from connectors import insurance
from connectors.insurance import InsuranceConnector
from harness.ports.insurance import Certificate, InsuranceSettings, Person, Unavailable
from mocks.insurance import TEST_PAASID, TEST_SECRET, InsuranceMock


def settings_of(mock: InsuranceMock, timeout_s: float = 0.5) -> InsuranceSettings:
    assert mock.endpoint is not None
    return InsuranceSettings(base_url=mock.endpoint.url, paasid=TEST_PAASID, secret=TEST_SECRET, timeout_s=timeout_s,
                             contract_folder=str(mock.contract.folder), contract_version=mock.contract.version)


@pytest.fixture(autouse=True)
def no_idle_clients() -> Iterator[None]:
    insurance._IDLE.close_all()
    yield
    insurance._IDLE.close_all()


def look_up(connector: InsuranceConnector, mock: InsuranceMock) -> Person:
    seeded = mock.person("employee")
    return connector.query_person(Certificate("03", seeded.card_no, seeded.card_sn))


def peers(mock: InsuranceMock) -> set[str]:
    return {e.peer for e in mock.exchanges()}


def test_the_next_connector_takes_the_closed_ones_client_and_its_connection(mock: InsuranceMock) -> None:
    first = InsuranceConnector(settings_of(mock))
    look_up(first, mock)
    first.http.cookies.set("left", "behind")
    client, before = first.http, peers(mock)
    first.close()
    first.close()  # a second close does not close a client another connector holds by then
    mock.reset()

    second = InsuranceConnector(settings_of(mock))
    try:
        person = look_up(second, mock)
        assert second.http is client and not client.is_closed
        assert not second.http.cookies, "nothing of the connector before but the client"
        assert second.sign_no and [e.operation for e in mock.exchanges()] == ["9001", "1101"], "its own session"
        assert peers(mock) == before, "the same keep-alive connection"
        assert person.balance > 0
    finally:
        second.close()


def test_connectors_at_the_same_time_each_have_a_client_and_other_settings_another(mock: InsuranceMock,
                                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    one, two = InsuranceConnector(settings_of(mock)), InsuranceConnector(settings_of(mock))
    try:
        assert one.http is not two.http
        look_up(one, mock)
        look_up(two, mock)
    finally:
        one.close()
        two.close()
    slower = InsuranceConnector(settings_of(mock, timeout_s=0.7))
    monkeypatch.setenv("NO_PROXY", "example.org")  # a proxy setting made since: a client built under it
    proxied = InsuranceConnector(settings_of(mock))
    try:
        assert slower.http not in (one.http, two.http) and slower.http.timeout.read == 0.7
        assert proxied.http not in (one.http, two.http, slower.http)
        look_up(proxied, mock)
    finally:
        slower.close()
        proxied.close()


@pytest.mark.parametrize("kind", ["reset", "no_reply", "malformed"])
def test_a_scenario_after_a_fault_that_broke_the_connection_passes(mock: InsuranceMock, kind: str) -> None:
    first = InsuranceConnector(settings_of(mock, timeout_s=0.3))
    look_up(first, mock)
    mock.inject(kind, operation="1101", times=None)
    with pytest.raises(Unavailable):
        look_up(first, mock)
    first.close()
    mock.reset()  # the next scenario's mock

    second = InsuranceConnector(settings_of(mock, timeout_s=0.3))
    try:
        assert second.http is first.http
        person = look_up(second, mock)
        assert person.balance > 0
        assert [e.operation for e in mock.exchanges()] == ["9001", "1101"]
        assert all(e.fault is None for e in mock.exchanges())
    finally:
        second.close()


def test_a_scenario_after_the_platform_closed_its_idle_connection_passes(mock: InsuranceMock) -> None:
    first = InsuranceConnector(settings_of(mock))
    look_up(first, mock)
    used = peers(mock)
    first.close()  # its connection idle in the client handed on
    mock.reset()
    mock.inject("refuse", window_s=0.3)  # the platform closes every open connection and refuses new ones
    time.sleep(0.5)
    mock.reset()

    second = InsuranceConnector(settings_of(mock))
    try:
        look_up(second, mock)
        assert [e.operation for e in mock.exchanges()] == ["9001", "1101"]
        assert peers(mock).isdisjoint(used), "a new connection: the closed one was dropped, not reused"
    finally:
        second.close()


MARKED: list[str] = []


def _mark(request: httpx.Request) -> None:
    MARKED.append(request.url.path)


def test_a_client_the_connector_changed_or_replaced_is_closed_not_handed_on(mock: InsuranceMock) -> None:
    hooked = InsuranceConnector(settings_of(mock))
    hooked.http.event_hooks = {"request": [_mark], "response": []}  # as a wrapping factory may (a planted defect does)
    headed = InsuranceConnector(settings_of(mock))
    headed.http.headers["x-workstation"] = "7"
    replaced = InsuranceConnector(settings_of(mock))
    own = replaced.http
    replaced.http = httpx.Client(base_url=own.base_url, timeout=0.5)
    changed = [hooked.http, headed.http, own, replaced.http]
    for connector in (hooked, headed, replaced):
        connector.close()

    assert all(client.is_closed for client in changed)
    fresh = InsuranceConnector(settings_of(mock))
    try:
        assert fresh.http not in changed and not fresh.http.event_hooks["request"]
        assert "x-workstation" not in fresh.http.headers
        look_up(fresh, mock)
        assert MARKED == [], "the other connector's request hook does not run"
    finally:
        fresh.close()
