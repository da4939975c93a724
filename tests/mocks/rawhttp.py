"""Raw HTTP over a socket, for requests httpx will not send: a Content-Length the body never reaches, a header that
never ends, a body streamed past a limit."""

from __future__ import annotations

import re
import socket
import threading

_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.I)


def whole_reply(data: bytes | bytearray) -> bool:
    """Whether `data` holds a whole reply: its head and as many body bytes as its Content-Length says (none without
    one)."""
    head, blank, body = bytes(data).partition(b"\r\n\r\n")
    if not blank:
        return False
    length = _LENGTH.search(head)
    return len(body) >= (int(length.group(1)) if length else 0)


def raw_exchange(port: int, head: bytes, body_chunks: list[bytes] | None = None, timeout: float = 10,
                 one_reply: bool = False) -> bytes:
    """Send a request head (and body chunks, stopping when the server hangs up) on a fresh socket; what came back:
    everything until the server closes the connection or `timeout` passes, or (`one_reply`) until one whole reply
    has come, for a connection the server keeps open after its answer.

    The answer is read while the request is still being sent: a server that refuses early closes a connection with
    unread data, and the reset that follows may discard an answer not read before it arrives."""
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:

        def read() -> None:
            try:
                while chunk := sock.recv(65536):
                    received.extend(chunk)
                    if one_reply and whole_reply(received):
                        return
            except OSError:
                pass

        reader = threading.Thread(target=read)
        reader.start()
        try:
            sock.sendall(head)
            for chunk in body_chunks or []:
                sock.sendall(chunk)
        except OSError:
            pass  # the server answered and closed while we were still writing
        reader.join(timeout)
    return bytes(received)
