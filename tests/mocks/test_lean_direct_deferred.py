"""The lean server's direct path when the handler's reply comes later (a future, as the SOAP partners' commit window
gives): the same reply bytes and journal as the ASGI path, pipelined requests kept in order, a failed future a `500`
and a closed connection."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from mocks.transport.http import HttpReply, HttpRequest
from mocks.transport.journal import Exchange
from mocks.transport.runtime import Runtime
from tests.mocks import test_lean_direct
from tests.mocks.test_lean_direct import Partner, Served, _exchange, _post


class LatePartner(Partner):
    """Answers `/later…` after two turns of the loop; `/later-fail` then fails."""

    def handle_now(self, request: HttpRequest, exchange: Exchange) -> HttpReply | asyncio.Future[HttpReply]:
        if not request.path.startswith("/later"):
            return super().handle_now(request, exchange)
        self.calls.append(request.path)
        exchange.request = {"size": len(request.body)}
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[HttpReply] = loop.create_future()

        def settle() -> None:
            if request.path == "/later-fail":
                answer.set_exception(RuntimeError("the partner failed later"))
            else:
                answer.set_result(HttpReply(200, b'{"later":%d}' % len(request.body), "application/json;charset=utf-8"))

        loop.call_soon(loop.call_soon, settle)
        return answer


@pytest.fixture
def pair(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Served, Served]]:
    monkeypatch.setattr(test_lean_direct, "Partner", LatePartner)
    runtime = Runtime().start()
    yield Served(runtime, direct=True), Served(runtime, direct=False)
    runtime.stop()


CASES: dict[str, tuple[list[bytes], list[bytes]]] = {
    "later replies pipelined between immediate ones": (
        [_post("/ok", b'{"n":1}') + _post("/later", b'{"n":22}') + _post("/ok", b"{}") + _post("/later", b"{}")],
        [b"HTTP/1.1 200 "] * 4),
    "a reply that fails later, and what was pipelined behind it": (
        [_post("/later", b"{}") + _post("/later-fail", b"{}") + _post("/ok", b"{}")],
        [b"HTTP/1.1 200 ", b"HTTP/1.1 500 "]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_later_reply_is_answered_and_journaled_as_on_the_asgi_path(pair: tuple[Served, Served], case: str) -> None:
    direct, asgi = pair
    pieces, heads = CASES[case]
    got, expected = _exchange(direct.port, pieces), _exchange(asgi.port, pieces)
    assert [expected.count(h) for h in set(heads)] == [heads.count(h) for h in set(heads)]  # the oracle as meant
    assert got == expected
    assert direct.journal.entries() and direct.entries() == asgi.entries()
    assert direct.partner.calls == asgi.partner.calls
