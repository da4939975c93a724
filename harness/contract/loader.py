"""Load a contract folder into a typed Contract, and find contracts by interface and version."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path
from stat import S_ISREG
from typing import TYPE_CHECKING, Any

from harness.contract import verdicts
from harness.contract.clock import clock_skew
from harness.contract.errors import ContractError, ContractProblem
from harness.contract.model import CodeTable, Contract, Format, Limits
from harness.contract.sla import sla_of
from harness.contract.source import SourceFile, escape_pointer_token, load_source
from harness.contract.versions import VersionDates, in_force, newest, parse_day, upcoming, version_key
from harness.errors import UsageError

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

CONTRACT_FILE = "contract.yaml"
META = Path(__file__).parent / "meta"

FormatLoader = Callable[[SourceFile, Contract], list[ContractProblem]]
"""Fills the transport-specific parts of a Contract from its contract.yaml; returns the problems found."""

_FORMATS: dict[str, tuple[FormatLoader, str | None]] = {}


def register_format(transport: str, loader: FormatLoader, meta_schema: str | None = None) -> None:
    """Teach the loader a transport (`http-json`, `soap`, `hl7v2-mllp`), with an optional meta-schema file."""
    _FORMATS[transport] = (loader, meta_schema)


@cache
def _meta_text(name: str) -> str:
    return (META / name).read_text(encoding="utf-8")


@cache
def _meta_validator(name: str) -> Draft202012Validator:
    import jsonschema  # ~45 ms to import: only when a contract is checked, not when its check passed before
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(_meta_text(name)), format_checker=jsonschema.FormatChecker())


def _meta_problems(source: SourceFile, name: str) -> list[ContractProblem]:
    """`source` checked against the meta-schema `name`; a pass on the same texts before is taken as it was."""
    if verdicts.vouched(source.path):
        return []
    entry = verdicts.name("meta-schema", __file__, name, _meta_text(name), source.digest) if source.digest else ""
    if entry and verdicts.passed(entry):
        return []
    problems = []
    for error in _meta_validator(name).iter_errors(source.data):
        pointer = "".join(f"/{escape_pointer_token(str(p))}" for p in error.absolute_path)
        where = pointer.lstrip("/").replace("/", ".") or "contract"
        problems.append(source.problem(pointer, f"{where}: {error.message}"))
    if entry and not problems:
        verdicts.remember(entry)
    return sorted(problems, key=lambda p: p.line)


def _fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Every file under `folder` (as `Path.rglob`: symbolic links to directories not entered) with its time and
    size: one `stat` a file, from one directory listing each."""
    found: list[tuple[str, int, int]] = []
    pending = [os.fspath(folder)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                    continue
                try:
                    stat = entry.stat()
                except FileNotFoundError:  # a dangling link, or a file gone since the listing: not a file
                    continue
                if S_ISREG(stat.st_mode):
                    found.append((entry.path, stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(found))


_LOADED: dict[Path, tuple[tuple[tuple[str, int, int], ...], Contract]] = {}
_HELD: dict[Path, list[Contract]] = {}


def hold(contract: Contract) -> None:
    """Answer every `load_contract` of `contract`'s folder in this process with `contract` until `release`.

    A run's pytest session holds each contract it loaded: its mock and every connector it builds (one a scenario,
    each loading the folder its settings name) then work from that one contract, without walking and stat-ing the
    folder for every scenario (≈ 90 stat calls for the insurance contract), and an edit of the folder during the
    session cannot give a connector another contract than its mock's. A new session, or any other process, loads
    the folder as it is then."""
    for key in _held_keys(contract.folder):
        _HELD.setdefault(key, []).append(contract)


def _held_keys(folder: Path) -> set[Path]:
    """The folder resolved, and as given when absolute (a relative one names another folder after a `chdir`)."""
    return {folder.resolve(), folder} if folder.is_absolute() else {folder.resolve()}


def release(contract: Contract) -> None:
    """End one `hold` of `contract`: its folder is loaded (and its files checked for changes) again."""
    for key, held in list(_HELD.items()):  # every key it is held under, whatever the working folder is now
        at = next((i for i in reversed(range(len(held))) if held[i] is contract), None)  # its latest hold
        if at is not None:
            del held[at]
        if not held:
            del _HELD[key]


def load_contract(folder: Path) -> Contract:
    """Load and check `folder/contract.yaml` and every file it names; raise ContractError on any problem.

    A folder already loaded and unchanged since (same files, sizes and times) is not read again; a folder held in
    this process (`hold`) is answered with the contract held, unread.
    """
    if _HELD:
        held = (folder.is_absolute() and _HELD.get(folder)) or _HELD.get(folder.resolve())
        if held:
            return held[-1]
    key = folder.resolve()
    try:
        fingerprint = _fingerprint(key)
    except OSError:
        fingerprint = ()
    cached = _LOADED.get(key)
    if cached is not None and cached[0] == fingerprint and fingerprint:
        return cached[1]
    contract = _load_contract(folder)
    _LOADED[key] = (fingerprint, contract)
    return contract


def _load_contract(folder: Path) -> Contract:
    source = load_source(folder / CONTRACT_FILE)
    problems = _meta_problems(source, "contract.schema.json")
    if problems:
        raise ContractError(problems)
    data: dict[str, Any] = source.data
    transport = data["transport"]
    _ensure_formats(transport)
    if transport not in _FORMATS:
        known = ", ".join(sorted(_FORMATS))
        raise ContractError([source.problem("/transport", f"unknown transport {transport!r} (known: {known})")])
    loader, meta = _FORMATS[transport]
    if meta:
        problems = _meta_problems(source, meta)
        if problems:
            raise ContractError(problems)
    if folder.name != str(data["version"]):
        problems.append(source.problem("/version", f"version {data['version']!r} differs from its folder {folder.name!r}"))
    if folder.parent.name != data["interface"]:
        problems.append(
            source.problem("/interface", f"interface {data['interface']!r} differs from its folder {folder.parent.name!r}")
        )
    contract = Contract(
        interface=data["interface"],
        version=str(data["version"]),
        title=data["title"],
        title_en=data.get("title_en", ""),
        transport=transport,
        folder=folder,
        released=data.get("released", ""),
        effective=data.get("effective", ""),
        supersedes=data.get("supersedes"),
        document=data.get("document", ""),
        limits=Limits(**(data.get("limits") or {})),
    )
    for name, table in (data.get("code_tables") or {}).items():
        contract.code_tables[name] = CodeTable(name, table.get("title", name), dict(table["values"]))
    for name, fmt in (data.get("formats") or {}).items():
        try:
            re.compile(fmt["pattern"])
        except re.error as exc:
            problems.append(source.problem(f"/formats/{name}/pattern", f"invalid regular expression: {exc}"))
            continue
        contract.formats[name] = Format(name, fmt["pattern"], fmt.get("description", ""))
    contract.clock_skew = clock_skew(data.get("clock_skew"))
    problems.extend(loader(source, contract))
    contract.sla = sla_of(source, data.get("sla"), contract, problems)
    problems.extend(_field_lists(source, contract))
    if problems:
        raise ContractError(problems)
    return contract


def _field_lists(source: SourceFile, contract: Contract) -> list[ContractProblem]:
    """`volatile:` and `correlation:`: operation (or `*` for every one) -> field patterns of its messages."""
    from harness.contract.codec import pattern_problem

    problems: list[ContractProblem] = []
    for key, target in (("volatile", contract.volatile), ("correlation", contract.correlation)):
        for operation, patterns in (source.data.get(key) or {}).items():
            pointer = f"/{key}/{escape_pointer_token(str(operation))}"
            if operation != "*" and operation not in contract.operations:
                problems.append(source.problem(pointer, f"{key}: {operation!r} is not an operation of this contract "
                                                        f"(known: {', '.join(contract.operations)}, or * for every one)"))
                continue
            for index, pattern in enumerate(patterns):
                problem = pattern_problem(pattern, contract.transport)
                if problem is not None:
                    problems.append(source.problem(f"{pointer}/{index}", f"{key}: {problem}"))
            target[str(operation)] = tuple(p.strip() for p in patterns)
    return problems


_TRANSPORT_MODULES = {"http-json": "harness.contract.http_json", "soap": "harness.contract.soap",
                      "hl7v2-mllp": "harness.contract.hl7.contract"}


def _ensure_formats(transport: object = None) -> None:
    """Import the module that registers `transport`'s format (every one's, for a transport not named here).

    Importing a transport module registers its format; done lazily so harness.contract stays cheap to import, and
    only for the transport a contract has: a JSON or HL7 contract does not bring SOAP's lxml and WSDL reader."""
    import importlib

    module = _TRANSPORT_MODULES.get(transport) if isinstance(transport, str) else None
    for name in [module] if module else _TRANSPORT_MODULES.values():
        importlib.import_module(name)


def default_root() -> Path:
    """The contracts folder: $HIH_CONTRACTS, else `contracts/` of the project hih runs from."""
    env = os.environ.get("HIH_CONTRACTS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "contracts"


def unreadable(folder: Path) -> str | None:
    """Why a contract folder cannot be read (listing refused, contract.yaml a broken link or unreadable), or None."""
    try:
        names = os.listdir(folder)
    except OSError as exc:
        return f"cannot read the folder ({exc.strerror or exc})"
    if CONTRACT_FILE not in names:
        return None
    path = folder / CONTRACT_FILE
    if not path.exists():
        return f"{CONTRACT_FILE} is a broken link"
    if not path.is_file():
        return f"{CONTRACT_FILE} is not a file"
    if not os.access(path, os.R_OK):
        return f"cannot read {CONTRACT_FILE} (permission denied)"
    return None


def _subfolders(folder: Path) -> list[Path]:
    """The folders in `folder` (hidden ones and __pycache__ aside); an unreadable one is a UsageError, never skipped."""
    try:
        children = sorted(folder.iterdir())
    except OSError as exc:
        raise UsageError(f"{folder}: cannot read the folder ({exc.strerror or exc})") from None
    found = []
    for child in children:
        if child.name.startswith(".") or child.name == "__pycache__" or not child.is_dir():
            continue
        problem = unreadable(child)
        if problem:
            raise UsageError(f"{child}: {problem}; hih does not skip a contract folder it cannot read")
        found.append(child)
    return found


def find_contract_folders(target: Path) -> tuple[list[Path], list[ContractProblem]]:
    """Every folder under `target` holding a contract.yaml, and a problem for each folder that cannot be read."""
    folders: list[Path] = []
    problems: list[ContractProblem] = []

    def refused(error: OSError) -> None:
        problems.append(ContractProblem(Path(error.filename or target), 0, f"cannot read the folder ({error.strerror or error})"))

    for top, dirs, files in os.walk(target, onerror=refused, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        here = Path(top)
        if CONTRACT_FILE in files or CONTRACT_FILE in dirs:
            problem = unreadable(here)
            if problem:
                problems.append(ContractProblem(here / CONTRACT_FILE, 0, problem))
            else:
                folders.append(here)
    return folders, problems


class ContractStore:
    """The contracts under one root: `<root>/<interface>/<version>/contract.yaml`; loads are cached.

    Without a version, an interface's contract is its default one: the newest version in force on `as_of` (today
    unless given); a version whose `effective` date is later runs only when it is named.
    """

    def __init__(self, root: Path | None = None, as_of: date | None = None) -> None:
        self.root = root or default_root()
        self.as_of = as_of
        self._cache: dict[tuple[str, str], Contract] = {}

    def interfaces(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in _subfolders(self.root) if self._version_folders(p))

    def versions(self, interface: str) -> list[str]:
        folder = self.root / interface
        found = [p.name for p in self._version_folders(folder)] if folder.is_dir() else []
        return sorted(found, key=version_key)

    @staticmethod
    def _version_folders(folder: Path) -> list[Path]:
        return [p for p in _subfolders(folder) if (p / CONTRACT_FILE).is_file()]

    def newest(self, interface: str) -> str:
        """The newest version, in force or not."""
        versions = self.versions(interface)
        if not versions:
            raise UsageError(self._unknown(interface))
        return newest(versions)

    def dates(self, interface: str) -> list[VersionDates]:
        """Each version's policy dates, read from the top-level keys of its contract.yaml without loading it."""
        return [_version_dates(self.root / interface / version) for version in self.versions(interface)]

    def transport(self, interface: str, version: str) -> str:
        """The transport a version declares (`http-json`, `soap`, ...), read without loading it; "" when unknown."""
        return _top_level(self.root / interface / version).get("transport", "")

    def today(self) -> date:
        return self.as_of or date.today()

    def in_force(self, interface: str, as_of: date | None = None) -> str | None:
        """The newest version in force on `as_of` (default: the store's day), or None when none is yet."""
        if not self.versions(interface):
            raise UsageError(self._unknown(interface))
        return in_force(self.dates(interface), as_of or self.today())

    def default(self, interface: str, as_of: date | None = None) -> str:
        """The version a run uses when none is named: the newest in force; a UsageError when none is in force."""
        day = as_of or self.today()
        found = self.in_force(interface, day)
        if found is None:
            later = ", ".join(f"{d.version} from {d.in_force_from}" for d in upcoming(self.dates(interface), day))
            raise UsageError(f"no contract version of {interface} is in force on {day} (upcoming: {later}); "
                             f"name one with --contract {interface}=VERSION or rehearse with --as-of")
        return found

    def _unknown(self, interface: str) -> str:
        known = ", ".join(self.interfaces()) or "none"
        return f"unknown interface {interface!r} (contracts in {self.root}: {known})"

    def load(self, interface: str, version: str | None = None) -> Contract:
        """The contract of `interface` at `version` (the default one, in force today, when None)."""
        if interface not in self.interfaces():
            raise UsageError(self._unknown(interface))
        version = version or self.default(interface)
        if version not in self.versions(interface):
            known = ", ".join(self.versions(interface))
            raise UsageError(f"unknown version {version!r} of {interface} (known: {known})")
        key = (interface, version)
        if key not in self._cache:
            self._cache[key] = load_contract(self.root / interface / version)
        return self._cache[key]

    def parse_ref(self, ref: str) -> Contract:
        """Load `NAME` or `NAME@VERSION`."""
        name, _, version = ref.partition("@")
        return self.load(name, version or None)


_TOP_LEVEL = re.compile(r"""^(effective|released|transport):[ \t]*["']?([^"'#\s]*)["']?[ \t]*(?:#.*)?$""", re.M)


def _top_level(folder: Path) -> dict[str, str]:
    """A few top-level scalar keys of a contract.yaml, read without loading it (the loader checks them)."""
    try:
        text = (folder / CONTRACT_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    return dict(_TOP_LEVEL.findall(text))


def _version_dates(folder: Path) -> VersionDates:
    """`effective` and `released` of a contract folder; a key missing or not a day counts as absent."""
    found = {key: parse_day(value) for key, value in _top_level(folder).items() if key != "transport"}
    return VersionDates(folder.name, found.get("effective"), found.get("released"))
