"""Completeness of the interface and transport descriptors: every interface hih has is described once, every part a
descriptor names exists and fits, and no other list of interfaces has crept back into the code.

When this fails after adding an interface, docs/adding-an-interface.md lists what is still missing.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import harness.plugin
from harness import container_fixtures
from harness.containers import IMAGE_PORTS, MLLP
from harness.contract.codec import pattern_problem
from harness.contract.interfaces import INTERFACES, Interface, by_features, resolve
from harness.contract.loader import ContractStore
from harness.contract.transports import TRANSPORTS, transport
from harness.report.signoff import DEPARTMENTS
from harness.run.options import RunOptions, plan
from mocks.base import MockService
from mocks.registry import MOCKS

ROOT = Path(__file__).resolve().parents[1]
DESCRIBED = list(INTERFACES.values())


def test_every_contract_folder_has_a_descriptor_and_every_descriptor_contracts() -> None:
    store = ContractStore(ROOT / "contracts")
    assert store.interfaces(), "no contracts found"
    assert sorted(store.interfaces()) == sorted(INTERFACES)


@pytest.mark.parametrize("described", DESCRIBED, ids=lambda i: i.name)
def test_every_version_of_an_interface_is_of_its_transport(described: Interface) -> None:
    store = ContractStore(ROOT / "contracts")
    versions = store.versions(described.name)
    assert versions
    for version in versions:
        assert store.transport(described.name, version) == described.transport, f"{described.name} {version}"
    assert described.transport in TRANSPORTS


@pytest.mark.parametrize("described", DESCRIBED, ids=lambda i: i.name)
def test_the_named_mock_connector_and_settings_exist(described: Interface) -> None:
    mock = resolve(described.mock)
    assert issubclass(mock, MockService)
    assert mock.interface == described.name
    assert mock.transport == transport(described.transport).wire
    assert callable(resolve(described.connector))
    settings = resolve(described.settings)
    assert list(inspect.signature(settings).parameters)[:4] == ["mock", "contract", "timeout_s", "workdir"]


@pytest.mark.parametrize("described", DESCRIBED, ids=lambda i: i.name)
def test_features_steps_and_fixtures_exist(described: Interface) -> None:
    folder = ROOT / "features" / described.features
    assert sorted(folder.glob("*.feature")), f"no feature files in {folder}"
    assert sorted(folder.glob("test_*.py")), f"no test module collecting {folder}"
    assert by_features(described.features) is described
    fixture = described.name.replace("-", "_")
    assert hasattr(harness.plugin, f"_{fixture}_mock_fixture") and hasattr(harness.plugin, f"_{fixture}_fixture")
    assert hasattr(container_fixtures, f"hih_{fixture}_container")


@pytest.mark.parametrize("described", DESCRIBED, ids=lambda i: i.name)
def test_ports_departments_and_listeners(described: Interface) -> None:
    assert IMAGE_PORTS[described.name] == described.port
    assert list(IMAGE_PORTS.values()).count(described.port) == 1, "two partners on one port of the image"
    assert DEPARTMENTS[described.name] == described.department != ""
    wire = transport(described.transport).wire
    assert (described.name in MLLP) == (wire == "mllp")
    assert (described.listener_env is not None) == (wire == "mllp"), "a partner that sends to the hospital's listener"
    assert MOCKS[described.name] == described.mock


@pytest.mark.parametrize("described", DESCRIBED, ids=lambda i: i.name)
def test_vocabulary_and_volatile_fields_fit_the_contracts(described: Interface) -> None:
    store = ContractStore(ROOT / "contracts")
    operations = {op for v in store.versions(described.name) for op in store.load(described.name, v).operations}
    for pattern, named in described.vocabulary.steps:
        re.compile(pattern)
        assert set(named) & operations, f"{pattern!r} names no operation of any {described.name} contract"
    assert set(described.vocabulary.implied) <= operations
    for field in (*described.volatile, *transport(described.transport).volatile):
        assert pattern_problem(field, described.transport) is None


@pytest.mark.parametrize("name", list(TRANSPORTS))
def test_every_part_a_transport_descriptor_names_exists(name: str) -> None:
    carrier = TRANSPORTS[name]
    for part in (carrier.server, carrier.codec, carrier.proxy, carrier.replay, carrier.client):
        assert resolve(part) is not None, part
    codec = resolve(carrier.codec)
    for function in ("text", "encode", "fields", "operation", "check_request", "check_reply", "echo"):
        assert callable(getattr(codec, function)), f"{carrier.codec} has no {function}"
    assert codec.kind in ("json", "xml", "hl7")
    assert (ROOT / "harness" / "contract" / "meta" / carrier.meta_schema).is_file()


def test_a_run_of_everything_takes_every_interface() -> None:
    chosen = plan(RunOptions(), check_contracts=False)
    assert sorted(chosen.versions) == sorted(INTERFACES)


def test_no_other_list_of_interfaces_in_the_code() -> None:
    """A literal naming three or more interfaces outside the descriptors is a list that will forget the next one."""
    names = "|".join(re.escape(n) for n in INTERFACES)
    quoted = re.compile(rf"""["']({names})["']""")
    offenders = []
    for folder in ("harness", "mocks", "connectors", "features"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "harness" / "contract" / "interfaces.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if len(set(quoted.findall(line))) >= 3:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert offenders == []


def test_adding_an_interface_lists_the_files_outside_contracts_and_features() -> None:
    page = (ROOT / "docs" / "adding-an-interface.md").read_text(encoding="utf-8")
    for named in ("harness/contract/interfaces.py", "harness/ports/", "mocks/", "connectors/", "docs/"):
        assert named in page
