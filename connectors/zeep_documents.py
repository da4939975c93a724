"""zeep clients for the SOAP reference connectors on a WSDL parsed once per process per served description.

Parsing a WSDL and its XSDs into zeep's type objects (`zeep.wsdl.Document`) costs about three times the HTTP
fetches of its documents, and `hih run` builds a connector per scenario against a mock on a new random port. So:

- Every client still **fetches** the WSDL and every document zeep loaded for it last time, over its own transport
  (its session, its timeout), so a changed WSDL or XSD is noticed like a fresh `zeep.Client` would notice it.
- What was fetched is compared, with the service's origin (`scheme://host:port` of the WSDL URL) replaced by a
  marker, with the documents a Document was already parsed from, under the same zeep settings: the same bytes and
  settings share that Document; anything else is parsed afresh (from the bytes already fetched, not fetched again).
- The Document is shared read-only; everything else is the connector's own: `zeep.Client` with its transport,
  plugins and settings, and each port's address mapped back to the origin this client fetched from, so two
  connectors against two mocks on different ports each send to their own (never to the first cached address).

The cache holds a few Documents (least recently used dropped first) and a lock guards it; a parse happens under the
lock, so two threads asking for the same new description parse it once.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import attr
import zeep
from zeep.exceptions import Error as ZeepError
from zeep.loader import is_relative_path
from zeep.plugins import Plugin
from zeep.proxy import ServiceProxy
from zeep.transports import Transport
from zeep.wsdl import Document

MAX_DOCUMENT_BYTES = 4 * 2**20
"""Largest WSDL or XSD read (a service description is tens of kilobytes; this bounds what a broken peer can send)."""
MAX_DOCUMENTS = 64
"""Most documents one WSDL may pull in through imports and includes."""
MAX_ENTRIES = 8
"""Parsed WSDLs kept per process (a run uses one or two per SOAP interface: one per contract version)."""

_MARK = "\x00origin\x00"
"""Stands for the service's origin in the compared documents: no URL or XML text contains a NUL."""


class WsdlTooLarge(ZeepError):
    """A WSDL that is over a limit (one document's size, or how many documents it pulls in)."""


@dataclass(frozen=True)
class Stats:
    """How often this process parsed a WSDL, and how often a client was built on one already parsed."""

    parses: int
    shared: int


def _settings_key(settings: zeep.Settings) -> tuple[tuple[str, str], ...]:
    """Every zeep setting by name (the Document keeps and reads some of them when it parses replies)."""
    return tuple((f.name, repr(getattr(settings, f.name))) for f in attr.fields(zeep.Settings) if f.name != "_tls")


def _settings_copy(settings: zeep.Settings) -> zeep.Settings:
    """A Settings of the same values for the shared Document, so no client's later change reaches it."""
    values = {f.name: getattr(settings, f.name) for f in attr.fields(zeep.Settings) if f.name != "_tls"}
    return zeep.Settings(**values)


class _Origin:
    """The `scheme://host[:port]` of a URL, and how to swap it for the marker and back in texts and bytes."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.value = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""
        # not followed by more of a host name or port: http://h:80 is no prefix of http://h:8080
        self._text = re.compile(re.escape(self.value) + r"(?![\w.:-])") if self.value else None
        self._bytes = re.compile(re.escape(self.value.encode()) + rb"(?![\w.:-])") if self.value else None

    def mark_text(self, text: str) -> str:
        return self._text.sub(_MARK, text) if self._text is not None else text

    def mark_bytes(self, raw: bytes) -> bytes:
        return self._bytes.sub(_MARK.encode(), raw) if self._bytes is not None else raw

    def unmark(self, text: str) -> str:
        return text.replace(_MARK, self.value) if self.value else text


def fetch(url: str, transport: Transport) -> bytes:
    """One document as zeep's transport would load it (its session, headers and load timeout), bounded in size."""
    if urlsplit(url).scheme not in ("http", "https"):
        content = transport.load(url)  # a local file, as zeep reads one
        if len(content) > MAX_DOCUMENT_BYTES:
            raise WsdlTooLarge(f"the document at {url} is over {MAX_DOCUMENT_BYTES} bytes")
        return bytes(content)
    with transport.session.get(url, timeout=transport.load_timeout, stream=True) as response:
        response.raise_for_status()
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_DOCUMENT_BYTES:
                raise WsdlTooLarge(f"the document at {url} is over {MAX_DOCUMENT_BYTES} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


class _Recording(Transport):
    """zeep's loading transport while a Document is parsed: the documents already fetched first, the connector's
    transport for any other, and the order of every URL zeep asked for."""

    def __init__(self, fetched: dict[str, bytes], through: Transport) -> None:
        super().__init__(timeout=through.load_timeout)
        self.fetched = dict(fetched)
        self.through: Transport | None = through
        self.loaded: list[str] = []

    def load(self, url: str) -> bytes:
        if self.through is None:
            raise ZeepError(f"a shared WSDL loads nothing once parsed (asked for {url})")
        if url not in self.loaded:
            if len(self.loaded) >= MAX_DOCUMENTS:
                raise WsdlTooLarge(f"the WSDL pulls in more than {MAX_DOCUMENTS} documents")
            self.loaded.append(url)
        if url not in self.fetched:
            self.fetched[url] = fetch(url, self.through)
        return self.fetched[url]

    def detach(self) -> None:
        """Forget the documents and the connector's transport: the Document kept in the cache holds neither."""
        self.fetched.clear()
        self.through = None
        self.session.close()


Marked = tuple[tuple[str, str], ...]
"""Each document's URL and the digest of its bytes, the service's origin replaced by the marker in both."""
Key = tuple[str, tuple[tuple[str, str], ...], Marked]
"""The URL scheme (zeep forces https addresses for a WSDL read over https), the settings, the documents."""


@dataclass(frozen=True)
class _Entry:
    document: Document
    origin: _Origin
    """Where the WSDL it was parsed from was fetched: the addresses in `document` are under it."""
    followers: tuple[str, ...]
    """The marked URLs of the documents zeep loaded after the WSDL, in order."""


class _Cache:
    """Parsed Documents by key, least recently used first, and for each WSDL (marked URL, scheme, settings) the
    documents zeep loaded after it the last time it was parsed: what the next client fetches too."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.entries: OrderedDict[Key, _Entry] = OrderedDict()
        self.followers: OrderedDict[tuple[str, str, tuple[tuple[str, str], ...]], tuple[str, ...]] = OrderedDict()
        self.parses = 0
        self.shared = 0

    def keep(self, table: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.size:
            table.popitem(last=False)


_CACHE = _Cache(MAX_ENTRIES)


def _key(scheme: str, settings: tuple[tuple[str, str], ...], origin: _Origin, documents: list[tuple[str, bytes]]) -> Key:
    marked = tuple((origin.mark_text(u), hashlib.sha256(origin.mark_bytes(raw)).hexdigest()) for u, raw in documents)
    return scheme, settings, marked


class SharedWsdlClient(zeep.Client):
    """A `zeep.Client` on a shared Document whose ports send to the origin this client fetched the WSDL from."""

    def __init__(self, document: Document, address: Callable[[str], str], transport: Transport,
                 settings: zeep.Settings, plugins: list[Plugin]) -> None:
        super().__init__(document, transport=transport, plugins=plugins, settings=settings)
        self._address = address

    def bind(self, service_name: str | None = None, port_name: str | None = None) -> ServiceProxy | None:
        """zeep's `bind`, with the port's address moved to this client's origin."""
        if not self.wsdl.services:
            return None
        port = self._get_port(self._get_service(service_name), port_name)
        options = dict(port.binding_options)
        if options.get("address"):
            options["address"] = self._address(options["address"])
        return ServiceProxy(self, port.binding, **options)


def client(url: str, transport: Transport, settings: zeep.Settings, plugins: list[Plugin] | None = None) -> zeep.Client:
    """A zeep client of the WSDL at `url`, as `zeep.Client(url, transport=..., plugins=..., settings=...)` gives,
    parsed only when this process has not parsed the same documents under the same settings yet.

    Raises what zeep's own client raises when the WSDL cannot be read (`requests` errors, zeep's errors, lxml's
    `XMLSyntaxError`), and `WsdlTooLarge`."""
    if is_relative_path(url):
        url = os.path.abspath(url)  # as zeep's Document does, so the URL matches the one zeep loads
    origin = _Origin(url)
    scheme = urlsplit(url).scheme
    settings_key = _settings_key(settings)
    wsdl = (origin.mark_text(url), scheme, settings_key)
    documents = [(url, fetch(url, transport))]
    with _CACHE.lock:
        followers = _CACHE.followers.get(wsdl, ())
    documents += [(origin.unmark(marked), fetch(origin.unmark(marked), transport)) for marked in followers]
    key = _key(scheme, settings_key, origin, documents)
    with _CACHE.lock:
        entry = _CACHE.entries.get(key)
        if entry is None:
            entry, loaded = _parse(url, transport, settings, origin, dict(documents))
            _CACHE.keep(_CACHE.entries, _key(scheme, settings_key, origin, loaded), entry)
            _CACHE.keep(_CACHE.followers, wsdl, entry.followers)
            _CACHE.parses += 1
        else:
            _CACHE.entries.move_to_end(key)
            _CACHE.shared += 1
    parsed_at = entry.origin

    def address(value: str) -> str:
        return origin.unmark(parsed_at.mark_text(value))

    return SharedWsdlClient(entry.document, address, transport, settings, list(plugins or []))


def _parse(url: str, transport: Transport, settings: zeep.Settings, origin: _Origin,
           fetched: dict[str, bytes]) -> tuple[_Entry, list[tuple[str, bytes]]]:
    """A new Document from the documents already fetched (and any other zeep asks for), and every document it
    loaded, in order."""
    recording = _Recording(fetched, transport)
    try:
        document = Document(url, cast(Any, recording), settings=_settings_copy(settings))  # zeep annotates a class
        loaded = [(u, recording.fetched[u]) for u in recording.loaded]
    finally:
        recording.detach()
    return _Entry(document, origin, tuple(origin.mark_text(u) for u, _ in loaded[1:])), loaded


def stats() -> Stats:
    """This process's parses and shared builds so far."""
    with _CACHE.lock:
        return Stats(_CACHE.parses, _CACHE.shared)


def clear() -> None:
    """Forget every parsed WSDL and start the counts again (tests; a process never needs to)."""
    with _CACHE.lock:
        _CACHE.entries.clear()
        _CACHE.followers.clear()
        _CACHE.parses = _CACHE.shared = 0
