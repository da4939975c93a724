"""Which build of a connector a run verified: the identity the run history, summary.json and the sign-off pack use.

A connector is named by its `module:factory`, but the code behind that name changes between releases; flaky
scenarios must be told apart from a changed connector. The identity is, first match wins:

1. `env`: `HIH_CONNECTOR_VERSION`, for black-box runs where hih cannot see the code: one value for every
   interface (`5.2.1`) or one per interface (`lis=5.2.1,pacs=3.0`);
2. `listener`: the hospital's own listener of a black-box HL7 run (`HIH_LIS_LISTENER`), as HOST:PORT;
3. `version`: a version the connector reports: `connector_version` on the factory or its module (a string, or a
   function without arguments that returns one, e.g. asking the vendor's program), else the module's `__version__`;
4. `files-sha256`: the SHA-256 of the connector's module files: its module and every module of the same top-level
   package it imports, directly or through another (so `connectors.lis` covers `connectors.hl7_common`), listed
   like `sha256sum` and hashed.

`git_commit` is the commit of the git checkout holding the module, when there is one.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from harness.bindings import connector_label, default_connector, module_file, outside_listener
from harness.errors import UsageError
from harness.report.manifest import sha256_file

ENV = "HIH_CONNECTOR_VERSION"
REFERENCE = "reference"
GIT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ConnectorIdentity:
    name: str
    """The full name: `module:factory`, with the hospital's listener when one is given."""
    label: str
    """A short name for tables: `reference` for hih's own connectors."""
    kind: str
    """`files-sha256`, `version`, `env` or `listener`."""
    value: str
    git_commit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def key(self) -> str:
        """What the run history compares: kind and value."""
        return f"{self.kind}:{self.value}"


def env_versions(interface: str) -> str | None:
    """The value `HIH_CONNECTOR_VERSION` gives `interface`, or None; a malformed value is a UsageError."""
    given = os.environ.get(ENV, "").strip()
    if not given:
        return None
    if "=" not in given:
        return given
    found: dict[str, str] = {}
    for part in given.split(","):
        name, sep, version = part.partition("=")
        if not sep or not name.strip() or not version.strip():
            raise UsageError(f"{ENV}={given!r}: expected VERSION or NAME=VERSION[,NAME=VERSION...]")
        found[name.strip()] = version.strip()
    return found.get(interface)


def identify(interface: str, spec: str, factory: Callable[..., Any]) -> ConnectorIdentity:
    """The identity of the connector `spec` (already imported as `factory`) for `interface`."""
    name = connector_label(interface, spec)
    listener = outside_listener(interface)
    reference = spec == default_connector(interface)
    label = f"listener {listener[0]}:{listener[1]}" if listener else REFERENCE if reference else spec
    module_name = spec.partition(":")[0]
    module = sys.modules.get(module_name)
    found = module_file(module_name)
    origin = found.resolve() if found is not None else None
    commit = git_commit(origin.parent) if origin is not None else None
    declared = env_versions(interface)
    if declared is not None:
        return ConnectorIdentity(name, label, "env", declared, commit)
    if listener is not None:
        return ConnectorIdentity(name, label, "listener", f"{listener[0]}:{listener[1]}", None)
    reported = _reported_version(factory, module)
    if reported is not None:
        return ConnectorIdentity(name, label, "version", reported, commit)
    if origin is None:
        return ConnectorIdentity(name, label, "version", "unknown (module file not found)", commit)
    return ConnectorIdentity(name, label, "files-sha256", files_sha256(module_files(module_name, origin)), commit)


def _reported_version(factory: Callable[..., Any], module: Any) -> str | None:
    for owner in (factory, module):
        declared = getattr(owner, "connector_version", None)
        if callable(declared):
            try:
                declared = declared()
            except Exception as exc:  # noqa: BLE001 - the user's code: one line, not a traceback
                raise UsageError(f"connector_version() of {getattr(owner, '__name__', owner)} failed: "
                                 f"{type(exc).__name__}: {exc}") from None
        if isinstance(declared, str) and declared.strip():
            return declared.strip()
    version = getattr(module, "__version__", None)
    return version.strip() if isinstance(version, str) and version.strip() else None


def module_files(module_name: str, origin: Path) -> dict[str, Path]:
    """The module's file and those of the modules of its top-level package it imports, by dotted name."""
    top = module_name.split(".")[0]
    found: dict[str, Path] = {}
    queue = [(module_name, origin)]
    while queue:
        name, path = queue.pop()
        if name in found:
            continue
        found[name] = path
        for imported in _imports(name, path):
            if imported.split(".")[0] != top or imported in found:
                continue
            located = _locate(imported)
            if located is not None:
                queue.append((imported, located))
    return found


PARSE_TRIES = 3
"""How often a module's source is parsed when the parse fails with SystemError: CPython 3.11 (gh-106905) can fail
an `ast.parse` made while another thread of the process parses Python too (a traceback's carets, pytest's
assertion rewriting), and this runs on a thread beside pytest's start. The failure is the race's, not the file's:
parsed again, it reads."""


def _imports(name: str, path: Path) -> set[str]:
    """Dotted names a module imports (relative imports resolved against its package)."""
    try:
        source = path.read_bytes()
    except OSError:
        return set()
    for tries_left in range(PARSE_TRIES - 1, -1, -1):
        try:
            tree = ast.parse(source, filename=str(path))
            break
        except (SyntaxError, ValueError):
            return set()
        except SystemError:
            if not tries_left:
                raise
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[:len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, *([base] if base else [])])
            if base:
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return names


def _locate(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None
    if spec is None or not spec.origin or not spec.has_location:
        return None
    path = Path(spec.origin)
    return path.resolve() if path.suffix == ".py" and path.is_file() else None


def files_sha256(files: dict[str, Path]) -> str:
    """SHA-256 of the lines `<sha256>  <module name>` sorted by name: stable across checkouts in other folders."""
    listing = "".join(f"{sha256_file(path)}  {name}\n" for name, path in sorted(files.items()))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


@cache
def git_commit(folder: Path) -> str | None:
    """The commit checked out in the git work tree holding `folder`; None outside git or without git."""
    try:
        done = subprocess.run(["git", "-C", str(folder), "rev-parse", "--verify", "-q", "HEAD"], capture_output=True,
                              text=True, timeout=GIT_TIMEOUT_S, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) in (40, 64) else None
