"""Fixtures of the SOAP contract tests: the example contract (tests/data/soap/example) and writable copies of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.contract.loader import load_contract
from harness.contract.model import Contract

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "soap" / "example" / "2025.1"
SOAP12_WSDL = "http://schemas.xmlsoap.org/wsdl/soap12/"


@pytest.fixture(scope="session")
def example() -> Contract:
    return load_contract(EXAMPLE)


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    """A writable copy at tmp_path/example/2025.1, to break on purpose."""
    target = tmp_path / "example" / "2025.1"
    shutil.copytree(EXAMPLE, target)
    return target


def soap12_copy(root: Path) -> Path:
    """The example rebound to SOAP 1.2 (its WSDL's binding namespace and contract.yaml's soap.version)."""
    target = root / "example" / "2025.1"
    shutil.copytree(EXAMPLE, target)
    wsdl = target / "ExampleService.wsdl"
    wsdl.write_text(wsdl.read_text(encoding="utf-8").replace("http://schemas.xmlsoap.org/wsdl/soap/", SOAP12_WSDL), encoding="utf-8")
    contract = target / "contract.yaml"
    contract.write_text(contract.read_text(encoding="utf-8").replace('version: "1.1"', 'version: "1.2"'), encoding="utf-8")
    return target


@pytest.fixture(scope="session")
def example12(tmp_path_factory: pytest.TempPathFactory) -> Contract:
    return load_contract(soap12_copy(tmp_path_factory.mktemp("soap12")))


