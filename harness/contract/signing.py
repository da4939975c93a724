"""Request signing schemes named by contracts. TIF (x-tif-* headers) is the one in force for insurance gateways."""

from __future__ import annotations

import hashlib
import heapq
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from harness.contract.model import Signing

TIF_HEADERS = {
    "paasid": "x-tif-paasid",
    "timestamp": "x-tif-timestamp",
    "nonce": "x-tif-nonce",
    "signature": "x-tif-signature",
}


def tif_signature(timestamp: str, secret: str, nonce: str) -> str:
    """lower_hex(SHA-256(timestamp + secret + nonce + timestamp)), as TIF gateways compute it."""
    return hashlib.sha256(f"{timestamp}{secret}{nonce}{timestamp}".encode()).hexdigest()


def tif_headers(signing: Signing | None, paasid: str, secret: str, now: float | None = None) -> dict[str, str]:
    """The headers that sign one request (a fresh nonce each time)."""
    names = {**TIF_HEADERS, **(signing.headers if signing else {})}
    timestamp = str(int(now if now is not None else time.time()))
    nonce = secrets.token_hex(16)
    return {
        names["paasid"]: paasid,
        names["timestamp"]: timestamp,
        names["nonce"]: nonce,
        names["signature"]: tif_signature(timestamp, secret, nonce),
    }


@dataclass(frozen=True)
class SignatureProblem:
    header: str
    message: str


_HEX_NONCE = re.compile(r"[0-9a-f]{32}")


def _nonce_key(nonce: str) -> int | str:
    """What the window keeps of a nonce: the 32 lower-case hex digits TIF clients send (`secrets.token_hex(16)`) as
    the number they spell (48 bytes instead of an 81-byte string; one number per such text, so nothing is confused),
    any other nonce as it is."""
    return int(nonce, 16) if len(nonce) == 32 and _HEX_NONCE.fullmatch(nonce) else nonce


class NonceWindow:
    """The nonces of accepted requests, each kept until its timestamp can no longer pass the skew check.

    A timestamp `stamp` is accepted while |now - stamp| <= skew, so its nonce is remembered until stamp + skew: a
    request signed up to `skew` seconds ahead cannot be replayed once its nonce would have been forgotten. Memory is
    bounded by time (the requests of one window, at most 2 x skew seconds of them, ≈ 100 bytes each); `capacity` is a
    backstop: when it is reached new requests are refused, never an unexpired nonce forgotten.
    """

    def __init__(self, capacity: int = 3_000_000) -> None:
        self.capacity = capacity
        self._expiry: dict[int | str, int] = {}
        self._buckets: dict[int, list[int | str]] = {}
        self._heap: list[int] = []
        self._stamp = 0
        """The last expiry second added: the nonces of one second share one int object."""

    def __len__(self) -> int:
        return len(self._expiry)

    def _expire(self, now: float) -> None:
        while self._heap and self._heap[0] < now:
            second = heapq.heappop(self._heap)
            for nonce in self._buckets.pop(second, ()):
                if self._expiry.get(nonce) == second:
                    del self._expiry[nonce]

    def seen(self, nonce: str, now: float) -> bool:
        self._expire(now)
        return _nonce_key(nonce) in self._expiry

    def full(self) -> bool:
        return len(self._expiry) >= self.capacity

    def add(self, nonce: str, expires: int) -> None:
        if expires == self._stamp:
            expires = self._stamp
        else:
            self._stamp = expires
        key = _nonce_key(nonce)
        self._expiry[key] = expires
        bucket = self._buckets.get(expires)
        if bucket is None:
            bucket = self._buckets[expires] = []
            heapq.heappush(self._heap, expires)
        bucket.append(key)


class TifVerifier:
    """Checks TIF headers: known paasid, timestamp within the allowed skew, unused nonce, matching signature."""

    def __init__(self, signing: Signing, credentials: dict[str, str], nonce_memory: int = 3_000_000) -> None:
        self.signing = signing
        self.names = {**TIF_HEADERS, **signing.headers}
        self.credentials = credentials
        self.nonces = NonceWindow(nonce_memory)

    def verify(self, headers: dict[str, str], now: float | None = None, remember: bool = True) -> SignatureProblem | None:
        """None when the request is properly signed; otherwise the first problem, naming the header.

        `remember=False` checks without recording the nonce (for requests the mock looks at but does not act on).
        """
        now = time.time() if now is None else now
        values = {}
        for key, header in self.names.items():
            value = headers.get(header.lower())
            if not value:
                return SignatureProblem(header, f"missing header {header}")
            values[key] = value
        secret = self.credentials.get(values["paasid"])
        if secret is None:
            return SignatureProblem(self.names["paasid"], f"{self.names['paasid']}: unknown paasid {values['paasid']!r}")
        try:
            stamp = int(values["timestamp"])
        except ValueError:
            return SignatureProblem(self.names["timestamp"], f"{self.names['timestamp']}: not whole seconds since the epoch")
        if abs(now - stamp) > self.signing.max_skew_s:
            return SignatureProblem(self.names["timestamp"], f"{self.names['timestamp']}: {int(now - stamp)} s from the gateway clock (max {self.signing.max_skew_s} s)")
        expected = tif_signature(values["timestamp"], secret, values["nonce"])
        if not hmac.compare_digest(expected, values["signature"].lower()):
            return SignatureProblem(self.names["signature"], f"{self.names['signature']}: signature does not match")
        if self.nonces.seen(values["nonce"], now):
            return SignatureProblem(self.names["nonce"], f"{self.names['nonce']}: nonce already used (replayed request)")
        if not remember:
            return None
        if self.nonces.full():
            return SignatureProblem(self.names["nonce"], f"{self.names['nonce']}: {len(self.nonces)} requests within the "
                                    f"replay window, the most the gateway remembers: try again later")
        self.nonces.add(values["nonce"], stamp + self.signing.max_skew_s)
        return None
