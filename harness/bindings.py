"""How each interface is wired for a run, from its descriptor (`harness.contract.interfaces`): the default connector,
the settings a connector gets from the mock, the hospital's own listener of a black-box run, importing a factory."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from harness.contract.interfaces import interface as described
from harness.contract.interfaces import resolve
from harness.contract.model import Contract
from harness.errors import UsageError


class SettingsFor(Protocol):
    def __call__(self, mock: Any, contract: Contract, timeout_s: float, workdir: Path | None = None) -> Any: ...


def default_connector(interface: str) -> str:
    """The reference connector of `interface` (its descriptor's), a UsageError when it has no descriptor."""
    return described(interface).connector


def connector_settings(interface: str) -> SettingsFor:
    """(started mock, contract, timeout in seconds, work folder) -> the settings object the connector factory takes
    (the descriptor's `settings`, see `harness.contract.interfaces.Interface.settings`)."""
    builder: SettingsFor = resolve(described(interface).settings)
    return builder


def contract_check(interface: str) -> Callable[[Contract], None] | None:
    """What must hold between hih.toml and the run's contract before anything starts (raises a UsageError, exit 2):
    the descriptor's `check`, None when it has none."""
    reference = described(interface).check
    if reference is None:
        return None
    check: Callable[[Contract], None] = resolve(reference)
    return check


def outside_listener(interface: str) -> tuple[str, int] | None:
    """The hospital's own listener for a black-box run, from the descriptor's environment variable; None when unset."""
    env = described(interface).listener_env
    given = os.environ.get(env, "").strip() if env else ""
    if not env or not given:
        return None
    host, sep, port = given.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"{env}={given!r} is not HOST:PORT (for example 10.0.0.5:2575)")
    return host, int(port)


def connector_label(interface: str, spec: str) -> str:
    """What the report names as the system under test: the connector, and the outside listener when one is given."""
    outside = outside_listener(interface)
    return spec if outside is None else f"{spec}; results to the hospital listener {outside[0]}:{outside[1]}"


def load_factory(spec: str) -> Callable[[Any], Any]:
    """Import `module:factory`; a clear UsageError when the module or the name is missing."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"connector {spec!r} is not of the form module:factory")
    if os.getcwd() not in sys.path:
        # a hospital's adapter lives in the directory hih runs from, as it does for the spec run's child process
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"connector {spec!r}: cannot import {module_name!r} ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - a broken user module must not give a traceback
        raise UsageError(f"connector {spec!r}: importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise UsageError(f"connector {spec!r}: {module_name} has no callable {attr!r}")
    return factory


def module_file(module_name: str) -> Path | None:
    """The file a connector's module was (or would be) imported from; None when there is none."""
    module = sys.modules.get(module_name)
    origin = getattr(module, "__file__", None)
    if origin is None:
        try:
            found = importlib.util.find_spec(module_name)
        except (ImportError, ValueError):
            found = None
        origin = found.origin if found is not None else None
    return Path(origin) if origin and Path(origin).is_file() else None
