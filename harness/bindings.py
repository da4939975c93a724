"""How each interface is wired for a run: its default connector and the settings a connector gets from the mock."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from harness.contract.model import Contract
from harness.errors import UsageError


class SettingsFor(Protocol):
    def __call__(self, mock: Any, contract: Contract, timeout_s: float, workdir: Path | None = None) -> Any: ...


@dataclass(frozen=True)
class Binding:
    interface: str
    default_connector: str
    settings: SettingsFor
    """(started mock, contract, timeout in seconds, work folder) -> the settings object the connector factory takes.

    The work folder holds the connector's durable state (outbox, listener store) for one scenario; it outlives a
    restart of the connector and is removed with the scenario. Without one, a connector keeps its state in a
    private temporary folder of its own."""
    outside_listener_env: str | None = None
    """Environment variable giving the hospital's own listener as HOST:PORT (black-box runs), where one applies."""
    check: Callable[[Contract], None] | None = None
    """What must hold between hih.toml and the run's contract before anything starts (a UsageError, exit 2)."""


def _insurance_settings(mock: Any, contract: Contract, timeout_s: float, workdir: Path | None = None) -> Any:
    from harness.ports.insurance import InsuranceSettings

    paasid, secret = next(iter(mock.credentials.items()))
    return InsuranceSettings(base_url=mock.endpoint.url, paasid=paasid, secret=secret, timeout_s=timeout_s,
                             contract_version=contract.version, contract_folder=str(contract.folder),
                             mdtrtarea_admvs=mock.admdvs, transactions=region_variants(contract, mock.admdvs))


MOCK_ADMDVS = "330100"
"""The region of the insurance mock's platform in a `hih run` (InsuranceMock's default `admdvs`; mocks may not import
this module, so the value is written twice)."""


def _insurance_check(contract: Contract) -> None:
    region_variants(contract, MOCK_ADMDVS)


def region_variants(contract: Contract, admdvs: str) -> tuple[str, ...]:
    """The variant transactions hih.toml names for region `admdvs`, each checked to be a variant in `contract`."""
    from harness.config import load_config

    names = load_config().insurance.variants_for(admdvs)
    offered = sorted(k for k, op in contract.operations.items() if op.extra.get("variant_of"))
    for name in names:
        if name not in offered:
            raise UsageError(f"hih.toml insurance.regions names {name} for region {admdvs}, but contract "
                             f"{contract.ref} has no such variant (its variants: {', '.join(offered) or 'none'})")
    return tuple(names)


def _hl7_settings(mock: Any, contract: Contract, timeout_s: float, workdir: Path | None = None) -> Any:
    from harness.ports.hl7 import Hl7Settings

    return Hl7Settings(host=mock.endpoint.host, port=mock.endpoint.port, timeout_s=timeout_s,
                       contract_version=contract.version, contract_folder=str(contract.folder),
                       store_path=str(workdir / "received.sqlite") if workdir else "")


def _blood_center_settings(mock: Any, contract: Contract, timeout_s: float, workdir: Path | None = None) -> Any:
    from harness.ports.blood_center import BloodCenterSettings

    return BloodCenterSettings(wsdl_url=f"{mock.service_url}?wsdl", hospital_code=mock.hospital, token=mock.token,
                               timeout_s=timeout_s, contract_folder=str(contract.folder),
                               store_path=str(workdir / "blood-bank.sqlite") if workdir else "")


def _mch_platform_settings(mock: Any, contract: Contract, timeout_s: float, workdir: Path | None = None) -> Any:
    import tempfile

    from harness.ports.mch_platform import MchSettings

    org_code, password = next(iter(mock.credentials.items()))
    folder = workdir or Path(tempfile.mkdtemp(prefix="hih-mch-outbox-"))
    return MchSettings(wsdl_url=f"{mock.service_url}?wsdl", org_code=org_code, password=password,
                       outbox_path=str(folder / "outbox.sqlite"), timeout_s=timeout_s, contract_version=contract.version,
                       contract_folder=str(contract.folder), remove_outbox_on_close=workdir is None)


BINDINGS: dict[str, Binding] = {
    "insurance": Binding("insurance", "connectors.insurance:reference", _insurance_settings, check=_insurance_check),
    "mch-platform": Binding("mch-platform", "connectors.mch_platform:reference", _mch_platform_settings),
    "blood-center": Binding("blood-center", "connectors.blood_center:reference", _blood_center_settings),
    "lis": Binding("lis", "connectors.lis:reference", _hl7_settings, "HIH_LIS_LISTENER"),
    "pacs": Binding("pacs", "connectors.pacs:reference", _hl7_settings, "HIH_PACS_LISTENER"),
}


def binding(interface: str) -> Binding:
    if interface not in BINDINGS:
        raise UsageError(f"interface {interface!r} has no connector binding (known: {', '.join(sorted(BINDINGS))})")
    return BINDINGS[interface]


def outside_listener(interface: str) -> tuple[str, int] | None:
    """The hospital's own listener for a black-box run, from the binding's environment variable; None when unset."""
    env = binding(interface).outside_listener_env
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
