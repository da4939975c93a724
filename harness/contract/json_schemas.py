"""JSON Schema (2020-12) documents of one contract: checked, cross-referenced, compiled, and used to validate.

The pure-Python stack (jsonschema, referencing, attrs: ≈ 45 ms to import) is imported only where it is needed: to
check a schema set that did not pass before (harness.contract.verdicts), and for the findings of an invalid message
or a contract diff; a valid message is answered by jsonschema-rs."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.contract import verdicts
from harness.contract.errors import ContractProblem
from harness.contract.findings import Finding, Severity, clip
from harness.contract.model import CodeTable
from harness.contract.source import SourceFile, escape_pointer_token, load_source

jsonschema_rs: Any
try:  # native 2020-12 validator: answers "valid?" ~500x faster; findings still come from `jsonschema`
    import jsonschema_rs
except ImportError:  # pragma: no cover - platforms without a wheel fall back to the pure-Python validator
    jsonschema_rs = None

if TYPE_CHECKING:
    import referencing
    from jsonschema import Draft202012Validator

CODES_FILE = "codes.json"
MAX_FINDINGS = 200
_REQUIRED = re.compile(r"^'(.+)' is a required property$")


def codes_schema(tables: dict[str, CodeTable]) -> dict[str, Any]:
    """The synthetic `codes.json` schema: one `$defs` entry per code table, so schemas bind with `$ref`."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {
            name: {"enum": list(table.values), "description": table.title} for name, table in tables.items()
        },
    }


def _walk_refs(node: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{pointer}/{escape_pointer_token(key)}"
            if key == "$ref" and isinstance(value, str):
                yield child, value
            else:
                yield from _walk_refs(value, child)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk_refs(value, f"{pointer}/{index}")


_SCHEMA_MAPS = {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
"""Keywords whose value maps names to subschemas (a property may be called `minimum`)."""
_DATA = {"enum", "const", "default", "examples"}
"""Keywords whose value is data, not schema."""


def tightened(node: Any) -> Any:
    """`node` with every fractional `minimum` raised and `maximum` lowered to a whole number: a stricter schema (what
    it accepts the original accepts). jsonschema-rs compares a float to a fractional bound about ten times slower
    than to a whole one (≈ 1 µs each: 30 µs for the 2207 output's amounts); the exact bound is asked only of what the
    stricter schema refuses (`SchemaSet.is_valid`)."""
    if isinstance(node, list):
        return [tightened(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: tightened(sub) for name, sub in value.items()}
        elif key in _DATA:
            out[key] = value
        elif key == "minimum" and isinstance(value, float) and math.isfinite(value):
            out[key] = math.ceil(value)
        elif key == "maximum" and isinstance(value, float) and math.isfinite(value):
            out[key] = math.floor(value)
        else:
            out[key] = tightened(value)
    return out


_META_FORMATS = {"regex", "uri", "uri-reference"}
"""The formats the 2020-12 meta-schema uses; jsonschema checks those it has a checker for."""


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            elif key == "patternProperties" and isinstance(value, dict):
                yield from value
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def check_schema(document: dict[str, Any]) -> None:
    """`Draft202012Validator.check_schema`, a few hundred times faster for a valid schema: the native meta-schema
    check, then every regular expression compiled as jsonschema's `regex` format check does. Anything either
    doubts (or a format checker beyond `regex` installed) goes to jsonschema, whose SchemaError names the place."""
    from jsonschema import Draft202012Validator

    fast = (jsonschema_rs is not None
            and _META_FORMATS & set(Draft202012Validator.FORMAT_CHECKER.checkers) <= {"regex"}
            and jsonschema_rs.meta.is_valid(document))
    if fast:
        try:
            for pattern in _patterns(document):
                re.compile(pattern)
        except (re.error, TypeError, RecursionError):
            fast = False
    if not fast:
        Draft202012Validator.check_schema(document)


def _schema_problem(source: SourceFile) -> ContractProblem | None:
    """`source` against the 2020-12 meta-schema: the first problem jsonschema names, located, or None."""
    import jsonschema

    try:
        check_schema(source.data)
    except jsonschema.SchemaError as exc:
        pointer = "".join(f"/{escape_pointer_token(str(p))}" for p in exc.absolute_path)
        return source.problem(pointer, f"invalid JSON Schema: {exc.message}")
    return None


class SchemaSet:
    """Every JSON schema file of a contract folder, registered under `hih://<interface>/<version>/<relpath>`."""

    def __init__(self, folder: Path, base_uri: str, tables: dict[str, CodeTable]) -> None:
        self.folder = folder
        self.base_uri = base_uri.rstrip("/") + "/"
        self.sources: dict[str, SourceFile] = {}
        self.documents: dict[str, Any] = {}
        self._tables = tables
        self._validators: dict[str, Draft202012Validator] = {}
        self._fast: dict[str, tuple[Any, Any]] = {}
        self._fast_registry: Any = None
        self._tight_registry: Any = None
        self._registry: referencing.Registry[Any] | None = None

    def uri(self, relpath: str) -> str:
        return self.base_uri + relpath

    @property
    def registry(self) -> referencing.Registry[Any]:
        """Every document (the code tables' too) as a `referencing` registry, built when first asked for: by the
        check of the references, the findings of an invalid message or a contract diff."""
        if self._registry is None:
            import referencing
            from referencing.jsonschema import DRAFT202012

            resources = [(self.uri(rel), DRAFT202012.create_resource(doc)) for rel, doc in self.documents.items()]
            self._registry = referencing.Registry().with_resources(resources).crawl()
        return self._registry

    def load(self, relpaths: list[str]) -> list[ContractProblem]:
        """Read and check the named files plus every other `*.json` in their folders; report, don't raise.

        A set whose every file, code table and name is as it was when it last passed is not checked again."""
        problems: list[ContractProblem] = []
        wanted = list(dict.fromkeys(relpaths))
        for folder in {Path(p).parent for p in wanted}:
            for extra in sorted((self.folder / folder).glob("*.json")):
                rel = extra.relative_to(self.folder).as_posix()
                if rel not in wanted:
                    wanted.append(rel)
        read: list[tuple[str, SourceFile | list[ContractProblem]]] = []
        for rel in wanted:
            path = self.folder / rel
            if not path.is_file():
                continue  # the caller reports missing files at the line that names them
            try:
                read.append((rel, load_source(path)))
            except Exception as exc:  # ContractError from the reader: keep every problem
                read.append((rel, getattr(exc, "problems", []) or [ContractProblem(path, 0, str(exc))]))
        codes_rel = (Path(relpaths[0]).parent / CODES_FILE).as_posix() if relpaths else CODES_FILE
        codes = codes_schema(self._tables)
        entry = self._entry(wanted, read, codes_rel, codes)
        checked = bool(entry) and (verdicts.vouched(self.folder) or verdicts.passed(entry))
        for rel, got in read:
            if isinstance(got, list):
                problems.extend(got)
            elif not isinstance(got.data, dict):
                problems.append(ContractProblem(got.path, 1, "a JSON schema must be an object"))
            elif checked or (problem := _schema_problem(got)) is None:
                self.sources[rel] = got
                self.documents[rel] = got.data
            else:
                problems.append(problem)
        self.documents[codes_rel] = codes
        if not checked:
            problems.extend(self._check_refs())
            if entry and not problems:
                verdicts.remember(entry)
        if jsonschema_rs is not None and not problems:
            self._fast_registry = jsonschema_rs.Registry([(self.uri(rel), doc) for rel, doc in self.documents.items()])
            self._tight_registry = jsonschema_rs.Registry([(self.uri(rel), tightened(doc))
                                                           for rel, doc in self.documents.items()])
        return problems

    def _entry(self, wanted: list[str], read: list[tuple[str, SourceFile | list[ContractProblem]]], codes_rel: str,
               codes: dict[str, Any]) -> str:
        """The verdict entry of this set (harness.contract.verdicts): its names, its files' texts, the code tables;
        none when a file could not be read (such a set is never remembered)."""
        digests = dict.fromkeys(wanted, "absent")
        for rel, got in read:
            if isinstance(got, list) or not got.digest:
                return ""
            digests[rel] = got.digest
        return verdicts.name("schema-set", __file__, self.base_uri, codes_rel,
                             json.dumps(codes, ensure_ascii=False, default=repr),
                             *(f"{rel}\0{digest}" for rel, digest in digests.items()))

    def _check_refs(self) -> list[ContractProblem]:
        import referencing.exceptions

        problems = []
        for rel, source in self.sources.items():
            resolver = self.registry.resolver(base_uri=self.uri(rel))
            for pointer, ref in _walk_refs(source.data):
                try:
                    resolver.lookup(ref)
                except referencing.exceptions.Unresolvable:
                    problems.append(source.problem(pointer, f"unknown reference {ref!r}"))
        return problems

    def validator(self, relpath: str) -> Draft202012Validator:
        cached = self._validators.get(relpath)
        if cached is None:
            from jsonschema import Draft202012Validator

            schema = {"$ref": self.uri(relpath)}
            cached = Draft202012Validator(schema, registry=self.registry)
            self._validators[relpath] = cached
        return cached

    def is_valid(self, instance: Any, relpath: str) -> bool | None:
        """The native validator's verdict, or None when it is not available."""
        if self._fast_registry is None:
            return None
        pair = self._fast.get(relpath)
        if pair is None:
            ref = {"$ref": self.uri(relpath)}
            pair = (jsonschema_rs.validator_for(ref, registry=self._tight_registry),
                    jsonschema_rs.validator_for(ref, registry=self._fast_registry))
            self._fast[relpath] = pair
        tight, exact = pair
        return bool(tight.is_valid(instance) or exact.is_valid(instance))

    def validate(self, instance: Any, relpath: str, base: str = "") -> list[Finding]:
        """Findings for `instance` against the schema file `relpath`, located as JSON pointers under `base`."""
        if self.is_valid(instance, relpath):
            return []  # the common case; only an invalid message pays for the detailed findings below
        findings: list[Finding] = []
        for error in self.validator(relpath).iter_errors(instance):
            if len(findings) == MAX_FINDINGS:  # a hostile body can break a rule a million times: say so once
                findings.append(Finding(Severity.ERROR, base or "/", f"more than {MAX_FINDINGS} findings; the rest are "
                                        "not listed", rule="limit"))
                break
            pointer = base + "".join(f"/{escape_pointer_token(str(p))}" for p in error.absolute_path)
            message = clip(error.message)
            if error.validator == "required":
                match = _REQUIRED.match(message)
                if match:
                    pointer = f"{pointer}/{escape_pointer_token(match.group(1))}"
                    message = "required field is missing"
            findings.append(Finding(Severity.ERROR, pointer, message, rule=str(error.validator)))
        findings.sort(key=lambda f: f.location)
        return findings
