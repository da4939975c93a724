"""JSON-over-HTTP contracts (the insurance platform): the format loader and the message validator."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from harness.contract import jsonsafe
from harness.contract.errors import ContractProblem
from harness.contract.findings import Finding, Severity
from harness.contract.json_schemas import SchemaSet
from harness.contract.loader import register_format
from harness.contract.model import Contract, HttpSettings, Operation, Rule, Signing
from harness.contract.rules import check_rules
from harness.contract.source import SourceFile

TRANSPORT = "http-json"


def _load(source: SourceFile, contract: Contract) -> list[ContractProblem]:
    data = source.data
    problems: list[ContractProblem] = []
    http = data["http"]
    contract.http = HttpSettings(
        base_path="/" + http["base_path"].strip("/"),
        single_endpoint=http.get("single_endpoint"),
        content_type=http.get("content_type", "application/json;charset=utf-8"),
    )
    if "signing" in data:
        s = data["signing"]
        contract.signing = Signing(s["scheme"], dict(s.get("headers", {})), s.get("algorithm", ""), s.get("max_skew_s", 300))
    contract.envelope = dict(data["envelope"])
    named: list[tuple[str, str]] = [(f"/envelope/{k}", v) for k, v in contract.envelope.items()]
    for key, tx in data["transactions"].items():
        contract.operations[key] = Operation(
            key=key,
            name=tx["name"],
            name_en=tx.get("name_en", ""),
            kind=tx.get("kind", "write"),
            idempotent=tx.get("idempotent", False),
            input_schema=tx["input"],
            output_schema=tx.get("output"),
            path=tx["path"].strip("/"),
            extra={"requires_sign_no": tx.get("requires_sign_no", True), "variant_of": tx.get("variant_of")},
        )
        named.append((f"/transactions/{key}/input", tx["input"]))
        if tx.get("output"):
            named.append((f"/transactions/{key}/output", tx["output"]))
    problems.extend(_variant_problems(source, contract))
    paths: dict[str, str] = {}
    for key, op in contract.operations.items():
        if op.path in paths:
            problems.append(source.problem(f"/transactions/{key}/path", f"path {op.path!r} is also used by {paths[op.path]}"))
        paths[op.path] = key
    for index, rule in enumerate(data.get("rules") or []):
        params = {k: v for k, v in rule.items() if k not in {"id", "kind", "where", "applies_to", "message"}}
        contract.rules.append(
            Rule(rule["id"], rule["kind"], rule["where"], tuple(rule["applies_to"]), params, rule.get("message", ""))
        )
        for op_key in rule["applies_to"]:
            if op_key not in contract.operations:
                problems.append(source.problem(f"/rules/{index}/applies_to", f"rule {rule['id']!r} names unknown transaction {op_key!r}"))
    for pointer, rel in named:
        if not (contract.folder / rel).is_file():
            problems.append(source.problem(pointer, f"schema file {rel!r} not found"))
    schemas = SchemaSet(contract.folder, contract.folder.resolve().as_uri(), contract.code_tables)
    problems.extend(schemas.load([rel for _, rel in named]))
    contract.schemas = dict(schemas.documents)
    contract.extra["schema_set"] = schemas
    return problems


def _variant_problems(source: SourceFile, contract: Contract) -> list[ContractProblem]:
    """`variant_of` must name another transaction of the contract, itself no variant."""
    problems = []
    for key, op in contract.operations.items():
        base = op.extra.get("variant_of")
        if base is None:
            continue
        pointer = f"/transactions/{key}/variant_of"
        if base == key or base not in contract.operations:
            problems.append(source.problem(pointer, f"{key} is a variant of {base!r}, which is not another transaction "
                                           "of this contract"))
        elif contract.operations[base].extra.get("variant_of"):
            problems.append(source.problem(pointer, f"{key} is a variant of {base}, itself a variant: name "
                                           f"{contract.operations[base].extra['variant_of']}"))
    return problems


def variant_base(contract: Contract, operation: str | None) -> str | None:
    """The transaction `operation` is a variant of (`2207` for `2207A`); `operation` itself when it is none."""
    op = contract.operations.get(operation) if operation else None
    base = op.extra.get("variant_of") if op is not None else None
    return base if isinstance(base, str) else operation


register_format(TRANSPORT, _load, "http-json.schema.json")


_STAMP = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})[ T]?(\d{2}):?(\d{2}):?(\d{2})")


@lru_cache(maxsize=4096)  # the stamps of one second recur in every message of that second
def _valid_stamp(text: str, fmt: str = "") -> bool:
    """True when `text` (yyyyMMddHHmmss or yyyy-MM-dd HH:mm:ss) is a real moment; strptime is ten times slower."""
    match = _STAMP.fullmatch(text)
    if match is None:
        return False
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


@dataclass
class Checked:
    """A message as the validator saw it: which operation, what kind, and the findings."""

    kind: str  # request | response | gateway_error | unknown
    operation: str | None
    findings: list[Finding] = field(default_factory=list)
    body: Any = None


class HttpJsonValidator:
    """Validate request and response bodies of a JSON-over-HTTP contract: envelope, per-transaction schema, rules."""

    def __init__(self, contract: Contract) -> None:
        if contract.transport != TRANSPORT:
            raise ValueError(f"{contract.ref} is not an {TRANSPORT} contract")
        self.contract = contract
        self.schemas: SchemaSet = contract.extra["schema_set"]

    # -- requests ---------------------------------------------------------------------------------------
    def validate_request(self, body: Any, expected_operation: str | None = None) -> Checked:
        c = self.contract
        findings = self.schemas.validate(body, c.envelope["request"])
        infno = body.get("infno") if isinstance(body, dict) else None
        op = c.operation(infno) if isinstance(infno, str) else None
        if isinstance(infno, str) and op is None:
            findings.append(Finding(Severity.ERROR, "/infno", f"unknown transaction {infno!r} in contract {c.ref}", "transaction"))
        if expected_operation and infno != expected_operation:
            findings.append(
                Finding(Severity.ERROR, "/infno", f"infno {infno!r} posted to the path of {expected_operation}", "path")
            )
        if not isinstance(body, dict):
            return Checked("request", None, findings, body)
        findings.extend(self._format_findings(body))
        if op is not None:
            if op.extra.get("requires_sign_no", True) and not body.get("sign_no"):
                findings.append(Finding(Severity.ERROR, "/sign_no", "required after sign-in (9001)", "sign_no"))
            if "input" in body and op.input_schema:
                findings.extend(self.schemas.validate(body["input"], op.input_schema, "/input"))
            findings.extend(check_rules(c.rules, "request", op.key, body))
        return Checked("request", op.key if op else None, findings, body)

    def _format_findings(self, body: dict[str, Any]) -> list[Finding]:
        findings = []
        msgid = body.get("msgid")
        if isinstance(msgid, str) and "msgid" in self.contract.formats and self.contract.formats["msgid"].matches(msgid):
            if not _valid_stamp(msgid[12:26], "%Y%m%d%H%M%S"):
                findings.append(Finding(Severity.ERROR, "/msgid", f"characters 13-26 of {msgid!r} are not a valid yyyyMMddHHmmss", "format"))
        inf_time = body.get("inf_time")
        if isinstance(inf_time, str) and len(inf_time) == 19 and not _valid_stamp(inf_time, "%Y-%m-%d %H:%M:%S"):
            findings.append(Finding(Severity.ERROR, "/inf_time", f"{inf_time!r} is not a valid date and time", "format"))
        return findings

    # -- responses --------------------------------------------------------------------------------------
    def validate_response(self, body: Any, operation: str | None, request: Any = None) -> Checked:
        c = self.contract
        if isinstance(body, dict) and body.get("type") == "error" and "gateway_error" in c.envelope:
            return Checked("gateway_error", operation, self.schemas.validate(body, c.envelope["gateway_error"]), body)
        findings = self.schemas.validate(body, c.envelope["response"])
        if not isinstance(body, dict):
            return Checked("response", operation, findings, body)
        op = c.operation(operation) if operation else None
        success = str(body.get("infcode")) == "0"
        if success and op is not None:
            output = body.get("output")
            if op.output_schema:
                if output is None:
                    findings.append(Finding(Severity.ERROR, "/output", f"{op.key} answers with an output object", "output"))
                else:
                    findings.extend(self.schemas.validate(output, op.output_schema, "/output"))
            elif output not in (None, {}):
                findings.append(Finding(Severity.WARNING, "/output", f"{op.key} is write-only; output should be null", "output"))
            findings.extend(check_rules(c.rules, "response", op.key, body, request))
        if not success and not body.get("err_msg"):
            findings.append(Finding(Severity.WARNING, "/err_msg", "a failure should say why in err_msg", "err_msg"))
        for name in ("refmsg_time", "respond_time"):
            value = body.get(name)
            if isinstance(value, str) and len(value) == 17 and not _valid_stamp(value[:14], "%Y%m%d%H%M%S"):
                findings.append(Finding(Severity.ERROR, f"/{name}", f"{value!r} is not a valid yyyyMMddHHmmssSSS", "format"))
        return Checked("response", operation, findings, body)

    # -- captured files ---------------------------------------------------------------------------------
    def validate_capture(self, raw: bytes, transaction: str | None = None) -> Checked:
        """Validate a captured body whose kind is unknown: a request has `infno`, a response `infcode`; or a journal
        export (the admin API's `{"entries": [...]}`), each reply checked as the transaction of its request.

        A reply's transaction comes from `transaction` (`hih validate --transaction`), from an `infno` the gateway
        echoed, or from an output only one transaction's output schema can hold; otherwise only the envelope is
        checked: shapes several transactions share (2206, 2206A, 2207, 2207A, 2208) are never guessed between.
        """
        try:
            body = jsonsafe.loads(raw, self.contract.limits.max_depth or jsonsafe.DEFAULT_MAX_DEPTH)
        except jsonsafe.JsonRefused as exc:
            return Checked("unknown", None, [Finding(Severity.ERROR, "", exc.message, "json" if exc.reason != "depth" else "json-depth")])
        if isinstance(body, dict) and isinstance(body.get("entries"), list) and "infcode" not in body:
            return self._journal(body["entries"])
        if isinstance(body, dict) and "infno" in body and "infcode" not in body:
            checked = self.validate_request(body)
            if transaction and body.get("infno") != transaction:
                checked.findings.append(Finding(Severity.ERROR, "/infno", f"infno {body.get('infno')!r} but the capture "
                                                f"is said to be {transaction}", "transaction"))
            return checked
        if isinstance(body, dict) and "infcode" in body:
            return self._reply(body, transaction)
        return Checked("unknown", None, [Finding(Severity.ERROR, "", "neither a request (infno) nor a response (infcode)", "envelope")], body)

    def _reply(self, body: dict[str, Any], transaction: str | None, request: Any = None) -> Checked:
        named = body.get("infno") if isinstance(body.get("infno"), str) else None
        operation = transaction or named
        if operation is not None or body.get("type") == "error" or str(body.get("infcode")) != "0":
            return self.validate_response(body, operation, request)
        determined, candidates = self.determine(body.get("output"))
        checked = self.validate_response(body, determined, request)
        if determined is None:
            if candidates:
                checked.findings.append(Finding(Severity.INFO, "/output", "the reply does not say which transaction it "
                                                f"answers and its output fits {', '.join(candidates)}: only the envelope "
                                                "was checked (name it with --transaction)", "output"))
            else:
                checked.findings.append(Finding(Severity.WARNING, "/output", "matches no transaction's output schema; "
                                                "only the envelope was checked", "output"))
        return checked

    def determine(self, output: Any) -> tuple[str | None, list[str]]:
        """The one transaction whose output schema can hold `output` by its top-level keys (its required ones present,
        none unknown to it), and the candidates when that is not one; `null` and `{}` determine nothing."""
        if output is None or output == {}:  # what write-only transactions answer (some gateways send {})
            return None, [k for k, op in self.contract.operations.items() if not op.output_schema]
        if not isinstance(output, dict):
            return None, []
        keys = set(output)
        fits = []
        for key, op in self.contract.operations.items():
            if not op.output_schema:
                continue
            schema = self.schemas.documents.get(op.output_schema, {})
            top = set(schema.get("required", [])) | set(schema.get("properties", {}))
            if keys <= top and set(schema.get("required", [])) <= keys:
                fits.append(key)
        return (fits[0], fits) if len(fits) == 1 else (None, fits)

    def _journal(self, entries: list[Any]) -> Checked:
        """A journal export: each request, and its reply as the transaction the request named (with the request, so
        the rules that compare them apply). Locations point into the file: `/entries/3/response/output/...`."""
        findings: list[Finding] = []
        operations: list[str] = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                findings.append(Finding(Severity.ERROR, f"/entries/{index}", "not a journal entry", "envelope"))
                continue
            request, reply = entry.get("request"), entry.get("response")
            operation = None
            if isinstance(request, dict):
                checked = self.validate_request(request)
                operation = checked.operation
                findings.extend(_under(f"/entries/{index}/request", checked.findings))
            if isinstance(reply, dict):
                answer = self._reply(reply, operation or entry.get("operation"), request)
                findings.extend(_under(f"/entries/{index}/response", answer.findings))
            if operation and operation not in operations:
                operations.append(operation)
        return Checked("journal", ",".join(operations) or None, findings, entries)


def _under(prefix: str, findings: list[Finding]) -> list[Finding]:
    return [Finding(f.severity, prefix + f.location, f.message, f.rule) for f in findings]
