"""Who may talk to a mock's console and admin API from a browser: a Host allow-list, same-origin requests only, and
redirects that never leave the server.

A web page elsewhere can make a browser send requests to 127.0.0.1 (cross-site requests) or, by pointing its own DNS
name at 127.0.0.1, read the answers (DNS rebinding: the browser then sends `Host: attacker.example`). So the
console and the admin API answer only requests whose Host is one of the names the server is known by (loopback
names and the bound host by default, more with `hih mock serve --allow-host`), and refuse a request whose Origin
is another site. The partner endpoints themselves are not guarded: real hospital systems call them by any name.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from mocks.transport.limits import ASGIApp, send_plain

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
ANY_ADDRESS = ("0.0.0.0", "::", "")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_PORT = re.compile(r"\d{1,5}")
_UNSAFE_PATH = re.compile(r"[\\\x00-\x20\x7f]")


def host_name(value: str | None) -> str | None:
    """The name in a Host header value (`name`, `name:port`, `[v6]`, `[v6]:port`), lower case; None if malformed."""
    if not value:
        return None
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        name, rest = (value[1:end], value[end + 1:]) if end > 0 else ("", "")
    else:
        name, sep, port = value.partition(":")
        rest = sep + port
    if not name or (rest and not (rest.startswith(":") and _PORT.fullmatch(rest[1:]))):
        return None
    return name.rstrip(".")


def machine_names() -> set[str]:
    """The names and addresses this machine is known by, for a server bound to every address (0.0.0.0, ::): its
    host name, full name, the addresses they resolve to, and the address it reaches the network from."""
    names: set[str] = set()
    with contextlib.suppress(OSError):
        host = socket.gethostname()
        names |= {host.lower(), socket.getfqdn(host).lower()}
        names |= {str(info[4][0]).lower() for info in socket.getaddrinfo(host, None)}
    for family, probe in ((socket.AF_INET, ("10.255.255.255", 1)), (socket.AF_INET6, ("fd00::1", 1))):
        # connecting a UDP socket sends nothing; it only asks the kernel which local address would be used
        with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as udp:
            udp.connect(probe)
            names.add(str(udp.getsockname()[0]).lower())
    return {n for n in names if n}


@dataclass(frozen=True)
class HostAllowList:
    """The names a console or admin API answers to; `*` among them switches the check off."""

    names: frozenset[str]

    @classmethod
    def for_bind(cls, host: str, extra: Iterable[str] = ()) -> HostAllowList:
        """Loopback names, the bound host (for the any-address: the machine's names, `machine_names`), and `extra`."""
        names = {*LOOPBACK_NAMES, *(n.strip().lower().strip("[]") for n in extra if n.strip())}
        bound = host.strip().lower().strip("[]")
        names |= machine_names() if bound in ANY_ADDRESS else {bound}
        return cls(frozenset(names))

    def allows(self, host_header: str | None) -> bool:
        if "*" in self.names:
            return True
        name = host_name(host_header)
        return name is not None and name in self.names

    def same_origin(self, origin: str, host_header: str | None) -> bool:
        """An Origin header names this server: an allowed name, and the very host:port the request was sent to."""
        if origin == "null":
            return False
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc.lower() == (host_header or "").strip().lower() \
            and self.allows(parts.netloc)


def guard_origin(app: ASGIApp, allowed: HostAllowList | Callable[[], HostAllowList]) -> ASGIApp:
    """Wrap a console or admin app: 400 for a Host not on the list, 403 for a request from another site.

    `allowed` may be a callable, read per request: a mock learns its bound host only when it starts.
    """

    async def guarded(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        names = allowed() if callable(allowed) else allowed
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host")
        if not names.allows(host):
            await send_plain(send, 400, f"Host {(host or '')[:100]!r} is not a name this server answers to; "
                                        "start it with --allow-host NAME to add one (docs/security.md)\n")
            return
        origin = headers.get("origin")
        if origin is not None and not names.same_origin(origin, host):
            await send_plain(send, 403, "cross-origin request refused: this page only answers requests from itself\n")
            return
        if scope.get("method") not in SAFE_METHODS and headers.get("sec-fetch-site") == "cross-site":
            await send_plain(send, 403, "cross-site request refused\n")
            return
        await app(scope, receive, send)

    return guarded


def same_origin_path(candidate: str | None, prefix: str, default: str) -> str:
    """A redirect target taken from a request (a Referer, a `next` field): its path when it is a plain path under
    `prefix` on this server, otherwise `default`. Never `//host`, a backslash, a scheme or a `..` segment."""
    if not candidate:
        return default
    try:
        path = urlsplit(candidate).path
    except ValueError:
        return default
    decoded = unquote(path)
    if not path.startswith(prefix) or decoded.startswith("//") or _UNSAFE_PATH.search(decoded) or "/../" in f"{decoded}/":
        return default
    return path
