"""Answers a server in front of a partner makes itself, in the partner's own words: a SOAP Fault for a SOAP
contract, the insurance gateway's error (`infcode` -1 with `err_msg`) for JSON over HTTP. Used where no partner
behaviour is there to word them: `hih proxy` and `hih mock serve --replay`."""

from __future__ import annotations

import json

from harness.contract.model import Contract
from harness.contract.soap import spec_of
from mocks.transport.http import HttpReply
from mocks.transport.soap import build_fault


def protocol_error(contract: Contract, status: int, message: str, client: bool = False) -> HttpReply:
    """An error answer with HTTP `status` (a SOAP Fault keeps its own, 500, when `status` is 200); `client`: the
    request is at fault (SOAP `Client`), else the server side (`Server`)."""
    if contract.transport == "soap":
        spec = spec_of(contract)
        code = "Client" if client else "Server"
        fault_status, body = build_fault(spec, code, message)
        return HttpReply(status if status != 200 else fault_status, body, spec.content_type,
                         parsed={"fault": {"code": code, "string": message}})
    document = {"type": "error", "infcode": -1, "err_msg": message}
    return HttpReply(status, json.dumps(document, ensure_ascii=False).encode("utf-8"),
                     "application/json;charset=utf-8", parsed=document)
