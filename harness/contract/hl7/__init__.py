"""HL7 v2: a fast parser of our own, MLLP framing, character sets, message profiles and their validation.

- `mllp`: pure framing (`frame`, `Deframer`) for the MLLP transport;
- `escape`: separators and escape sequences;
- `charsets`: MSH-18 (Table 0211) decoding of bytes, with findings;
- `message`: `parse(text) -> Message`, values by HL7 path, routing fields of MSH;
- `batch`: cutting a capture into messages (MLLP blocks, FHS/BHS batches);
- `profile`, `validator`, `datatypes`: compiled message profiles and their validation;
- `ack`: an acknowledgement checked against the message it answers (MSA-2, swapped MSH-3..6, mode);
- `mllp_ack`, `mllp_client`, `mllp_listener`: ACK building, an MLLP client and a small threaded listener (stdlib
  only, so connectors may use them);
- `contract`: the `hl7v2-mllp` contract format and `HL7Validator` (importing it registers the format).

Importing this package is cheap: it does not load the contract machinery.
"""

from __future__ import annotations

from harness.contract.hl7.escape import DEFAULT as DEFAULT_SEPARATORS
from harness.contract.hl7.escape import Separators, escape, unescape
from harness.contract.hl7.message import HL7Path, Message, Segment, parse, parse_path

__all__ = [
    "DEFAULT_SEPARATORS",
    "HL7Path",
    "Message",
    "Segment",
    "Separators",
    "escape",
    "parse",
    "parse_path",
    "unescape",
]
