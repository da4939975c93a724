"""What `hih run` was asked to do, checked before anything starts: interfaces, contract versions in force,
connectors and their identity, tags, deadlines and workers."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from harness.bindings import contract_check, default_connector, load_factory, outside_listener
from harness.config import load_config
from harness.contract.interfaces import INTERFACES, interface
from harness.contract.loader import ContractStore
from harness.contract.model import Contract
from harness.contract.versions import upcoming
from harness.errors import UsageError
from harness.run.exits import GRACE_ENV
from harness.run.identity import ConnectorIdentity, identify
from harness.run.warm import PROJECT_ROOT


def parse_pairs(values: list[str], flag: str) -> dict[str, str]:
    """`NAME=VALUE` options into a dict; a malformed or repeated one is a UsageError naming the flag."""
    out: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise UsageError(f"{flag} {value!r}: expected NAME=VALUE")
        if name in out:
            raise UsageError(f"{flag} given twice for {name!r}")
        out[name.strip()] = rest.strip()
    return out


def parse_workers(value: str | None) -> int | Literal["auto"] | None:
    """`--workers N` or `--workers auto` (None: not given, so hih.toml's or auto)."""
    if value is None:
        return None
    if value.strip().lower() == "auto":
        return "auto"
    if not value.strip().isdigit() or int(value) < 1:
        raise UsageError(f"--workers {value!r}: expected a number of at least 1, or auto")
    return int(value)


def tags_to_markexpr(tags: str) -> str:
    """Gherkin tag expression (`@smoke and not @fault`) to a pytest -m expression, checked as pytest will read it."""
    expr = re.sub(r"@([\w.:-]+)", r"\1", tags.strip())
    if not expr or not re.fullmatch(r"[\w\s().:-]+", expr):
        raise UsageError(f"--tags {tags!r}: use tag names with and, or, not and parentheses")
    try:
        from _pytest.mark.expression import Expression
    except ImportError:  # pragma: no cover - pytest moved its parser: pytest itself still refuses a bad expression
        return expr
    try:
        Expression.compile(expr)
    except SyntaxError as exc:
        raise UsageError(f"--tags {tags!r}: {exc.msg} (use tag names with and, or, not and parentheses)") from None
    return expr


DEFAULT_SCENARIO_TIMEOUT_S = 60.0
MAX_AUTO_WORKERS = 5


@dataclass
class RunOptions:
    """What `hih run` was asked for; None means "the default" (from hih.toml, else built in). New fields get defaults."""

    interfaces: list[str] = field(default_factory=list)
    contracts: dict[str, str] = field(default_factory=dict)
    connectors: dict[str, str] = field(default_factory=dict)
    report_dir: Path = Path("reports/latest")
    workers: int | Literal["auto"] | None = None
    """None: `[run] workers` of hih.toml, else auto: one per selected interface, up to the machine's cores."""
    tags: str | None = None
    features_dir: Path = PROJECT_ROOT / "features"
    contracts_dir: Path | None = None
    changed_since: list[str] = field(default_factory=list)
    """`VERSION` (the one selected interface that has it) or `NAME=VERSION` values of --changed-since."""
    scenario_timeout_s: float | None = None
    """Deadline of one scenario; None: hih.toml, else 60 s."""
    timeout_s: float | None = None
    """Deadline of the whole run; None: hih.toml, else none."""
    as_of: date | None = None
    """The day whose contracts are in force (default: today)."""
    operator: str | None = None
    """Who runs the gate, for the sign-off (default: the CI user or the login name)."""
    release: str | None = None
    """The release being gated, for the sign-off."""
    signoff_pdf: bool | None = None
    """Whether the sign-off pack has signoff.pdf (`--no-signoff-pdf`: False); None: hih.toml `[report]`, else yes."""


@dataclass
class RunPlan:
    """A checked run: the contract and connector per interface, and where each interface's features are."""

    options: RunOptions
    contracts: dict[str, Contract]
    """Interface -> its loaded and checked contract (empty until checked when `plan(check_contracts=False)`)."""
    connectors: dict[str, str]
    feature_dirs: dict[str, Path]
    markexpr: str | None
    changed_since: dict[str, str] = field(default_factory=dict)
    """Interface -> the older contract version whose changes choose the scenarios to run."""
    identities: dict[str, ConnectorIdentity] = field(default_factory=dict)
    as_of: date = field(default_factory=date.today)
    workers: int = 1
    scenario_timeout_s: float = DEFAULT_SCENARIO_TIMEOUT_S
    timeout_s: float | None = None
    notes: list[str] = field(default_factory=list)
    """One line each, printed before the run: options ignored for this run, versions not yet in force, ..."""
    effective: dict[str, str] = field(default_factory=dict)
    """Interface -> the day its contract version is in force from (YYYY-MM-DD)."""
    versions: dict[str, str] = field(default_factory=dict)
    """Interface -> the contract version the run uses (the selected interfaces, in order)."""
    signoff_pdf: bool = True
    """Whether the run writes signoff.pdf (and so imports WeasyPrint): the option, else hih.toml, else yes."""

    def __post_init__(self) -> None:
        if not self.versions:
            self.versions = {name: contract.version for name, contract in self.contracts.items()}

    def check(self) -> None:
        """The checks `plan` was told to leave: the connectors, then the contracts."""
        self.check_connectors()
        self.check_contracts()

    def check_connectors(self) -> None:
        """Import each connector's factory and identify it (a UsageError when one cannot be imported)."""
        for name, spec in self.connectors.items():
            if name not in self.identities:
                self.identities[name] = identify(name, spec, load_factory(spec))

    def check_contracts(self) -> None:
        """Load and check every contract of the run (a ContractError or UsageError when one is broken)."""
        store = ContractStore(self.options.contracts_dir, as_of=self.as_of)
        for name, version in self.versions.items():
            contract = self.contracts.setdefault(name, store.load(name, version))
            check = contract_check(name)
            if check is not None:
                check(contract)


def feature_dir(features: Path, name: str) -> Path:
    """Where the specs of interface `name` are: its descriptor's folder under `features` (its name with `_` for
    `-` when it has no descriptor)."""
    described = INTERFACES.get(name)
    return features / (described.features if described is not None else name.replace("-", "_"))


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def auto_workers(interfaces: int) -> int:
    """One pytest process per selected interface, up to three times the cores this process may use, and at most 5.

    More processes than cores because a spec run waits about half its time on purpose (fault scenarios wait for
    connector timeouts, HL7 ones for resends): a process that waits leaves its core to another. On 2 cores, 5
    processes ran the five interfaces in 14.3 s against 16.8 s for 4 (bench/RESULTS.md). One interface runs serially.
    """
    return max(1, min(interfaces, 3 * cpu_count(), MAX_AUTO_WORKERS))


def plan(options: RunOptions, check_contracts: bool = True, check_connectors: bool = True) -> RunPlan:
    """Check everything a run needs; any problem is a UsageError (exit 2) with a one-line reason.

    `check_contracts=False` leaves loading and checking the contract files to `RunPlan.check_contracts()`, and
    `check_connectors=False` importing and identifying the connectors to `RunPlan.check_connectors()`: the runner
    does both while pytest starts (they are the slowest checks: a connector's import brings its HTTP or SOAP stack).
    """
    config = load_config()  # a broken hih.toml stops the run here, with its own one-line reason
    as_of = options.as_of or date.today()
    store = ContractStore(options.contracts_dir, as_of=as_of)
    notes: list[str] = []
    known = _runnable(store, options.features_dir, options.interfaces, notes)
    since = _changed_since_pairs(options.changed_since)
    for flag, names in (("--contract", options.contracts), ("--connector", options.connectors),
                        ("--changed-since", [n for n in since if n])):
        for name in names:
            if name not in known:
                raise UsageError(f"{flag} names unknown interface {name!r} (known: {', '.join(known) or 'none'})")
    chosen = list(dict.fromkeys(options.interfaces))
    for name in chosen:
        if name not in store.interfaces():
            raise UsageError(f"unknown interface {name!r} (known: {', '.join(known) or 'none'})")
        interface(name)  # a UsageError naming the file to add it to
        if not feature_dir(options.features_dir, name).is_dir():
            raise UsageError(f"interface {name!r} has no features in {feature_dir(options.features_dir, name)}")
    named_only = [n for n in since if n]
    interfaces = chosen or named_only or known
    if "" in since:
        interfaces, since = _bare_changed_since(store, since[""], interfaces, chosen)
    if not interfaces:
        raise UsageError(f"nothing to run: no interface has contracts, a binding and features under {options.features_dir}")
    versions = _versions(store, options, config.contracts, interfaces, bool(chosen or named_only), notes)
    interfaces = [name for name in interfaces if name in versions]
    if not interfaces:
        raise UsageError(f"nothing to run: no selected interface has a contract version in force on {as_of}")
    ignored = [f"{flag} {name}" for flag, names in (("--contract", options.contracts), ("--connector", options.connectors),
                                                    ("--changed-since", since))
               for name in names if name and name not in interfaces]
    if ignored:
        notes.insert(0, f"note: not selected in this run, so ignored: {', '.join(ignored)}")
    changed_since = _check_changed_since(store, {k: v for k, v in since.items() if k in interfaces})
    contracts = {name: store.load(name, versions[name]) for name in interfaces} if check_contracts else {}
    connectors = {name: options.connectors.get(name) or default_connector(name) for name in interfaces}
    for name in connectors:
        outside_listener(name)  # a malformed HIH_<IF>_LISTENER stops the run here, with its own one-line reason
    workers = config.run.workers if options.workers is None else None if options.workers == "auto" else options.workers
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}")
    scenario_timeout = _seconds("--scenario-timeout", options.scenario_timeout_s, config.run.scenario_timeout_s,
                                DEFAULT_SCENARIO_TIMEOUT_S)
    timeout = _seconds("--timeout", options.timeout_s, config.run.timeout_s, None)
    _grace_from_environment()
    effective = {}
    for name in interfaces:
        dates = next(d for d in store.dates(name) if d.version == versions[name])
        effective[name] = dates.in_force_from.isoformat() if dates.in_force_from != date.min else ""
    checked = RunPlan(options, contracts, connectors,
                      {name: feature_dir(options.features_dir, name) for name in interfaces},
                      tags_to_markexpr(options.tags) if options.tags else None, changed_since, {}, as_of,
                      workers if workers is not None else auto_workers(len(interfaces)),
                      scenario_timeout or DEFAULT_SCENARIO_TIMEOUT_S, timeout, notes, effective,
                      {name: versions[name] for name in interfaces},
                      config.report.signoff_pdf if options.signoff_pdf is None else options.signoff_pdf)
    if check_connectors:
        checked.check_connectors()
    return checked


def _runnable(store: ContractStore, features: Path, chosen: list[str], notes: list[str]) -> list[str]:
    """The interfaces a run can take: contracts, a descriptor and features. One with contracts and no descriptor is
    not left out in silence: a note says so (named by --interface, it stops the run with the reason)."""
    known = []
    for name in store.interfaces():
        if name not in INTERFACES:
            if name not in chosen:
                notes.append(f"note: {name} has contracts but no descriptor in harness/contract/interfaces.py: not "
                             "run (docs/adding-an-interface.md)")
            continue
        if feature_dir(features, name).is_dir():  # a features folder of its own may hold some interfaces only
            known.append(name)
    return known


def _grace_from_environment() -> None:
    """A set HIH_SCENARIO_GRACE_S must be seconds above 0: said here in one line, not as a pytest process that
    stops before any scenario."""
    given = os.environ.get(GRACE_ENV)
    if not given:
        return
    try:
        seconds = float(given)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise UsageError(f"{GRACE_ENV}={given}: give a number of seconds above 0")


def _seconds(flag: str, given: float | None, configured: float | None, default: float | None) -> float | None:
    value = given if given is not None else configured if configured is not None else default
    if value is not None and not value > 0:
        raise UsageError(f"{flag} must be a number of seconds above 0, not {value:g}")
    return value


def _versions(store: ContractStore, options: RunOptions, pins: dict[str, str], interfaces: list[str],
              asked: bool, notes: list[str]) -> dict[str, str]:
    """The contract version per interface: --contract, else the hih.toml pin, else the newest in force.

    An interface with no version in force is left out of a run that did not ask for it by name (one note line);
    asked for, it is a UsageError. A named version not yet in force runs, with a note saying so.
    """
    for name in pins:
        if name not in store.interfaces():
            raise UsageError(f"hih.toml [contracts] names unknown interface {name!r} "
                             f"(known: {', '.join(store.interfaces()) or 'none'})")
    chosen: dict[str, str] = {}
    day = store.today()
    for name in interfaces:
        named = options.contracts.get(name)
        source = "--contract"
        if named is None and name in pins:
            named, source = pins[name], "hih.toml [contracts]"
        if named is not None:
            if named not in store.versions(name):
                raise UsageError(f"{source} {name}={named}: unknown version (known: {', '.join(store.versions(name))})")
            dates = {d.version: d for d in store.dates(name)}[named]
            if not dates.in_force(day):
                notes.append(f"note: {name} {named} is not in force until {dates.in_force_from} (named by {source})")
            chosen[name] = named
            continue
        if asked:
            chosen[name] = store.default(name)
            continue
        found = store.in_force(name)
        if found is None:
            later = ", ".join(f"{d.version} from {d.in_force_from}" for d in upcoming(store.dates(name), day))
            notes.append(f"note: {name} not run: no contract version in force on {day} (upcoming: {later})")
            continue
        chosen[name] = found
    return chosen


def _bare_changed_since(store: ContractStore, version: str, interfaces: list[str],
                        chosen: list[str]) -> tuple[list[str], dict[str, str]]:
    """A bare --changed-since VERSION: accepted when exactly one selected interface has VERSION."""
    having = [name for name in interfaces if version in store.versions(name)]
    if len(having) == 1:
        return (chosen or having), {having[0]: version}
    if not having:
        known = "; ".join(f"{n} {', '.join(store.versions(n))}" for n in interfaces) or "none"
        raise UsageError(f"--changed-since {version}: no selected interface has that version (known: {known})")
    raise UsageError(f"--changed-since {version}: several selected interfaces have that version "
                     f"({', '.join(having)}); write NAME={version}")


def _changed_since_pairs(values: list[str]) -> dict[str, str]:
    """--changed-since values: one bare VERSION (key "") or NAME=VERSION pairs, not both."""
    if not values:
        return {}
    bare = [v.strip() for v in values if "=" not in v]
    if bare and len(values) > 1:
        raise UsageError("--changed-since: give one VERSION for every interface, or NAME=VERSION per interface")
    if bare:
        if not bare[0]:
            raise UsageError("--changed-since needs a contract version")
        return {"": bare[0]}
    return parse_pairs(values, "--changed-since")


def _check_changed_since(store: ContractStore, pairs: dict[str, str]) -> dict[str, str]:
    """Interface -> OLD version, each a known version of its interface (else a UsageError, exit 2)."""
    for name, old in pairs.items():
        versions = store.versions(name)
        if old not in versions:
            raise UsageError(f"--changed-since {old}: unknown version of {name} (known: {', '.join(versions) or 'none'})")
    return dict(pairs)
