"""One descriptor per interface: what hih knows of an interface besides its contract versions.

Every part of hih that needs to know the interfaces reads them here, and only here: the runner (which interfaces
can run, their features folder and reference connector), the pytest plugin (a mock and a connector fixture each),
the mock registry and `hih mock serve` (which mock class plays the partner), the mocks' image (its fixed ports),
the sign-off (the department that signs), `hih contract diff` (the operations the step texts perform), the proxy,
replay and `hih compare` (volatile fields). `tests/test_descriptors.py` fails when an interface is missing from one
of them, and docs/adding-an-interface.md lists the files a new interface touches.

Why in `harness.contract`: it is the one package that every other one may import (the runner and plugin, the mocks,
the connectors, the reports), because it imports nothing else of ours. A descriptor names the mock class, the
reference connector and the settings builder as `module:attribute` text, resolved (`resolve`) where they are used,
so this module stays free of imports and the dependency rule holds.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

from harness.errors import UsageError


@dataclass(frozen=True)
class StepVocabulary:
    """Operations an interface's steps perform, recognised by patterns of the step text (`hih contract diff` impact).

    `implied` are operations every scenario that exchanges anything also performs (the insurance connector signs
    in with 9001 before its first transaction).
    """

    steps: tuple[tuple[str, tuple[str, ...]], ...] = ()
    implied: tuple[str, ...] = ()

    def operations(self, step_text: str) -> set[str]:
        return {op for pattern, ops in self.steps if re.search(pattern, step_text) for op in ops}


@dataclass(frozen=True)
class Interface:
    """One interface of the hospital: its partner, the hospital side, the specs and what varies on the wire."""

    name: str
    """The CLI name (`--interface NAME`) and the folder under contracts/."""
    transport: str
    """The contract format of every version (`transport:` in contract.yaml): a key of `transports.TRANSPORTS`."""
    mock: str
    """The partner mock class, `module:Class` (a `mocks.base.MockService`)."""
    port: int
    """The fixed port of this partner in the mocks' image (`harness.containers`)."""
    connector: str
    """The reference connector's factory, `module:factory` (what `hih run` uses unless `--connector` names another)."""
    settings: str
    """`module:function(mock, contract, timeout_s, workdir=None)`: the settings object the connector factory takes,
    built from a started mock. The work folder holds the connector's durable state (outbox, listener store) for one
    scenario; without one, a connector keeps its state in a private temporary folder of its own."""
    features: str
    """The folder of its Gherkin specs under features/ (a Python package name, so `-` becomes `_`)."""
    department: str
    """Who signs for it in the hospital (the sign-off's department column)."""
    volatile: tuple[str, ...] = ()
    """Fields that differ on every exchange whatever the contract version (identifiers and times the hospital makes
    afresh): ignored when replay matches requests and when `hih compare` diffs messages. A contract version adds its
    own (`volatile:` in contract.yaml), the transport those of its protocol."""
    listener_env: str | None = None
    """Environment variable giving the hospital's own listener as HOST:PORT (black-box runs), where one applies."""
    check: str | None = None
    """`module:function(contract)`: what must hold between hih.toml and a run's contract before anything starts
    (raises a UsageError: exit 2, one line), where something must."""
    vocabulary: StepVocabulary = StepVocabulary()


INSURANCE_STEPS = StepVocabulary(
    steps=(
        (r"签到", ("9001",)),
        (r"签退", ("9002",)),
        (r"查询参保人信息|人员查询", ("1101",)),
        (r"(?<!撤销)门诊挂号", ("2201",)),
        (r"撤销(门诊)?挂号", ("2202",)),
        (r"上传就诊信息", ("2203",)),
        (r"上传收费批次|费用上传", ("2204",)),
        (r"撤销收费批次|撤销明细", ("2205",)),
        (r"预结算", ("2206",)),
        (r"(?<!预)结算收费批次", ("2207",)),
        (r"撤销(该)?结算", ("2208",)),
        (r"冲正", ("2601",)),
    ),
    implied=("9001",),
)

MCH_STEPS = StepVocabulary(
    steps=(
        (r"(?<!批量)上传|平台已收到", ("UploadRecord",)),
        (r"批量上传|待发记录", ("UploadBatch",)),
        (r"查询记录|审核|应答丢失|应答损坏|待发记录", ("QueryUploadResult",)),
        (r"撤回", ("WithdrawRecord",)),
        (r"登录|会话|密码", ("Login",)),
    ),
    implied=("Login",),
)

# What the LIS and PACS steps (features/steps/lis.py, pacs.py, hl7.py) exchange, recognised by their step texts.
LIS_STEPS = StepVocabulary(
    steps=(
        (r'"ADT\^A01"', ("ADT^A01",)),
        (r'"ADT\^A04"', ("ADT^A04",)),
        (r'"ADT\^A08"', ("ADT^A08",)),
        (r"检验医嘱", ("ORM^O01", "OML^O21", "ORR^O02", "ORL^O22")),
        (r"结果|LIS 发送一条|LIS 再次发送", ("ORU^R01",)),
    ),
    implied=("ACK",),
)

PACS_STEPS = StepVocabulary(
    steps=(
        (r"检查申请 \"[^\"]+\"（HL7 \"2\.4\"）", ("ORM^O01",)),
        (r"(开立|撤销)检查申请", ("OMI^O23",)),
        (r"检查状态", ("OMG^O19",)),
        (r"报告|PACS 发送一条|PACS 再次发送", ("ORU^R01",)),
    ),
    implied=("ACK",),
)

INTERFACES: dict[str, Interface] = {i.name: i for i in (
    Interface("insurance", "http-json", "mocks.insurance:InsuranceMock", 8080, "connectors.insurance:reference",
              "harness.ports.insurance:settings_for", "insurance", "医保办",
              volatile=("/msgid", "/inf_time", "/sign_no"), vocabulary=INSURANCE_STEPS,
              check="harness.insurance_regions:check_run_contract"),
    Interface("blood-center", "soap", "mocks.blood_center:BloodCenterMock", 8082, "connectors.blood_center:reference",
              "harness.ports.blood_center:settings_for", "blood_center", "输血科"),
    Interface("mch-platform", "soap", "mocks.mch_platform:MchPlatformMock", 8083, "connectors.mch_platform:reference",
              "harness.ports.mch_platform:settings_for", "mch_platform", "妇产科（妇幼保健）",
              volatile=("//sessionKey",), vocabulary=MCH_STEPS),
    Interface("lis", "hl7v2-mllp", "mocks.lis:LisMock", 2575, "connectors.lis:reference",
              "harness.ports.hl7:settings_for", "lis", "检验科", listener_env="HIH_LIS_LISTENER",
              vocabulary=LIS_STEPS),
    Interface("pacs", "hl7v2-mllp", "mocks.pacs:PacsMock", 2576, "connectors.pacs:reference",
              "harness.ports.hl7:settings_for", "pacs", "放射科（医学影像科）", listener_env="HIH_PACS_LISTENER",
              vocabulary=PACS_STEPS),
)}
"""Every interface hih knows, by name: the one place they are listed."""


def interface(name: str) -> Interface:
    """The descriptor of `name`; a UsageError naming the known ones when there is none."""
    found = INTERFACES.get(name)
    if found is None:
        raise UsageError(f"interface {name!r} has no descriptor in harness/contract/interfaces.py (known: "
                         f"{', '.join(INTERFACES)}; docs/adding-an-interface.md says how to add one)")
    return found


def by_features(folder: str) -> Interface | None:
    """The interface whose specs are in features/`folder`, or None."""
    return next((i for i in INTERFACES.values() if i.features == folder), None)


def resolve(reference: str) -> Any:
    """The object a `module:attribute` reference names, or the module a bare `module` names (imported on first
    use)."""
    module, _, attribute = reference.partition(":")
    value: Any = importlib.import_module(module)
    for part in attribute.split(".") if attribute else ():
        value = getattr(value, part)
    return value
