"""HL7 v2 over MLLP contracts (`transport: hl7v2-mllp`): the format loader and the message validator.

`contract.yaml` carries the HL7 settings (versions, acknowledgement mode, character sets, the segment library)
and the messages, keyed by MSH-9 (`ORU^R01`; `ACK` for acknowledgements of any trigger), each with its
direction and profile file. See docs/hl7-profiles.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.contract.errors import ContractError, ContractProblem
from harness.contract.findings import Finding, Severity
from harness.contract.hl7.ack_mode import AckMode, mode_findings
from harness.contract.hl7.batch import split_capture
from harness.contract.hl7.charsets import TABLE_0211, CharsetPolicy, canonical, decode_message
from harness.contract.hl7.message import Message, parse
from harness.contract.hl7.mllp import DEFAULT_MAX_FRAME
from harness.contract.hl7.profile import Profile, SegmentLibrary, compile_library, compile_profile
from harness.contract.hl7.validator import Limits, ProfileValidator
from harness.contract.http_json import Checked
from harness.contract.loader import _meta_problems, register_format
from harness.contract.model import Contract, Operation
from harness.contract.source import SourceFile, load_source

TRANSPORT = "hl7v2-mllp"
PROFILE_SCHEMA = "hl7-profile.schema.json"
DIRECTIONS = ("from_hospital", "to_hospital", "both")
_SEVERITY = {"info": Severity.INFO, "warning": Severity.WARNING, "error": Severity.ERROR}
HEADS_KEPT = 256
"""Headers whose checks `HL7Validator.check_message` remembers (then it starts afresh)."""
_KEY = re.compile(r"[A-Z][A-Z0-9]{2}(?:\^[A-Z0-9]{3})?")


@dataclass(frozen=True)
class HL7Settings:
    """The `hl7:` block of contract.yaml."""

    versions: tuple[str, ...]
    ack_mode: str = "original"
    accept_ack: str = ""
    application_ack: str = ""
    charset: CharsetPolicy = field(default_factory=CharsetPolicy)
    limits: Limits = field(default_factory=Limits)
    segments: str = ""
    max_frame_bytes: int = DEFAULT_MAX_FRAME
    ack_timeout_s: float = 5.0

    @property
    def ack(self) -> AckMode:
        """The declared acknowledgement mode, as receivers apply it."""
        return AckMode(self.ack_mode, self.accept_ack, self.application_ack)


def settings(contract: Contract) -> HL7Settings:
    value = contract.extra["hl7"]
    assert isinstance(value, HL7Settings)
    return value


def profile_of(contract: Contract, key: str) -> Profile:
    """The compiled profile of message `key` (`ORU^R01`, `ACK`)."""
    profile = contract.operations[key].extra["profile"]
    assert isinstance(profile, Profile)
    return profile


def _load_file(folder: Path, rel: str, source: SourceFile, pointer: str,
               problems: list[ContractProblem]) -> SourceFile | None:
    path = folder / rel
    if not path.is_file():
        problems.append(source.problem(pointer, f"profile file {rel!r} not found"))
        return None
    try:
        loaded = load_source(path)
    except ContractError as exc:
        problems.extend(exc.problems)
        return None
    if not isinstance(loaded.data, dict):
        problems.append(loaded.problem("", "expected a mapping"))
        return None
    meta = _meta_problems(loaded, PROFILE_SCHEMA)
    if meta:
        problems.extend(meta)
        return None
    return loaded


def _load(source: SourceFile, contract: Contract) -> list[ContractProblem]:
    data = source.data
    problems: list[ContractProblem] = []
    hl7 = data["hl7"]
    ack = hl7["acknowledgement"]
    cs = hl7["charset"]
    default, _ = canonical(cs["default"])
    accepted: list[str] = []
    for index, name in enumerate(cs.get("accepted") or [cs["default"]]):
        table_name, alias = canonical(name)
        if table_name is None or alias:
            hint = f"; write {table_name!r}" if table_name else f" (known: {', '.join(TABLE_0211)})"
            problems.append(source.problem(f"/hl7/charset/accepted/{index}", f"{name!r} is not a Table 0211 character set{hint}"))
        else:
            accepted.append(table_name)
    if default is None or default != cs["default"]:
        hint = f"; write {default!r}" if default else ""
        problems.append(source.problem("/hl7/charset/default", f"{cs['default']!r} is not a Table 0211 character set{hint}"))
    elif default not in accepted:
        problems.append(source.problem("/hl7/charset/default", f"the default {default} is not among the accepted character sets"))
    if ack["mode"] == "original" and (ack.get("accept_ack") or ack.get("application_ack")):
        problems.append(source.problem("/hl7/acknowledgement", "original mode has no MSH-15/16 values; use mode: enhanced"))
    versions = tuple(str(v) for v in hl7["versions"])
    conf = HL7Settings(
        versions=versions,
        ack_mode=ack["mode"],
        accept_ack=ack.get("accept_ack", ""),
        application_ack=ack.get("application_ack", ""),
        charset=CharsetPolicy(default or "UNICODE UTF-8", tuple(accepted),
                              _SEVERITY[cs.get("when_blank", "warning")], _SEVERITY[cs.get("when_unknown", "error")]),
        limits=Limits(_SEVERITY[hl7.get("length", "warning")], hl7.get("z_segments", "info"),
                      hl7.get("unknown_segments", "error")),
        segments=hl7["segments"],
        max_frame_bytes=int((hl7.get("mllp") or {}).get("max_frame_bytes", DEFAULT_MAX_FRAME)),
        ack_timeout_s=float((hl7.get("mllp") or {}).get("ack_timeout_s", 5.0)),
    )
    contract.extra["hl7"] = conf
    folder = contract.folder
    library_source = _load_file(folder, conf.segments, source, "/hl7/segments", problems)
    library, lib_problems = compile_library(library_source, contract.code_tables, contract.formats)
    problems.extend(lib_problems)
    if library_source is not None:
        contract.schemas[conf.segments] = library_source.data
    defaults = {"z_segments": conf.limits.z_segments, "unknown_segments": conf.limits.unknown_segments}
    messages: dict[str, Any] = data["messages"]
    for key, spec in messages.items():
        pointer = f"/messages/{escape_key(key)}"
        profile = _profile(folder, key, spec, source, pointer, contract, library, defaults, versions, problems)
        response = spec.get("response")
        if response and response not in messages:
            problems.append(source.problem(f"{pointer}/response", f"response {response!r} is not one of the messages"))
        contract.operations[key] = Operation(
            key=key,
            name=spec["name"],
            name_en=spec.get("name_en", ""),
            kind=spec["direction"],
            idempotent=spec.get("idempotent", True),
            input_schema=spec["profile"],
            output_schema=messages[response]["profile"] if response in messages else None,
            extra={"direction": spec["direction"], "response": response, "profile": profile,
                   "description": spec.get("description", "")},
        )
    unique: list[ContractProblem] = []
    for problem in problems:
        if problem not in unique:
            unique.append(problem)
    return unique


def _profile(folder: Path, key: str, spec: dict[str, Any], source: SourceFile, pointer: str, contract: Contract,
             library: SegmentLibrary, defaults: dict[str, str], versions: tuple[str, ...],
             problems: list[ContractProblem]) -> Profile | None:
    if not _KEY.fullmatch(key):
        problems.append(source.problem(pointer, f"{key!r}: a message key is MSH-9 as TYPE^TRIGGER (ORU^R01) or TYPE (ACK)"))
        return None
    loaded = _load_file(folder, spec["profile"], source, f"{pointer}/profile", problems)
    if loaded is None:
        return None
    contract.schemas[spec["profile"]] = loaded.data
    profile, found = compile_profile(loaded, key, contract.code_tables, library, defaults, versions, contract.formats)
    problems.extend(found)
    return profile


def escape_key(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


register_format(TRANSPORT, _load, "hl7-mllp.schema.json")


# -- validation -------------------------------------------------------------------------------------------------
@dataclass
class CheckedMessage:
    """One message as the validator saw it: the parsed form, its contract message key, every finding."""

    message: Message
    operation: str | None
    findings: list[Finding]

    @property
    def kind(self) -> str:
        return "ack" if (self.operation or self.message.message_type).startswith("ACK") else "message"


class HL7Validator:
    """Decode, parse and validate HL7 v2 messages against an `hl7v2-mllp` contract."""

    def __init__(self, contract: Contract) -> None:
        if contract.transport != TRANSPORT:
            raise ValueError(f"{contract.ref} is not an {TRANSPORT} contract")
        self.contract = contract
        self.settings = settings(contract)
        self._profiles: dict[str, ProfileValidator] = {}
        self._heads: dict[tuple[Any, ...], tuple[str | None, tuple[Finding, ...]]] = {}
        """Header checks per header seen (`check_message`)."""
        for key, op in contract.operations.items():
            profile = op.extra.get("profile")
            if isinstance(profile, Profile):
                self._profiles[key] = ProfileValidator(profile, self.settings.limits)

    def warm(self) -> None:
        """Compile every message profile's checks now, for the contract's versions (see `ProfileValidator.warm`)."""
        for validator in self._profiles.values():
            validator.warm(self.settings.versions)

    # -- bytes and text ---------------------------------------------------------------------------------
    def decode(self, raw: bytes) -> Message:
        """Bytes to a parsed Message by MSH-18 and the contract's charset policy; findings on the message."""
        decoded = decode_message(raw, self.settings.charset)
        msg = parse(decoded.text, decoded.charset)
        if msg.segments:  # for bytes that are no HL7 message at all, what they are not is enough
            msg.findings[:0] = decoded.findings
        return msg

    def check(self, raw: bytes, direction: str | None = None) -> CheckedMessage:
        """Decode, parse and validate one message's bytes (no MLLP framing)."""
        msg = self.decode(raw)
        operation, findings = self.check_message(msg, direction)
        return CheckedMessage(msg, operation, msg.findings + findings)

    def route(self, msg: Message) -> str | None:
        """The contract message key for `msg`: MSH-9 `TYPE^TRIGGER`, else `TYPE` alone (`ACK`)."""
        key = msg.message_type
        if key in self._profiles:
            return key
        kind = key.split("^")[0]
        return kind if kind in self._profiles else None

    def check_message(self, msg: Message, direction: str | None = None) -> tuple[str | None, list[Finding]]:
        """(message key, findings) for a parsed message; parse findings stay on `msg.findings`.

        `direction` (from_hospital / to_hospital) is where the message was seen going; a message the contract
        sends the other way is an error.
        """
        if not msg.segments or msg.segments[0].name != "MSH":
            return None, []
        fields = msg.segments[0].fields
        count = len(fields)
        # what the header checks read: MSH-9, 12, 15 and 16 as written, the delimiters and the direction
        memo = (fields[9] if count > 9 else None, fields[12] if count > 12 else None,
                fields[15] if count > 15 else None, fields[16] if count > 16 else None, msg.seps, direction)
        known = self._heads.get(memo)
        if known is None:
            known = self._header_checks(msg, direction)
            if known[0] != "ACK":  # an ACK's checks read MSA-1 too
                if len(self._heads) >= HEADS_KEPT:
                    self._heads.clear()
                self._heads[memo] = known
        key, found = known
        findings = list(found)
        if key is None:
            return None, findings
        header = msg.findings + findings if msg.findings else findings
        findings.extend(_supersede(header, self._profiles[key].validate(msg)))
        return key, findings

    def _header_checks(self, msg: Message, direction: str | None) -> tuple[str | None, tuple[Finding, ...]]:
        """The message key and the findings of the header checks (type, version, structure, acknowledgement mode,
        direction): a function of MSH-9, 12, 15 and 16 (and MSA-1 for an ACK), so `check_message` keeps them per
        header seen."""
        findings: list[Finding] = []
        key = self.route(msg)
        mtype = msg.message_type
        if key is None:
            kind, _, trigger = mtype.partition("^")
            known = ", ".join(self._profiles)
            if not mtype:
                findings.append(Finding(Severity.ERROR, "MSH-9", "required field message type is missing", "usage"))
            elif any(k.split("^")[0] == kind for k in self._profiles):
                findings.append(Finding(Severity.ERROR, "MSH-9.2",
                                        f"trigger event {trigger or '(none)'} of {kind} is not in contract {self.contract.ref} "
                                        f"(known: {known})", "event"))
            else:
                findings.append(Finding(Severity.ERROR, "MSH-9.1",
                                        f"message type {mtype} is not in contract {self.contract.ref} (known: {known})",
                                        "message_type"))
            return None, tuple(findings)
        profile = self._profiles[key].profile
        version = msg.version
        allowed = profile.versions or self.settings.versions
        if version and version not in allowed:
            findings.append(Finding(Severity.ERROR, "MSH-12", f"HL7 version {version} is not accepted for {key} "
                                    f"(accepted: {', '.join(allowed)})", "version"))
        structure = msg.structure
        if structure and structure != profile.structure and not (key == "ACK" and structure == "ACK"):
            findings.append(Finding(Severity.ERROR, "MSH-9.3",
                                    f"message structure {structure} does not match {profile.structure} of {key}", "message_type"))
        findings.extend(self._ack_mode(msg, key))
        if direction:
            findings.extend(self.direction_findings(key, direction))
        return key, tuple(findings)

    def direction_findings(self, key: str, direction: str) -> list[Finding]:
        """An error when message `key` travels the other way in this contract: ERR 200 at MSH-9.1 when no message of
        its type comes this way, 201 at MSH-9.2 when others of its type do (only the trigger is wrong)."""
        ops = self.contract.operations
        expected = ops[key].extra["direction"]
        if expected in ("both", direction):
            return []
        kind = key.split("^")[0]
        this_way = [k for k, op in ops.items() if k.split("^")[0] == kind and op.extra["direction"] in ("both", direction)]
        text = (f"{key} travels {expected.replace('_', ' ')} in this contract; it was seen going "
                f"{direction.replace('_', ' ')}")
        if this_way:
            return [Finding(Severity.ERROR, "MSH-9.2", f"{text} (this way: {', '.join(this_way)})", "event")]
        return [Finding(Severity.ERROR, "MSH-9.1", text, "message_type")]

    def _ack_mode(self, msg: Message, key: str) -> list[Finding]:
        findings = mode_findings(self.settings.ack, msg)
        if key == "ACK" and not self.settings.ack.enhanced:
            code = msg.get("MSA-1")
            if code in ("CA", "CE", "CR"):
                findings.append(Finding(Severity.ERROR, "MSA-1", f"{code} is an enhanced-mode accept acknowledgement; "
                                        "original mode answers AA, AE or AR", "value_set"))
        return findings

    # -- captures ---------------------------------------------------------------------------------------
    def validate_capture(self, raw: bytes) -> Checked:
        """Every message in a captured file (plain, several, FHS/BHS batch or MLLP-framed) with its findings.

        With several messages, each finding's location starts with the message number: `MSG[2]/PID-3.1`.
        """
        capture = split_capture(raw, self.settings.max_frame_bytes)
        findings = list(capture.findings)
        checked = [self.check(chunk) for chunk in capture.messages]
        if not checked:
            findings.append(Finding(Severity.ERROR, "", "no HL7 message in the capture", "parse"))
            return Checked("unknown", None, findings, [])
        many = len(checked) > 1
        for number, item in enumerate(checked, 1):
            for finding in item.findings:
                if many:
                    where = f"MSG[{number}]/{finding.location}" if finding.location else f"MSG[{number}]"
                    finding = Finding(finding.severity, where, finding.message, finding.rule)
                findings.append(finding)
        keys: list[str] = []
        for item in checked:
            if item.operation and item.operation not in keys:
                keys.append(item.operation)
        kind = "batch" if capture.batch else ("messages" if many else checked[0].kind)
        if not any(item.operation for item in checked):
            kind = "unknown"
        return Checked(kind, ",".join(keys) or None, findings, [item.message for item in checked])


_VALUE_RULES = frozenset({"value_set", "format", "length", "components", "escape"})


def _supersede(header: list[Finding], found: list[Finding]) -> list[Finding]:
    """`found` (the profile's findings) without those about a value the header checks already reported on (the
    version table and the accepted versions, MSH-18's value set and the charset rules ...): one finding per defect.
    A required element missing is kept: that is a defect of its own."""
    if not header or not found:
        return found
    places = {f.location for f in header if f.severity is not Severity.INFO and f.location}
    if not places:
        return found
    return [f for f in found if f.rule not in _VALUE_RULES
            or not any(f.location == p or f.location.startswith(p + ".") for p in places)]


def validate_capture(contract: Contract, raw: bytes) -> Checked:
    """The capture validator `hih validate` uses for hl7v2-mllp contracts."""
    validator = contract.extra.get("hl7_validator")
    if not isinstance(validator, HL7Validator):
        validator = HL7Validator(contract)
        contract.extra["hl7_validator"] = validator
    return validator.validate_capture(raw)
