"""Compile the WSDL and XSD files of a SOAP contract, and say what is wrong with them as `path:line: message`.

Three passes, each on hardened parses of local files inside the contract folder only:
1. every reachable XSD (embedded in the WSDL, imported or included from there, payload record schemas) is read and
   compiled with lxml `XMLSchema`, the strict validator; imports are resolved by a resolver that refuses anything
   outside the folder;
2. the WSDL's own structure is checked with line numbers (messages, portType, binding, service, document/literal);
3. zeep compiles the WSDL (the codec the mock uses), with network and DTDs forbidden; its warnings are problems too.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree

from harness.contract import xmlsafe
from harness.contract.errors import ContractProblem

XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
WSDL_SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"
EMBEDDED = "hih-embedded:"
BASE_MARK = "__HIH_BASE_URL__"
"""Placeholder in the served WSDL and XSD texts, replaced by the mock's URL when they are served."""

_IMPORTS = (f"{{{XS}}}import", f"{{{XS}}}include", f"{{{XS}}}redefine")


def clark(namespace: str | None, local: str) -> str:
    return f"{{{namespace}}}{local}" if namespace else local


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def namespace_of(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def resolve_qname(element: etree._Element, value: str | None) -> str | None:
    """A `prefix:local` attribute value as a Clark name, with the element's in-scope namespaces; None if unbound."""
    if not value:
        return None
    prefix, _, local = value.rpartition(":")
    namespace = element.nsmap.get(prefix or None)
    if prefix and namespace is None:
        return None
    return clark(namespace, local)


def _inside(folder: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _local_path(url: str) -> Path | None:
    """The file a URL names when it is a local path (plain or file://); None for any other scheme."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme and len(parts.scheme) > 1:  # a one-letter scheme is a Windows drive
        return None
    return Path(url)


class FolderResolver(etree.Resolver):
    """Resolves schema imports to files inside the contract folder (and embedded WSDL schemas); refuses the rest."""

    def __init__(self, folder: Path, embedded: dict[str, bytes] | None = None) -> None:
        super().__init__()
        self.folder = folder.resolve()
        self.embedded = embedded or {}
        self.refused: list[str] = []

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:
        if system_url in self.embedded:
            return self.resolve_string(self.embedded[system_url], context, base_url=system_url)
        path = _local_path(system_url)
        if path is not None and _inside(self.folder, path) and path.is_file():
            return self.resolve_filename(str(path.resolve()), context)
        self.refused.append(system_url)
        return self.resolve_string(b"<refused/>", context, base_url=system_url)


def schema_parser(resolver: FolderResolver) -> etree.XMLParser:
    """A hardened parser whose documents resolve their schema imports through `resolver` only."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    parser.resolvers.add(resolver)
    return parser


@dataclass
class SchemaDoc:
    """One XSD document: a file of the folder, or a schema embedded in the WSDL (then `embedded` is its index)."""

    path: Path
    root: etree._Element
    embedded: int | None = None


@dataclass
class Compiled:
    """What compiling a SOAP contract's WSDL and XSDs produced."""

    wsdl_path: Path
    wsdl: etree._Element
    docs: dict[Path, SchemaDoc] = field(default_factory=dict)
    embedded: list[SchemaDoc] = field(default_factory=list)
    by_namespace: dict[str, etree.XMLSchema] = field(default_factory=dict)
    """Strict validators, one per target namespace of the WSDL's schemas (each includes its imports)."""
    payload_schemas: dict[Path, etree.XMLSchema] = field(default_factory=dict)
    elements: dict[str, tuple[Path, int]] = field(default_factory=dict)
    """Every global element declared anywhere: Clark name -> (file, line)."""
    simple_types: dict[str, etree._Element] = field(default_factory=dict)
    document: Any = None
    """The zeep `Document` of the WSDL."""
    served: dict[str, bytes] = field(default_factory=dict)
    """`wsdl` and each reachable XSD by its path relative to the folder, schemaLocations and address templated."""
    soap_version: str = "1.1"


# -- pass 1: the schemas ------------------------------------------------------------------------------------------
def _error_problems(log: Any, default_path: Path, line_offset: dict[str, Path] | None = None) -> list[ContractProblem]:
    problems = []
    seen = set()
    for entry in log:
        filename = entry.filename or ""
        if filename.startswith(EMBEDDED):
            continue  # reported where that embedded schema is compiled on its own, at its WSDL line
        path = _local_path(filename) if filename and filename != "<string>" else None
        where = path if path is not None and path.name else default_path
        key = (str(where), entry.line, entry.message)
        if key in seen:
            continue
        seen.add(key)
        problems.append(ContractProblem(where, entry.line, f"XSD: {clean_message(entry.message)}"))
    return problems


_NS_IN_BRACES = re.compile(r"\{[^{}'\s]*[:/][^{}'\s]*\}(?=[A-Za-z_])")


def clean_message(message: str) -> str:
    """An lxml message without namespace URIs in braces (`{urn:x}aboGroup` -> `aboGroup`) and trailing dots."""
    return _NS_IN_BRACES.sub("", message).strip().rstrip(".")


def _rebuild_embedded(wsdl_root: etree._Element, schema: etree._Element, parser: etree.XMLParser,
                      siblings: dict[str, str]) -> etree._Element:
    """A standalone copy of an embedded schema: namespaces inherited from <wsdl:definitions> re-declared, imports
    of sibling embedded schemas pointed at them. The children are moved, so their source lines stay."""
    nsmap: dict[str | None, str] = {k: v for k, v in {**wsdl_root.nsmap, **schema.nsmap}.items() if k is not None}
    default = schema.nsmap.get(None)
    if default is not None:
        nsmap[None] = default
    new = parser.makeelement(schema.tag, attrib=dict(schema.attrib), nsmap=nsmap)
    new.text = schema.text
    for child in list(schema):
        new.append(child)
    for imp in new.iter(f"{{{XS}}}import"):
        ns = imp.get("namespace")
        if not imp.get("schemaLocation") and ns in siblings:
            imp.set("schemaLocation", siblings[ns])
    return new


def _reachable(folder: Path, start: SchemaDoc, docs: dict[Path, SchemaDoc], problems: list[ContractProblem]) -> None:
    """Read every XSD file `start` imports or includes, recursively, checking each location."""
    for imp in start.root.iter(*_IMPORTS):
        location = imp.get("schemaLocation")
        if not location:
            continue
        line = imp.sourceline or 0
        if urlsplit(location).scheme and len(urlsplit(location).scheme) > 1:
            problems.append(ContractProblem(start.path, line, f"schemaLocation {location!r}: only files in the contract folder may be imported"))
            continue
        target = (start.path.parent / unquote(location)).resolve()
        if not _inside(folder, target):
            problems.append(ContractProblem(start.path, line, f"schemaLocation {location!r} is outside the contract folder"))
            continue
        if target in docs:
            continue
        if not target.is_file():
            problems.append(ContractProblem(start.path, line, f"schemaLocation {location!r}: file not found"))
            continue
        try:
            tree = xmlsafe.parse_file(target)
        except xmlsafe.XmlRefused as exc:
            problems.append(ContractProblem(target, exc.line, exc.message))
            continue
        root = tree.getroot()
        if root.tag != f"{{{XS}}}schema":
            problems.append(ContractProblem(target, root.sourceline or 1, f"not an XML Schema: root element {local_name(root.tag)!r}"))
            continue
        doc = SchemaDoc(target, root)
        docs[target] = doc
        _reachable(folder, doc, docs, problems)


def _index(doc: SchemaDoc, compiled: Compiled, target_ns: str | None = None) -> None:
    ns = doc.root.get("targetNamespace") if target_ns is None else target_ns
    for child in doc.root:
        if not isinstance(child.tag, str):
            continue
        name = child.get("name")
        if child.tag == f"{{{XS}}}element" and name:
            compiled.elements.setdefault(clark(ns, name), (doc.path, child.sourceline or 0))
        elif child.tag == f"{{{XS}}}simpleType" and name:
            compiled.simple_types.setdefault(clark(ns, name), child)


def _compile_schema(root: etree._Element, path: Path, resolver: FolderResolver,
                    problems: list[ContractProblem]) -> etree.XMLSchema | None:
    before = len(resolver.refused)
    try:
        schema = etree.XMLSchema(root.getroottree())
    except etree.XMLSchemaParseError as exc:
        found = _error_problems(exc.error_log, path)
        problems.extend(found or [ContractProblem(path, 0, f"XSD: {clean_message(str(exc))}")])
        return None
    if len(resolver.refused) > before:
        problems.extend(ContractProblem(path, 0, f"XSD: import of {url!r} refused") for url in resolver.refused[before:])
        return None
    return schema


def compile_schemas(folder: Path, wsdl_path: Path, payload_files: list[Path]) -> tuple[Compiled | None, list[ContractProblem]]:
    """Pass 1: parse the WSDL, read every reachable XSD, compile them with lxml."""
    problems: list[ContractProblem] = []
    try:
        wsdl_tree = xmlsafe.parse_file(wsdl_path)
    except xmlsafe.XmlRefused as exc:
        return None, [ContractProblem(wsdl_path, exc.line, exc.message)]
    except OSError as exc:
        return None, [ContractProblem(wsdl_path, 0, f"cannot read: {exc.strerror or exc}")]
    wsdl_root = wsdl_tree.getroot()
    if wsdl_root.tag != f"{{{WSDL}}}definitions":
        return None, [ContractProblem(wsdl_path, wsdl_root.sourceline or 1,
                                      f"not a WSDL 1.1 document: root element {wsdl_root.tag!r}, expected wsdl:definitions")]
    compiled = Compiled(wsdl_path, wsdl_root)
    for imp in wsdl_root.iter(f"{{{WSDL}}}import"):
        problems.append(ContractProblem(wsdl_path, imp.sourceline or 0,
                                        "wsdl:import is not supported: keep the WSDL in one file (XSDs may be imported)"))
    # The embedded schemas, each made standalone from a fresh parse (the rebuild moves nodes out of the tree).
    fresh = xmlsafe.parse_file(wsdl_path).getroot()
    embedded_roots = list(fresh.iterfind(f"{{{WSDL}}}types/{{{XS}}}schema"))
    siblings = {s.get("targetNamespace") or "": f"{EMBEDDED}{i}" for i, s in enumerate(embedded_roots)}
    resolver = FolderResolver(folder)
    parser = schema_parser(resolver)
    for index, schema in enumerate(embedded_roots):
        rebuilt = _rebuild_embedded(fresh, schema, parser, siblings)
        tree = etree.ElementTree(rebuilt)
        tree.docinfo.URL = str(wsdl_path)
        compiled.embedded.append(SchemaDoc(wsdl_path, rebuilt, index))
    resolver.embedded = {f"{EMBEDDED}{d.embedded}": _standalone_text(d.root, wsdl_path) for d in compiled.embedded}
    for doc in compiled.embedded:
        _index(doc, compiled)
        _reachable(folder, doc, compiled.docs, problems)
    for path in payload_files:
        target = path.resolve()
        if target in compiled.docs or not target.is_file():
            continue
        try:
            root = xmlsafe.parse_file(target).getroot()
        except xmlsafe.XmlRefused as exc:
            problems.append(ContractProblem(target, exc.line, exc.message))
            continue
        if root.tag != f"{{{XS}}}schema":
            problems.append(ContractProblem(target, root.sourceline or 1, f"not an XML Schema: root element {local_name(root.tag)!r}"))
            continue
        compiled.docs[target] = SchemaDoc(target, root)
        _reachable(folder, compiled.docs[target], compiled.docs, problems)
    for doc in list(compiled.docs.values()):
        _index(doc, compiled)
    # xs:include brings its declarations into the includer's namespace (chameleon includes have none of their own)
    for doc in list(compiled.docs.values()):
        for inc in doc.root.iter(f"{{{XS}}}include"):
            target = (doc.path.parent / unquote(inc.get("schemaLocation") or "")).resolve()
            if target in compiled.docs and not compiled.docs[target].root.get("targetNamespace"):
                _index(compiled.docs[target], compiled, doc.root.get("targetNamespace"))
    if problems:
        return None, _dedupe(problems)
    for doc in compiled.embedded:
        schema = _compile_schema(doc.root, wsdl_path, resolver, problems)
        if schema is not None:
            compiled.by_namespace[doc.root.get("targetNamespace") or ""] = schema
    for path in payload_files:
        target = path.resolve()
        if target in compiled.docs and target not in compiled.payload_schemas:
            # parsed again with the resolving parser (the file already passed the hardened read above)
            tree = etree.parse(str(target), parser)
            schema = _compile_schema(tree.getroot(), target, resolver, problems)
            if schema is not None:
                compiled.payload_schemas[target] = schema
    problems = _dedupe(problems)
    return (None if problems else compiled), problems


def _standalone_text(root: etree._Element, base: Path) -> bytes:
    """An embedded schema as text another embedded schema imports: file locations made absolute."""
    copy = etree.fromstring(etree.tostring(root))
    for imp in copy.iter(*_IMPORTS):
        location = imp.get("schemaLocation")
        if location and not location.startswith(EMBEDDED):
            imp.set("schemaLocation", str((base.parent / unquote(location)).resolve()))
    return bytes(etree.tostring(copy))


def _dedupe(problems: list[ContractProblem]) -> list[ContractProblem]:
    seen: set[tuple[str, int, str]] = set()
    out = []
    for p in problems:
        key = (str(p.path), p.line, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


# -- pass 2: the WSDL's structure ---------------------------------------------------------------------------------
@dataclass
class BoundOperation:
    """One operation as the chosen binding declares it."""

    name: str
    line: int
    soap_action: str
    input_element: str | None
    output_element: str | None
    headers: list[str]
    faults: list[str]


@dataclass
class Structure:
    """The parts of the WSDL the contract needs, found with their lines."""

    service: str
    port: str
    binding: str
    soap_version: str
    address: str
    address_line: int
    operations: dict[str, BoundOperation]


def _named(root: etree._Element, tag: str) -> dict[str, etree._Element]:
    target = root.get("targetNamespace")
    return {clark(target, e.get("name") or ""): e for e in root.iterfind(f"{{{WSDL}}}{tag}")}


def _soap_ns(element: etree._Element) -> str | None:
    for child in element:
        if isinstance(child.tag, str) and namespace_of(child.tag) in (WSDL_SOAP11, WSDL_SOAP12):
            return namespace_of(child.tag)
    return None


def check_structure(compiled: Compiled, service_name: str | None, port_name: str | None
                    ) -> tuple[Structure | None, list[ContractProblem]]:
    """Pass 2: messages, portType, binding and service, each problem at its WSDL line."""
    root, path = compiled.wsdl, compiled.wsdl_path
    problems: list[ContractProblem] = []

    def problem(element: etree._Element, message: str) -> None:
        problems.append(ContractProblem(path, element.sourceline or 0, message))

    def ref(element: etree._Element, attr: str, pool: dict[str, etree._Element], what: str) -> etree._Element | None:
        value = element.get(attr)
        name = resolve_qname(element, value)
        if value is None:
            problem(element, f"{local_name(element.tag)} has no {attr} attribute")
        elif name is None:
            problem(element, f"{attr}={value!r}: namespace prefix not declared")
        elif name not in pool:
            problem(element, f"{attr}={value!r}: no {what} of that name in the WSDL")
        else:
            return pool[name]
        return None

    messages = _named(root, "message")
    part_elements: dict[str, dict[str, str | None]] = {}
    for qname, message in messages.items():
        parts: dict[str, str | None] = {}
        for part in message.iterfind(f"{{{WSDL}}}part"):
            if part.get("element") is None:
                problem(part, f"part {part.get('name')!r} of message {local_name(qname)!r} has no element attribute: "
                              "document/literal messages carry one global element per part")
                parts[part.get("name") or ""] = None
                continue
            element = resolve_qname(part, part.get("element"))
            if element is None:
                problem(part, f"element={part.get('element')!r}: namespace prefix not declared")
            elif element not in compiled.elements:
                problem(part, f"element={part.get('element')!r}: no global element of that name in the WSDL's schemas")
            parts[part.get("name") or ""] = element
        part_elements[qname] = parts
    port_types = _named(root, "portType")
    abstract: dict[tuple[str, str], dict[str, etree._Element | None]] = {}
    for qname, port_type in port_types.items():
        for op in port_type.iterfind(f"{{{WSDL}}}operation"):
            io: dict[str, etree._Element | None] = {}
            for kind in ("input", "output"):
                node = op.find(f"{{{WSDL}}}{kind}")
                io[kind] = ref(node, "message", messages, "wsdl:message") if node is not None else None
                if node is None and kind == "input":
                    problem(op, f"operation {op.get('name')!r} has no wsdl:input")
            for fault in op.iterfind(f"{{{WSDL}}}fault"):
                ref(fault, "message", messages, "wsdl:message")
            abstract[(qname, op.get("name") or "")] = io
    bindings = _named(root, "binding")
    services = _named(root, "service")
    if not services:
        problem(root, "the WSDL declares no wsdl:service")
        return None, problems
    if service_name:
        matches = [s for q, s in services.items() if local_name(q) == service_name]
        if not matches:
            known = ", ".join(local_name(q) for q in services)
            problem(root, f"no wsdl:service named {service_name!r} (the WSDL has: {known})")
            return None, problems
        service = matches[0]
    elif len(services) > 1:
        problem(root, "the WSDL has several services: name one with soap.service in contract.yaml")
        return None, problems
    else:
        service = next(iter(services.values()))
    ports = list(service.iterfind(f"{{{WSDL}}}port"))
    if port_name:
        ports = [p for p in ports if p.get("name") == port_name]
        if not ports:
            problem(service, f"service {service.get('name')!r} has no port named {port_name!r}")
            return None, problems
    soap_ports = [p for p in ports if _soap_ns(p) is not None]
    if not soap_ports:
        problem(service, f"service {service.get('name')!r} has no SOAP port (soap:address)")
        return None, problems
    if len(soap_ports) > 1 and not port_name:
        names = ", ".join(p.get("name") or "" for p in soap_ports)
        problem(service, f"service {service.get('name')!r} has several SOAP ports ({names}): name one with soap.port")
        return None, problems
    port = soap_ports[0]
    soap_ns = _soap_ns(port) or WSDL_SOAP11
    address = port.find(f"{{{soap_ns}}}address")
    location = address.get("location", "") if address is not None else ""
    if address is None or not location:
        problem(port, "soap:address has no location")
    binding = ref(port, "binding", bindings, "wsdl:binding")
    if binding is None:
        return None, problems
    soap_binding = binding.find(f"{{{soap_ns}}}binding")
    if soap_binding is None:
        other = _soap_ns(binding)
        problem(binding, f"binding {binding.get('name')!r} has no soap:binding in the namespace of its port's address ({soap_ns})"
                         + (f"; it uses {other}" if other else ""))
        return None, problems
    if soap_binding.get("transport") != HTTP_TRANSPORT:
        problem(soap_binding, f"soap:binding transport must be {HTTP_TRANSPORT!r}, not {soap_binding.get('transport')!r}")
    binding_style = soap_binding.get("style", "document")
    port_type = ref(binding, "type", port_types, "wsdl:portType")
    if port_type is None:
        return None, problems
    pt_name = clark(root.get("targetNamespace"), port_type.get("name") or "")
    pt_ops = {op.get("name") or "" for op in port_type.iterfind(f"{{{WSDL}}}operation")}
    operations: dict[str, BoundOperation] = {}
    for op in binding.iterfind(f"{{{WSDL}}}operation"):
        name = op.get("name") or ""
        if name not in pt_ops:
            problem(op, f"binding operation {name!r} is not an operation of portType {port_type.get('name')!r}")
            continue
        soap_op = op.find(f"{{{soap_ns}}}operation")
        style = soap_op.get("style", binding_style) if soap_op is not None else binding_style
        if style != "document":
            problem(soap_op if soap_op is not None else op, f"operation {name!r} is {style}-style: only document/literal is supported")
        action = soap_op.get("soapAction", "") if soap_op is not None else ""
        io = abstract.get((pt_name, name), {})
        elements: dict[str, str | None] = {"input": None, "output": None}
        headers: list[str] = []
        for kind in ("input", "output"):
            node = op.find(f"{{{WSDL}}}{kind}")
            message = io.get(kind)
            if node is None:
                if message is not None:
                    problem(op, f"binding operation {name!r} has no wsdl:{kind}")
                continue
            body = node.find(f"{{{soap_ns}}}body")
            if body is None:
                problem(node, f"wsdl:{kind} of {name!r} has no soap:body")
                continue
            if body.get("use", "literal") != "literal":
                problem(body, f"soap:body use={body.get('use')!r}: only literal is supported")
            if message is None:
                continue
            parts = part_elements.get(clark(root.get("targetNamespace"), message.get("name") or ""), {})
            header_parts: set[str] = set()
            for header in node.iterfind(f"{{{soap_ns}}}header"):
                if header.get("use", "literal") != "literal":
                    problem(header, f"soap:header use={header.get('use')!r}: only literal is supported")
                hmsg = ref(header, "message", messages, "wsdl:message")
                if hmsg is None:
                    continue
                hparts = part_elements.get(clark(root.get("targetNamespace"), hmsg.get("name") or ""), {})
                part = header.get("part") or ""
                if part not in hparts:
                    problem(header, f"soap:header part={part!r}: message {hmsg.get('name')!r} has no such part")
                    continue
                element = hparts[part]
                if element and kind == "input":
                    headers.append(element)
                if hmsg is message:
                    header_parts.add(part)
            body_parts = [p for p in (body.get("parts") or "").split() if p] or [p for p in parts if p not in header_parts]
            if len(body_parts) != 1:
                problem(body, f"wsdl:{kind} of {name!r} puts {len(body_parts)} parts in the body: document/literal "
                              "carries exactly one element (WS-I BP R2201)")
                continue
            if body_parts[0] not in parts:
                problem(body, f"soap:body parts={body_parts[0]!r}: message {message.get('name')!r} has no such part")
                continue
            elements[kind] = parts[body_parts[0]]
        operations[name] = BoundOperation(name, op.sourceline or 0, action, elements["input"], elements["output"], headers,
                                          [f.get("name") or "" for f in op.iterfind(f"{{{WSDL}}}fault")])
    for missing in sorted(pt_ops - set(operations)):
        problem(binding, f"operation {missing!r} of portType {port_type.get('name')!r} is not bound")
    inputs: dict[str, str] = {}
    for op_ in operations.values():
        if op_.input_element is None:
            continue
        other = inputs.get(op_.input_element)
        if other is not None:
            first = operations[other]
            if not op_.soap_action or op_.soap_action == first.soap_action:
                problems.append(ContractProblem(path, op_.line, f"operations {other!r} and {op_.name!r} share the body element "
                                                                f"{local_name(op_.input_element)!r} and no distinct soapAction tells them apart"))
        inputs.setdefault(op_.input_element, op_.name)
    version = "1.2" if soap_ns == WSDL_SOAP12 else "1.1"
    structure = Structure(service.get("name") or "", port.get("name") or "", binding.get("name") or "", version,
                          location, (address.sourceline or 0) if address is not None else 0, operations)
    return (None if problems else structure), problems


# -- pass 3: zeep -------------------------------------------------------------------------------------------------
def compile_zeep(folder: Path, wsdl_path: Path) -> tuple[Any, list[ContractProblem]]:
    """The zeep Document of the WSDL, loaded from local files only with DTDs, entities and network forbidden."""
    from zeep import Settings
    from zeep.transports import Transport
    from zeep.wsdl import Document

    root = folder.resolve()

    class LocalTransport(Transport):
        def load(self, url: str) -> bytes:
            path = _local_path(url)
            if path is None or not _inside(root, path):
                raise ValueError(f"{url!r} is outside the contract folder: refused")
            return path.read_bytes()

    settings = Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True, xml_huge_tree=False)
    problems: list[ContractProblem] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            transport: Any = LocalTransport(cache=None)
            document = Document(str(wsdl_path), transport, settings=settings)
        except Exception as exc:  # noqa: BLE001 - zeep raises many unrelated types; each becomes a problem
            text = f"{type(exc).__name__}: {exc}" if not str(exc).startswith(type(exc).__name__) else str(exc)
            problems.append(ContractProblem(wsdl_path, _line_for(wsdl_path, str(exc)), f"zeep: {text}"))
            document = None
    for warning in caught:
        if issubclass(warning.category, DeprecationWarning):
            continue
        message = str(warning.message)
        problems.append(ContractProblem(wsdl_path, _line_for(wsdl_path, message), f"zeep: {message}"))
    return (None if problems else document), problems


def _line_for(path: Path, message: str) -> int:
    """Best guess at the WSDL line a zeep message is about: the first line naming a quoted name it mentions."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return 0
    for token in re.findall(r"'([^']+)'", message):
        name = local_name(token)
        for attr in ("name", "element", "message", "type", "binding"):
            for number, line in enumerate(lines, 1):
                if re.search(rf'\b{attr}="(?:[\w.-]+:)?{re.escape(name)}"', line):
                    return number
    return 1


# -- serving ------------------------------------------------------------------------------------------------------
def served_documents(folder: Path, compiled: Compiled, relpath: str) -> dict[str, bytes]:
    """The WSDL and every reachable XSD as a client fetches them from the mock: schemaLocations point at
    `?xsd=<path>` and the service address at the mock, both under BASE_MARK (replaced when served)."""
    root = folder.resolve()
    out: dict[str, bytes] = {}

    def template(path: Path) -> bytes:
        tree = xmlsafe.parse_file(path)
        for imp in tree.getroot().iter(*_IMPORTS):
            location = imp.get("schemaLocation")
            if location:
                target = (path.parent / unquote(location)).resolve()
                imp.set("schemaLocation", f"{BASE_MARK}?xsd={target.relative_to(root).as_posix()}")
        for ns in (WSDL_SOAP11, WSDL_SOAP12):
            for address in tree.getroot().iter(f"{{{ns}}}address"):
                address.set("location", BASE_MARK)
        return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))

    out[relpath] = template(compiled.wsdl_path)
    for doc in compiled.docs.values():
        out[doc.path.resolve().relative_to(root).as_posix()] = template(doc.path)
    return out

