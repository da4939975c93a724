"""Validators of the shipped HL7 contracts, one per module that asks (building one compiles every profile)."""

from __future__ import annotations

import pytest

from harness.contract.hl7.contract import HL7Validator
from harness.contract.loader import ContractStore


@pytest.fixture(scope="module")
def lis(store: ContractStore) -> HL7Validator:
    return HL7Validator(store.load("lis", "2024.1"))


@pytest.fixture(scope="module")
def lis23(store: ContractStore) -> HL7Validator:
    return HL7Validator(store.load("lis", "2023.1"))


@pytest.fixture(scope="module")
def pacs(store: ContractStore) -> HL7Validator:
    return HL7Validator(store.load("pacs", "2024.1"))
