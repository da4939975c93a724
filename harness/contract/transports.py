"""One descriptor per transport: how its messages travel and are read, and what serves, records and replays them.

A transport is a contract format (`transport:` in contract.yaml): JSON over HTTP, SOAP over HTTP, HL7 v2 over
MLLP. Its descriptor names, as `module:attribute` text resolved where used (so this module imports nothing else of
ours, as `harness.contract.interfaces` explains):

- `server`: the mocks' server for it (`mocks.transport.*`);
- `client`: what the reference connectors speak it with;
- `codec`: how its messages are decoded, checked, flattened into fields and echoed (`harness.contract.codec`);
- `proxy`: the recording proxy of `hih proxy` (`harness.proxy.*`);
- `replay`: what puts a recording in front of a mock (`hih mock serve --replay`, `mocks.replay.*`).

The proxy, replay and `hih compare` are each written once per transport against these descriptors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from harness.contract.interfaces import Interface, interface, resolve
from harness.errors import UsageError

if TYPE_CHECKING:
    from harness.contract.codec import Codec


@dataclass(frozen=True)
class Transport:
    name: str
    """The contract format, as contract.yaml's `transport:` names it."""
    wire: str
    """`http` or `mllp`: what a connection carries (and the `transport` of the mocks' journal entries)."""
    scheme: str
    """How an endpoint of it is written: `http://HOST:PORT`, `mllp://HOST:PORT`."""
    meta_schema: str
    """The file under harness/contract/meta/ that checks its contract.yaml."""
    server: str
    client: str
    codec: str
    proxy: str
    replay: str
    volatile: tuple[str, ...] = ()
    """Fields its protocol makes afresh for every message (HL7: the date/time and control id of MSH, FHS and BHS)."""
    separator: str = "/"
    """What separates the steps of its field paths (`/` for JSON pointers and XML paths, `.` for HL7)."""


TRANSPORTS: dict[str, Transport] = {t.name: t for t in (
    Transport("http-json", "http", "http", "http-json.schema.json", "mocks.transport.http:HttpTransport",
              "httpx:Client", "harness.contract.codec_json", "harness.proxy.http:HttpProxy",
              "mocks.replay.http:install"),
    Transport("soap", "http", "http", "soap.schema.json", "mocks.transport.soap:SoapHandler", "zeep:Client",
              "harness.contract.codec_soap", "harness.proxy.http:HttpProxy", "mocks.replay.http:install"),
    Transport("hl7v2-mllp", "mllp", "mllp", "hl7-mllp.schema.json", "mocks.transport.mllp:MllpServer",
              "harness.contract.hl7.mllp_client:MllpSyncClient", "harness.contract.codec_hl7",
              "harness.proxy.mllp:MllpProxy", "mocks.replay.mllp:install", volatile=("MSH-7", "MSH-10", "FHS-7", "FHS-11", "BHS-7", "BHS-11"),
              separator="."),
)}
"""Every transport hih speaks, by contract format: the one place they are listed."""


def transport(name: str) -> Transport:
    found = TRANSPORTS.get(name)
    if found is None:
        raise UsageError(f"transport {name!r} has no descriptor in harness/contract/transports.py (known: "
                         f"{', '.join(TRANSPORTS)})")
    return found


def of_interface(name: str) -> tuple[Interface, Transport]:
    """An interface's descriptor and its transport's."""
    found = interface(name)
    return found, transport(found.transport)


def codec(name: str) -> Codec:
    """The codec of transport `name` (a module that implements `harness.contract.codec.Codec`)."""
    return cast("Codec", resolve(transport(name).codec))
