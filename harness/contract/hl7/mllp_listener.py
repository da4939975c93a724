"""A small MLLP listener on its own thread, for the receiving side of a hospital connector (results, reports).

`MllpListener(handle)` accepts connections on host:port (127.0.0.1 and a free port by default), cuts frames with
the `Deframer`, and calls `handle(payload)` for each message's bytes in arrival order, one frame at a time per
connection; what it returns (ACK payloads, already encoded) is framed and written back. `handle` may block (it
stores the message before it answers): by default it runs on the listener's own thread, one message at a time
across connections (what a store that commits each message serialises anyway, and twice as fast as a hop to a
worker thread); `threaded=True` runs it on a worker thread so other connections go on meanwhile. A handler
that raises gets the connection closed without an answer (the sender will resend). Frames stalled for
`frame_timeout_s` and connections idle for `idle_timeout_s` are closed.

`handle_batch` (optional, on the listener's thread) takes the frames that several connections delivered in the
same turn of the event loop, at most one per connection, in arrival order, and returns for each what `handle`
would (or the exception it raised); nothing is written back before it returns. A handler that stores messages
can so commit them together in one transaction and still send no ACK before the commit (group commit). If it
raises, every connection in the batch is closed without an answer. Alone, a frame is handed over on its own.

It depends on the standard library, `harness.contract.hl7` and `harness.eventloop` only, so connectors may use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import Future

from harness.contract.hl7.mllp import DEFAULT_MAX_FRAME, END, SB, Deframer
from harness.eventloop import new_event_loop

Handle = Callable[[bytes], list[bytes]]
BatchHandle = Callable[[list[bytes]], list[list[bytes] | Exception]]


class MllpListener:
    """An MLLP server in a daemon thread; `start()` returns (host, port), `close()` stops it and its connections."""

    def __init__(self, handle: Handle, host: str = "127.0.0.1", port: int = 0, *,
                 max_frame: int = DEFAULT_MAX_FRAME, idle_timeout_s: float = 600.0,
                 frame_timeout_s: float = 5.0, threaded: bool = False,
                 handle_batch: BatchHandle | None = None) -> None:
        self.handle = handle
        self.threaded = threaded
        self.handle_batch = handle_batch
        self._queue: list[tuple[bytes, asyncio.Future[list[bytes]]]] = []
        self.host = host
        self.port = port
        self.max_frame = max_frame
        self.idle_timeout_s = idle_timeout_s
        self.frame_timeout_s = frame_timeout_s
        self.errors: list[str] = []
        """What went wrong in the handler (`Type: message`), newest last; the connection was closed for each."""
        self._loop = new_event_loop()
        self._thread = threading.Thread(target=self._run, name="hih-mllp-listener", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def start(self) -> tuple[str, int]:
        """Listen (once); the address actually bound."""
        if self._server is not None:
            return self.address
        self._thread.start()
        started: Future[asyncio.base_events.Server] = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, self.host, self.port, limit=2**16), self._loop)
        self._server = started.result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.address

    def close(self) -> None:
        """Stop listening, close open connections and the thread; safe to call twice."""
        if self._loop.is_closed():
            return
        if self._server is not None and self._thread.is_alive():
            async def stop() -> None:
                assert self._server is not None
                self._server.close()
                for writer in list(self._writers):
                    writer.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._server.wait_closed(), 2)

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        if not self._loop.is_running():
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        deframer = Deframer(self.max_frame)
        try:
            while True:
                timeout = self.frame_timeout_s if deframer.pending else self.idle_timeout_s
                try:
                    data = await asyncio.wait_for(reader.read(65536), timeout or None)
                except TimeoutError:
                    return
                if not data:
                    return
                for frame in deframer.feed(data):
                    if frame.oversized or (frame.problem and frame.problem != "end block without CR"):
                        return  # nothing sensible to acknowledge: the sender sees the close and may resend
                    try:
                        if self.threaded:
                            replies = await self._loop.run_in_executor(None, self.handle, frame.payload)
                        elif self.handle_batch is not None:
                            replies = await self._batched(frame.payload)
                        else:
                            replies = self.handle(frame.payload)
                    except Exception as exc:  # noqa: BLE001 - a handler's failure closes this connection only
                        self.errors.append(f"{type(exc).__name__}: {exc}")
                        return
                    if replies:
                        writer.write(b"".join(SB + r + END for r in replies))
                        await writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    def _batched(self, payload: bytes) -> asyncio.Future[list[bytes]]:
        """Queue one frame for the next `_flush`, which runs once the connections ready in this turn have queued."""
        future: asyncio.Future[list[bytes]] = self._loop.create_future()
        if not self._queue:
            self._loop.call_soon(self._flush)
        self._queue.append((payload, future))
        return future

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        assert self.handle_batch is not None
        results: list[list[bytes] | Exception]
        try:
            results = self.handle_batch([payload for payload, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"handle_batch answered {len(results)} of {len(batch)} frames")
        except Exception as exc:  # noqa: BLE001 - nothing of the batch is answered; each connection is closed
            results = [exc] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # the connection went away meanwhile
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
