"""One background event loop that hosts every mock server of a run, so sync code (steps, connectors) can call them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from harness.errors import UsageError
from harness.eventloop import new_event_loop
from mocks.transport.bounded_http import uvicorn_options
from mocks.transport.busy_poll import BusyPoll
from mocks.transport.limits import InputLimits

T = TypeVar("T")
KEEP_ALIVE_S = 30
"""How long a uvicorn-served port keeps a connection that is idle, or has left a request head unfinished."""
ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def bind(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket on host:port (0 picks a free port); a clear UsageError when it cannot be had.

    `reuse_port`: several processes listen on the same port (SO_REUSEPORT) and the kernel spreads the connections
    over them (`hih mock serve --workers`)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"cannot listen on {host}:{port}: unknown host ({exc.strerror})") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


@dataclass
class Listener:
    """A server the runtime started: where it listens and how to stop it."""

    host: str
    port: int
    stop: Callable[[], Coroutine[Any, Any, None]]
    reopen: Callable[[], Coroutine[Any, Any, None]] | None = None
    """Listen again on the same port after `stop` (a `refuse` fault's window is over: mocks.transport.refusal)."""


class Runtime:
    """Runs an event loop in a daemon thread; servers are started and stopped on it from any thread."""

    def __init__(self) -> None:
        self.loop = new_event_loop()
        self._thread = threading.Thread(target=self._run, name="hih-mocks", daemon=True)
        self._listeners: list[Listener] = []
        self._started = False
        self.busy_poll: BusyPoll | None = None
        """Set by `poll_before_sleeping`: the MLLP servers started on this runtime poke it after each message."""

    def poll_before_sleeping(self, window_s: float) -> BusyPoll | None:
        """Have the loop poll for `window_s` after each MLLP message before it sleeps (`mocks.transport.busy_poll`;
        0: never). Call before the servers start, and only where the loop has the process to itself."""
        self.busy_poll = BusyPoll(self.loop, window_s) if window_s > 0 else None
        return self.busy_poll

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> Runtime:
        if not self._started:
            self._thread.start()
            self._started = True
        return self

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the runtime's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def serve_http(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0,
                   limits: InputLimits | None = None, reuse_port: bool = False, lean: bool = False) -> Listener:
        """Serve an ASGI app with uvicorn (httptools when installed) on host:port; request heads over `limits`
        (default: `InputLimits()`) are refused by the server before the app sees them. `lean`: the mocks' own
        server instead (`mocks.transport.lean_http`), a fraction of uvicorn's CPU per request."""
        sock = bind(host, port, reuse_port)
        if lean:
            return self._serve_lean(app, sock, host, limits or InputLimits(), reuse_port)
        # imported here, not with the module: the spec runs' mocks are served by the lean server, and uvicorn with
        # what it brings (click, watchfiles, multiprocessing) is ≈ 100 M instructions of a pytest process's start
        import uvicorn

        config = uvicorn.Config(
            app, lifespan="off", access_log=False, log_level="warning", timeout_graceful_shutdown=1,
            timeout_keep_alive=KEEP_ALIVE_S, backlog=2048, **uvicorn_options(limits or InputLimits()),
        )
        servers, socks = [uvicorn.Server(config)], [sock]  # replaced by `reopen`
        tasks: list[asyncio.Future[None]] = []

        async def start() -> None:
            server, listening = servers[0], socks[0]
            tasks[:] = [asyncio.ensure_future(server.serve(sockets=[listening]))]
            for _ in range(500):
                if server.started:
                    return
                await asyncio.sleep(0.01)
            raise UsageError(f"the HTTP server on {host}:{listening.getsockname()[1]} did not start")

        async def stop() -> None:
            servers[0].should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(tasks[0], 5)
            with contextlib.suppress(OSError):
                socks[0].close()

        bound = sock.getsockname()[1]

        async def reopen() -> None:
            servers[0], socks[0] = uvicorn.Server(config), bind(host, bound, reuse_port)
            await start()

        self.start()
        self.call(start())
        listener = Listener(host, bound, stop, reopen)
        self._listeners.append(listener)
        return listener

    def _serve_lean(self, app: ASGIApp, sock: socket.socket, host: str, limits: InputLimits,
                    reuse_port: bool) -> Listener:
        from mocks.transport.lean_http import LeanServer

        # replaced by `reopen` (the refuse fault stops the port and listens on it again)
        live: list[tuple[LeanServer, socket.socket, asyncio.AbstractServer]] = []

        async def start(listening: socket.socket) -> None:
            lean = LeanServer(app, limits, self.loop)
            live[:] = [(lean, listening, await self.loop.create_server(lean, sock=listening, backlog=2048))]

        async def stop() -> None:
            lean, listening, server = live[0]
            await lean.shutdown(server)
            with contextlib.suppress(OSError):
                listening.close()

        bound = sock.getsockname()[1]

        async def reopen() -> None:
            await start(bind(host, bound, reuse_port))

        self.start()
        self.call(start(sock))
        listener = Listener(host, bound, stop, reopen)
        self._listeners.append(listener)
        return listener

    def serve_tcp(
        self,
        handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
        host: str = "127.0.0.1",
        port: int = 0,
        limit: int = 2**20,
        reuse_port: bool = False,
    ) -> Listener:
        """Serve a stream handler (the MLLP proxy) on host:port."""
        return self._serve_socket(lambda sock: asyncio.start_server(handler, sock=sock, limit=limit), host, port,
                                  reuse_port)

    def serve_protocol(self, factory: Callable[[], asyncio.Protocol], host: str = "127.0.0.1", port: int = 0,
                       reuse_port: bool = False) -> Listener:
        """Serve an asyncio protocol (one instance per connection: the MLLP mocks) on host:port."""
        return self._serve_socket(lambda sock: self.loop.create_server(factory, sock=sock), host, port, reuse_port)

    def _serve_socket(self, make: Callable[[socket.socket], Awaitable[asyncio.base_events.Server]], host: str,
                      port: int, reuse_port: bool) -> Listener:
        sock = bind(host, port, reuse_port)

        async def start(listening: socket.socket) -> asyncio.base_events.Server:
            return await make(listening)

        self.start()
        live = [self.call(start(sock))]  # replaced by `reopen`

        async def stop() -> None:
            live[0].close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(live[0].wait_closed(), 2)

        bound = sock.getsockname()[1]

        async def reopen() -> None:
            live[0] = await start(bind(host, bound, reuse_port))

        listener = Listener(host, bound, stop, reopen)
        self._listeners.append(listener)
        return listener

    def stop(self, within_s: float | None = None) -> None:
        """Stop every server and the loop; safe to call twice. `within_s`: the whole stop's bound (each server's stop
        and the loop's end are otherwise bounded alone, 10 s each)."""
        if not self._started:
            return
        deadline = None if within_s is None else time.monotonic() + within_s

        def left() -> float:
            return 10.0 if deadline is None else max(0.0, min(10.0, deadline - time.monotonic()))

        for listener in self._listeners:
            with contextlib.suppress(Exception):
                self.call(listener.stop(), timeout=left())
        self._listeners.clear()
        logging.getLogger("uvicorn.error").disabled = True
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=left())
        self._started = False
