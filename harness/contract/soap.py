"""SOAP contracts (transport `soap`): WSDL 1.1 document/literal + XSD, loaded into a `SoapSpec`.

contract.yaml names the WSDL (SOAP 1.1, or 1.2 where its binding says so), describes each operation (name,
SOAPAction, kind, idempotency, string-carried payload records), the auth header, the result-code convention, the
payload record types (an XSD each) and which code tables explain which XSD enumerations. Loading compiles the
WSDL with zeep and every schema with lxml; each problem is reported as `path:line: message`. The format is
documented in docs/soap.md; validation of messages is in `soap_validate.py`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from harness.contract import xmlsafe
from harness.contract.errors import ContractProblem
from harness.contract.loader import register_format
from harness.contract.model import Contract, Operation
from harness.contract.soap_wsdl import (
    SOAP11_ENV,
    SOAP12_ENV,
    WSDL,
    XS,
    Compiled,
    Structure,
    check_structure,
    clark,
    compile_schemas,
    compile_zeep,
    local_name,
    served_documents,
)
from harness.contract.source import SourceFile, escape_pointer_token

TRANSPORT = "soap"


@dataclass(frozen=True)
class AuthSpec:
    """The SOAP header that carries credentials: its element, the children holding them, who may skip it."""

    header: str
    credentials: tuple[str, ...]
    exempt: frozenset[str] = frozenset()
    fault_code: str = "Client.Auth"
    description: str = ""


@dataclass(frozen=True)
class ResultSpec:
    """Business outcomes are not faults: each response carries a result code (and message) element."""

    code: str
    message: str | None
    success: tuple[str, ...]
    table: str | None = None


@dataclass(frozen=True)
class PayloadType:
    """A record type carried as an XML document in the text of an operation element, with its own XSD."""

    name: str
    title: str
    schema: str
    root: str


@dataclass(frozen=True)
class PayloadSpec:
    """Where an operation carries payload records: element path under the body root, how the type is chosen."""

    element: tuple[str, ...]
    type_field: tuple[str, ...] | None = None
    encoding: str = "text"
    types: tuple[str, ...] = ()


@dataclass(frozen=True)
class SoapOperation:
    name: str
    soap_action: str
    input: str | None
    output: str | None
    headers: tuple[str, ...] = ()
    auth: bool = False
    payload: PayloadSpec | None = None


class LockedSchema:
    """An lxml XMLSchema with a lock: its error log is per object, so one validation at a time."""

    def __init__(self, schema: etree.XMLSchema) -> None:
        self.schema = schema
        self.lock = threading.Lock()

    def errors(self, element: etree._Element) -> list[Any]:
        """The error log entries for `element` (empty when valid)."""
        with self.lock:
            if self.schema.validate(element):
                return []
            return list(self.schema.error_log)


@dataclass
class SoapSpec:
    """Everything a SOAP contract says, compiled: the zeep binding (codec), the lxml validators, the routing."""

    wsdl: str
    version: str
    envelope_ns: str
    service: str
    port: str
    address: str
    path: str
    max_bytes: int
    binding: Any
    document: Any
    operations: dict[str, SoapOperation]
    by_action: dict[str, str]
    by_input: dict[str, list[str]]
    by_output: dict[str, list[str]]
    validators: dict[str, LockedSchema]
    """Strict validators by target namespace (the WSDL's schemas, each with its imports)."""
    auth: AuthSpec | None = None
    results: ResultSpec | None = None
    payload_types: dict[str, PayloadType] = field(default_factory=dict)
    payload_validators: dict[str, LockedSchema] = field(default_factory=dict)
    """By payload type name."""
    payload_roots: dict[str, str] = field(default_factory=dict)
    """Root element (Clark) -> payload type name."""
    value_sets: dict[str, str] = field(default_factory=dict)
    """XSD simple type (Clark) -> code table name."""
    served: dict[str, bytes] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return "text/xml; charset=utf-8" if self.version == "1.1" else "application/soap+xml; charset=utf-8"

    def validator_for(self, tag: str) -> LockedSchema | None:
        return self.validators.get(tag[1:].split("}", 1)[0] if tag.startswith("{") else "")

    def zeep_operation(self, name: str) -> Any:
        return self.binding.get(name)


def spec_of(contract: Contract) -> SoapSpec:
    """The compiled SOAP part of a loaded `soap` contract."""
    spec = contract.extra.get("soap")
    if not isinstance(spec, SoapSpec):
        raise ValueError(f"{contract.ref} is not a {TRANSPORT} contract")
    return spec


# -- loading ------------------------------------------------------------------------------------------------------
class _Names:
    """QNames written in contract.yaml: `prefix:local` (contract `namespaces`, else the WSDL's prefixes) or `{uri}local`."""

    def __init__(self, declared: dict[str, str], wsdl: etree._Element) -> None:
        self.map = {k: v for k, v in wsdl.nsmap.items() if k}
        self.map.update(declared)
        self.target = wsdl.get("targetNamespace") or ""

    def resolve(self, text: str) -> str | None:
        if text.startswith("{"):
            return text
        prefix, _, local = text.rpartition(":")
        if not prefix:
            return clark(self.target, local)
        namespace = self.map.get(prefix)
        return clark(namespace, local) if namespace else None


def _path(text: str | None) -> tuple[str, ...] | None:
    return tuple(text.split("/")) if text else None


def _child_names(zeep_element: Any) -> list[str]:
    try:
        return [name for name, _ in zeep_element.type.elements]
    except AttributeError:
        return []


def _follow(document: Any, element: str, path: tuple[str, ...]) -> Any:
    """The zeep element at `path` (local names) under the global element `element`, or None."""
    try:
        node = document.types.get_element(element)
    except Exception:  # noqa: BLE001 - zeep's lookup errors are all "not there"
        return None
    for step in path:
        children = dict(getattr(node.type, "elements", []) or [])
        if step not in children:
            return None
        node = children[step]
    return node


def _enumerations(simple_type: etree._Element) -> list[str] | None:
    restriction = simple_type.find(f"{{{XS}}}restriction")
    if restriction is None:
        return None
    values = [e.get("value", "") for e in restriction.iterfind(f"{{{XS}}}enumeration")]
    return values or None


def _load(source: SourceFile, contract: Contract) -> list[ContractProblem]:
    data: dict[str, Any] = source.data
    folder = contract.folder
    soap = data["soap"]
    problems: list[ContractProblem] = []
    wsdl_rel = soap["wsdl"]
    wsdl_path = folder / wsdl_rel
    if not wsdl_path.is_file():
        return [source.problem("/soap/wsdl", f"WSDL file {wsdl_rel!r} not found")]
    payload_types = data.get("payload_types") or {}
    payload_files: list[Path] = []
    for name, ptype in payload_types.items():
        schema_path = folder / ptype["schema"]
        if not schema_path.is_file():
            problems.append(source.problem(f"/payload_types/{escape_pointer_token(name)}/schema", f"schema file {ptype['schema']!r} not found"))
        else:
            payload_files.append(schema_path)
    compiled, found = compile_schemas(folder, wsdl_path, payload_files)
    problems.extend(found)
    if compiled is None:
        return problems
    services = {s.get("name"): s for s in compiled.wsdl.iterfind(f"{{{WSDL}}}service")}
    if soap.get("service") and soap["service"] not in services:
        known = ", ".join(str(name) for name in services) or "none"
        return [*problems, source.problem("/soap/service", f"the WSDL has no service {soap['service']!r} (it has: {known})")]
    if soap.get("port"):
        chosen = services.get(soap.get("service")) if soap.get("service") else next(iter(services.values()), None)
        ports = [p.get("name") for p in chosen.iterfind(f"{{{WSDL}}}port")] if chosen is not None else []
        if soap["port"] not in ports:
            known = ", ".join(str(name) for name in ports) or "none"
            return [*problems, source.problem("/soap/port", f"the WSDL's service has no port {soap['port']!r} (it has: {known})")]
    structure, found = check_structure(compiled, soap.get("service"), soap.get("port"))
    problems.extend(found)
    if structure is None:
        return problems
    document, found = compile_zeep(folder, wsdl_path)
    problems.extend(found)
    if document is None or problems:
        return problems
    names = _Names(data.get("namespaces") or {}, compiled.wsdl)
    spec = _spec(source, contract, compiled, structure, document, names, problems)
    if spec is not None and not problems:
        contract.extra["soap"] = spec
        contract.schemas[wsdl_rel] = compiled.wsdl
        for doc in compiled.docs.values():
            contract.schemas[doc.path.resolve().relative_to(folder.resolve()).as_posix()] = doc.root
    return problems


def _spec(source: SourceFile, contract: Contract, compiled: Compiled, structure: Structure, document: Any,
          names: _Names, problems: list[ContractProblem]) -> SoapSpec | None:
    data: dict[str, Any] = source.data
    soap = data["soap"]
    folder = contract.folder
    version = structure.soap_version
    if soap.get("version") and soap["version"] != version:
        problems.append(source.problem("/soap/version", f"soap.version {soap['version']!r} but binding "
                                                         f"{structure.binding!r} is SOAP {version}"))
    try:
        binding = document.services[structure.service].ports[structure.port].binding
    except KeyError:
        problems.append(source.problem("/soap/wsdl", f"zeep found no port {structure.port!r} in service {structure.service!r}"))
        return None
    address_path = urlsplit(structure.address).path or f"/{structure.service}"
    path = soap.get("path") or address_path
    # auth
    auth: AuthSpec | None = None
    if "auth" in data:
        a = data["auth"]
        header = names.resolve(a["header"])
        if header is None:
            problems.append(source.problem("/auth/header", f"{a['header']!r}: namespace prefix not declared (namespaces)"))
        elif header not in compiled.elements:
            problems.append(source.problem("/auth/header", f"{a['header']!r} is not a global element of the WSDL's schemas"))
        else:
            children = _child_names(document.types.get_element(header))
            for index, cred in enumerate(a["credentials"]):
                if cred not in children:
                    problems.append(source.problem(f"/auth/credentials/{index}", f"{cred!r} is not a child of {local_name(header)} "
                                                                                 f"(it has: {', '.join(children) or 'none'})"))
        for index, op_name in enumerate(a.get("except") or []):
            if op_name not in data["operations"]:
                problems.append(source.problem(f"/auth/except/{index}", f"unknown operation {op_name!r}"))
        auth = AuthSpec(header or a["header"], tuple(a["credentials"]), frozenset(a.get("except") or []),
                        a.get("fault_code", "Client.Auth"), a.get("description", ""))
    results: ResultSpec | None = None
    if "results" in data:
        r = data["results"]
        results = ResultSpec(r["code"], r.get("message"), tuple(str(s) for s in r["success"]), r.get("table"))
        if results.table and results.table not in contract.code_tables:
            problems.append(source.problem("/results/table", f"unknown code table {results.table!r}"))
        elif results.table:
            for index, code in enumerate(results.success):
                if code not in contract.code_tables[results.table].values:
                    problems.append(source.problem(f"/results/success/{index}", f"success code {code!r} is not in code table {results.table!r}"))
    # payload types
    ptypes: dict[str, PayloadType] = {}
    roots: dict[str, str] = {}
    validators: dict[str, LockedSchema] = {}
    for name, p in (data.get("payload_types") or {}).items():
        pointer = f"/payload_types/{escape_pointer_token(name)}"
        root = names.resolve(p["root"])
        schema_path = (folder / p["schema"]).resolve()
        if root is None:
            problems.append(source.problem(f"{pointer}/root", f"{p['root']!r}: namespace prefix not declared (namespaces)"))
            continue
        declared = compiled.elements.get(root)
        if declared is None or declared[0].resolve() != schema_path and not _declared_within(compiled, schema_path, root):
            problems.append(source.problem(f"{pointer}/root", f"{p['root']!r} is not a global element of {p['schema']}"))
            continue
        if root in roots:
            problems.append(source.problem(f"{pointer}/root", f"root {p['root']!r} is also the root of payload type {roots[root]!r}"))
            continue
        ptypes[name] = PayloadType(name, p.get("title", name), p["schema"], root)
        roots[root] = name
        validators[name] = LockedSchema(compiled.payload_schemas[schema_path])
    # value sets: the XSD enumeration is the authority, the code table must explain exactly its codes
    value_sets: dict[str, str] = {}
    for qname, table in (data.get("value_sets") or {}).items():
        pointer = f"/value_sets/{escape_pointer_token(qname)}"
        resolved = names.resolve(qname)
        if table not in contract.code_tables:
            problems.append(source.problem(pointer, f"unknown code table {table!r}"))
            continue
        simple = compiled.simple_types.get(resolved or "")
        if simple is None:
            problems.append(source.problem(pointer, f"{qname!r} is not a named simple type of the contract's schemas"))
            continue
        enums = _enumerations(simple)
        if enums is None:
            problems.append(source.problem(pointer, f"{qname!r} has no enumeration"))
            continue
        codes = set(contract.code_tables[table].values)
        missing = [v for v in enums if v not in codes]
        extra = sorted(codes - set(enums))
        if missing:
            problems.append(source.problem(pointer, f"code table {table!r} gives no meaning for {', '.join(map(repr, missing))} "
                                                    f"of the enumeration of {qname}"))
        if extra:
            problems.append(source.problem(pointer, f"code table {table!r} has codes the enumeration of {qname} does not allow: "
                                                    f"{', '.join(map(repr, extra))}"))
        value_sets[resolved or qname] = table
    # operations: the contract lists exactly the bound operations
    operations: dict[str, SoapOperation] = {}
    listed = data["operations"]
    for name, bound_op in structure.operations.items():
        if name not in listed:
            problems.append(ContractProblem(compiled.wsdl_path, bound_op.line, f"operation {name!r} is not described in "
                                                                            f"{source.path.name} (operations)"))
    for name, o in listed.items():
        pointer = f"/operations/{escape_pointer_token(name)}"
        bound = structure.operations.get(name)
        if bound is None:
            known = ", ".join(structure.operations) or "none"
            problems.append(source.problem(pointer, f"operation {name!r} is not in binding {structure.binding!r} (it has: {known})"))
            continue
        if "soap_action" in o and o["soap_action"] != bound.soap_action:
            problems.append(source.problem(f"{pointer}/soap_action", f"soap_action {o['soap_action']!r} differs from the WSDL's "
                                                                     f"soapAction {bound.soap_action!r}"))
        needs_auth = o.get("auth", auth is not None and name not in auth.exempt)
        if needs_auth and auth is None:
            problems.append(source.problem(f"{pointer}/auth", "auth: true but the contract describes no auth header"))
        if needs_auth and auth is not None and auth.header not in bound.headers:
            problems.append(ContractProblem(compiled.wsdl_path, bound.line,
                                            f"operation {name!r} needs the auth header but its binding input declares no "
                                            f"soap:header for {local_name(auth.header)}"))
        if results is not None and bound.output_element:
            children = _child_names(document.types.get_element(bound.output_element))
            for key in (results.code, results.message):
                if key and key not in children:
                    problems.append(source.problem(pointer, f"the response {local_name(bound.output_element)} of {name} has no "
                                                            f"{key} element (results)"))
        payload = None
        if "payload" in o:
            p = o["payload"]
            element = _path(p["element"]) or ()
            type_field = _path(p.get("type_field"))
            assert bound.input_element is not None
            if _follow(document, bound.input_element, element) is None:
                problems.append(source.problem(f"{pointer}/payload/element", f"{p['element']!r} is not an element path "
                                                                             f"under {local_name(bound.input_element)}"))
            if type_field and _follow(document, bound.input_element, type_field) is None:
                problems.append(source.problem(f"{pointer}/payload/type_field", f"{p['type_field']!r} is not an element path "
                                                                                f"under {local_name(bound.input_element)}"))
            if not ptypes and not problems:
                problems.append(source.problem(f"{pointer}/payload", "payload needs payload_types"))
            for index, tname in enumerate(p.get("types") or []):
                if tname not in (data.get("payload_types") or {}):
                    problems.append(source.problem(f"{pointer}/payload/types/{index}", f"unknown payload type {tname!r}"))
            payload = PayloadSpec(element, type_field, p.get("encoding", "text"), tuple(p.get("types") or ()))
        operations[name] = SoapOperation(name, bound.soap_action, bound.input_element, bound.output_element,
                                         tuple(bound.headers), needs_auth, payload)
        contract.operations[name] = Operation(
            key=name, name=o["name"], name_en=o.get("name_en", ""), kind=o.get("kind", "write"),
            idempotent=o.get("idempotent", False), input_schema=bound.input_element, output_schema=bound.output_element,
            path=path.lstrip("/"), extra={"soap_action": bound.soap_action, "auth": needs_auth,
                                          "payload": p["element"] if payload else None},
        )
    if problems:
        return None
    by_action: dict[str, str] = {}
    by_input: dict[str, list[str]] = {}
    by_output: dict[str, list[str]] = {}
    for op in operations.values():
        if op.soap_action:
            by_action.setdefault(op.soap_action, op.name)
        if op.input:
            by_input.setdefault(op.input, []).append(op.name)
        if op.output:
            by_output.setdefault(op.output, []).append(op.name)
    wsdl_rel = data["soap"]["wsdl"]
    return SoapSpec(
        wsdl=wsdl_rel, version=version, envelope_ns=SOAP12_ENV if version == "1.2" else SOAP11_ENV,
        service=structure.service, port=structure.port, address=structure.address, path=path,
        max_bytes=int(soap.get("max_bytes", xmlsafe.DEFAULT_MAX_BYTES)), binding=binding, document=document,
        operations=operations, by_action=by_action, by_input=by_input, by_output=by_output,
        validators={ns: LockedSchema(s) for ns, s in compiled.by_namespace.items()},
        auth=auth, results=results, payload_types=ptypes, payload_validators=validators, payload_roots=roots,
        value_sets=value_sets, served=served_documents(folder, compiled, wsdl_rel),
    )


def _declared_within(compiled: Compiled, schema_path: Path, root: str) -> bool:
    """True when `root` is declared in a file that `schema_path` includes or imports (directly or not)."""
    declared = compiled.elements.get(root)
    if declared is None:
        return False
    seen: set[Path] = set()
    todo = [schema_path]
    while todo:
        current = todo.pop()
        if current in seen or current not in compiled.docs:
            continue
        seen.add(current)
        if current == declared[0].resolve():
            return True
        for imp in compiled.docs[current].root.iter(f"{{{XS}}}import", f"{{{XS}}}include"):
            location = imp.get("schemaLocation")
            if location:
                todo.append((current.parent / location).resolve())
    return False


register_format(TRANSPORT, _load, "soap.schema.json")


def _capture(contract: Contract, raw: bytes) -> Any:
    from harness.contract.soap_validate import SoapValidator

    return SoapValidator(contract).validate_capture(raw)


def _register_capture() -> None:
    from harness.contract.validate import register_capture_validator

    register_capture_validator(TRANSPORT, _capture)


_register_capture()
