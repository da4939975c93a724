"""What the LIS and PACS ports share: the connector's settings, patients, acknowledgement outcomes, stored messages
and the errors a connector reports when an HL7 v2 message it sent was not acknowledged as it should be."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HihError


@dataclass(frozen=True)
class Hl7Settings:
    """What an HL7 connector needs: the partner's MLLP address, its own listener, the contract in force.

    `store_path` is the SQLite file the listener keeps received messages in ("" : a private temporary file).
    """

    host: str
    port: int
    timeout_s: float = 5.0
    retries: int = 1
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    store_path: str = ""
    contract_version: str = ""
    contract_folder: str = ""
    sending_application: str = "HIS"
    sending_facility: str = "HOSP"


@dataclass(frozen=True)
class Patient:
    """A patient as the HIS knows them; `name` may hold any Chinese characters (rare ones included)."""

    mrn: str
    name: str
    id_card: str = ""
    sex: str = "U"
    birth_date: str = ""
    patient_class: str = "O"
    visit_no: str = ""


@dataclass(frozen=True)
class Delivery:
    """A message the partner acknowledged positively: its MSH-10, MSA-1 and how many sends it took."""

    control_id: str
    code: str
    attempts: int = 1
    message_type: str = ""


@dataclass(frozen=True)
class StoredMessage:
    """A message the connector's listener received, validated and stored (read back from its SQLite file)."""

    control_id: str
    sender: str
    message_type: str
    placer_no: str
    filler_no: str
    status: str
    """OBR-25 for results and reports, ORC-5 for status updates."""
    patient_name: str
    charset: str
    critical: tuple[str, ...] = ()
    """Observations flagged critical in OBX-8 (HH/LL for the LIS, AA for the PACS), as `code=value flag`."""
    observations: tuple[tuple[str, str], ...] = ()
    """(OBX-3.1, OBX-5) of each observation, in order."""
    ack_code: str = ""


# -- errors ---------------------------------------------------------------------------------------------------
class Hl7PortError(HihError):
    """Base of the errors an HL7 connector reports to the HIS."""


class AckError(Hl7PortError):
    """The message sent was not positively acknowledged; `control_id` is its MSH-10."""

    def __init__(self, control_id: str, message: str) -> None:
        self.control_id = control_id
        super().__init__(message)


class AckRejected(AckError):
    """The partner answered AE (error) or AR (reject); `errors` are the ERR codes (HL7 Table 0357), `text` MSA-3."""

    def __init__(self, control_id: str, code: str, errors: list[str], text: str = "") -> None:
        self.code = code
        self.errors = errors
        self.text = text
        super().__init__(control_id, f"{control_id}: {code} {','.join(errors)} {text}".rstrip())


class NoAck(AckError):
    """No acknowledgement within the timeout, after every resend (or the connection kept failing)."""

    def __init__(self, control_id: str, reason: str, attempts: int = 1) -> None:
        self.reason = reason
        self.attempts = attempts
        super().__init__(control_id, f"{control_id}: no acknowledgement after {attempts} attempt(s): {reason}")


class WrongAck(AckError):
    """An acknowledgement whose MSA-2 is not the MSH-10 sent, or a frame that is no acknowledgement at all."""

    def __init__(self, control_id: str, got: str, reason: str = "") -> None:
        self.got = got
        super().__init__(control_id, reason or f"{control_id}: acknowledgement for {got!r}")


def settings_for(mock: Any, contract: Any, timeout_s: float, workdir: Path | None = None) -> Hl7Settings:
    """The settings for a connector to the started LIS or PACS mock `mock` (the interface descriptor's `settings`);
    the listener's store goes into the scenario's work folder."""
    return Hl7Settings(host=mock.endpoint.host, port=mock.endpoint.port, timeout_s=timeout_s,
                       contract_version=contract.version, contract_folder=str(contract.folder),
                       store_path=str(workdir / "received.sqlite") if workdir else "")
