"""What `hih run` was asked to do, checked before anything starts: interfaces, contracts, connectors, tags."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.bindings import BINDINGS, binding, load_factory, outside_listener
from harness.config import load_config
from harness.contract.loader import ContractStore
from harness.contract.model import Contract
from harness.errors import UsageError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


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


def tags_to_markexpr(tags: str) -> str:
    """Gherkin tag expression (`@smoke and not @fault`) to a pytest -m expression."""
    expr = re.sub(r"@([\w.:-]+)", r"\1", tags.strip())
    if not expr or not re.fullmatch(r"[\w\s().:-]+", expr):
        raise UsageError(f"--tags {tags!r}: use tag names with and, or, not and parentheses")
    return expr


@dataclass
class RunOptions:
    interfaces: list[str] = field(default_factory=list)
    contracts: dict[str, str] = field(default_factory=dict)
    connectors: dict[str, str] = field(default_factory=dict)
    report_dir: Path = Path("reports/latest")
    workers: int = 1
    tags: str | None = None
    features_dir: Path = PROJECT_ROOT / "features"
    contracts_dir: Path | None = None
    changed_since: list[str] = field(default_factory=list)
    """`VERSION` (every selected interface) or `NAME=VERSION` values of --changed-since."""
    operator: str | None = None
    """Who runs the gate, for the sign-off (default: the CI user or the login name)."""
    release: str | None = None
    """The release being gated, for the sign-off."""


@dataclass
class RunPlan:
    """A checked run: the contract and connector per interface, and where each interface's features are."""

    options: RunOptions
    contracts: dict[str, Contract]
    connectors: dict[str, str]
    feature_dirs: dict[str, Path]
    markexpr: str | None
    changed_since: dict[str, str] = field(default_factory=dict)
    """Interface -> the older contract version whose changes choose the scenarios to run."""


def feature_dir(features: Path, interface: str) -> Path:
    return features / interface.replace("-", "_")


def plan(options: RunOptions) -> RunPlan:
    """Check everything a run needs; any problem is a UsageError (exit 2) with a one-line reason."""
    store = ContractStore(options.contracts_dir)
    known = [i for i in store.interfaces() if i in BINDINGS and feature_dir(options.features_dir, i).is_dir()]
    since = _changed_since_pairs(options.changed_since)
    interfaces = list(dict.fromkeys(options.interfaces)) or [n for n in since if n != ""] or known
    if "" in since and not options.interfaces:  # a bare version: the interfaces that have it
        interfaces = [n for n in interfaces if since[""] in store.versions(n)]
        if not interfaces:
            versions = "; ".join(f"{n} {', '.join(store.versions(n))}" for n in known) or "none"
            raise UsageError(f"--changed-since {since['']}: unknown version (known: {versions})")
    if not interfaces:
        raise UsageError(f"nothing to run: no interface has contracts, a binding and features under {options.features_dir}")
    for name in interfaces:
        if name not in store.interfaces():
            raise UsageError(f"unknown interface {name!r} (known: {', '.join(known) or 'none'})")
        binding(name)
        if not feature_dir(options.features_dir, name).is_dir():
            raise UsageError(f"interface {name!r} has no features in {feature_dir(options.features_dir, name)}")
    for flag, mapping in (("--contract", options.contracts), ("--connector", options.connectors)):
        for name in mapping:
            if name not in interfaces:
                raise UsageError(f"{flag} names {name!r}, which is not selected (selected: {', '.join(interfaces)})")
    changed_since = _check_changed_since(store, since, interfaces)
    contracts = {name: store.load(name, options.contracts.get(name)) for name in interfaces}
    connectors = {name: options.connectors.get(name) or binding(name).default_connector for name in interfaces}
    for name, spec in connectors.items():
        load_factory(spec)
        outside_listener(name)  # a malformed HIH_<IF>_LISTENER stops the run here, with its own one-line reason
    load_config()  # a broken hih.toml stops the run here, with its own one-line reason
    if options.workers < 1:
        raise UsageError(f"--workers must be at least 1, not {options.workers}")
    return RunPlan(options, contracts, connectors,
                   {name: feature_dir(options.features_dir, name) for name in interfaces},
                   tags_to_markexpr(options.tags) if options.tags else None, changed_since)


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


def _check_changed_since(store: ContractStore, since: dict[str, str], interfaces: list[str]) -> dict[str, str]:
    """Interface -> OLD version, each a known version of its interface (else a UsageError, exit 2)."""
    if "" in since:
        pairs = dict.fromkeys(interfaces, since[""])
    else:
        for name in since:
            if name not in interfaces:
                raise UsageError(f"--changed-since names {name!r}, which is not selected (selected: {', '.join(interfaces)})")
        pairs = dict(since)
    for name, old in pairs.items():
        versions = store.versions(name)
        if old not in versions:
            raise UsageError(f"--changed-since {old}: unknown version of {name} (known: {', '.join(versions) or 'none'})")
    return pairs
