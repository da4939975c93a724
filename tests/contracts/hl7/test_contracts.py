"""Loading the HL7 contracts (lis 2023.1 and 2024.1, pacs 2024.1), and broken copies located as path:line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.contract.findings import Severity
from harness.contract.hl7.charsets import CharsetPolicy
from harness.contract.hl7.contract import HL7Settings, profile_of, settings
from harness.contract.loader import ContractStore, load_contract
from tests.conftest import CONTRACTS
from tests.contracts.test_loader import edit, line_of, located, problems_of


@pytest.fixture
def lis_copy(tmp_path: Path) -> Path:
    """A writable copy of contracts/lis/2024.1 at tmp_path/lis/2024.1, to break on purpose."""
    target = tmp_path / "lis" / "2024.1"
    shutil.copytree(CONTRACTS / "lis" / "2024.1", target)
    return target


# -- the shipped contracts --------------------------------------------------------------------------------------------
def test_lis_2024_1(store: ContractStore) -> None:
    contract = store.load("lis", "2024.1")

    assert contract.transport == "hl7v2-mllp" and contract.supersedes == "2023.1"
    assert list(contract.operations) == ["ADT^A01", "ADT^A04", "ADT^A08", "OML^O21", "ORL^O22", "ORU^R01", "ACK"]
    assert settings(contract) == HL7Settings(
        versions=("2.5.1",), ack_mode="original",
        charset=CharsetPolicy("UNICODE UTF-8", ("UNICODE UTF-8",), Severity.ERROR, Severity.ERROR),
        limits=settings(contract).limits, segments="profiles/segments.yaml", max_frame_bytes=1048576, ack_timeout_s=5.0)
    oml = contract.operations["OML^O21"]
    assert (oml.kind, oml.extra["direction"], oml.extra["response"]) == ("from_hospital", "from_hospital", "ORL^O22")
    assert (oml.input_schema, oml.output_schema) == ("profiles/OML_O21.yaml", "profiles/ORL_O22.yaml")
    assert contract.operations["ORU^R01"].extra["direction"] == "to_hospital"
    assert profile_of(contract, "ADT^A04") is not profile_of(contract, "ADT^A01")
    assert profile_of(contract, "ADT^A04").structure == "ADT_A01"
    assert {"profiles/segments.yaml", "profiles/ORU_R01.yaml", "profiles/ACK.yaml"} <= set(contract.schemas)
    assert contract.code_tables["HL70078"].values["HH"].startswith("危急高值")


def test_lis_2023_1_is_the_v2_4_installation(store: ContractStore) -> None:
    contract = store.load("lis", "2023.1")

    assert list(contract.operations) == ["ADT^A01", "ADT^A04", "ADT^A08", "ORM^O01", "ORR^O02", "ORU^R01", "ACK"]
    s = settings(contract)
    assert s.versions == ("2.4",)
    assert s.charset == CharsetPolicy("GB 18030-2000", ("GB 18030-2000", "UNICODE UTF-8"), Severity.WARNING, Severity.WARNING)
    assert "TQ1" not in profile_of(contract, "ORM^O01").names
    assert (CONTRACTS / "lis" / "2023.1" / "CHANGELOG.md").is_file()
    assert (CONTRACTS / "lis" / "2024.1" / "CHANGELOG.md").is_file()


def test_pacs_2024_1(store: ContractStore) -> None:
    contract = store.load("pacs", "2024.1")

    assert list(contract.operations) == ["ORM^O01", "OMI^O23", "OMG^O19", "ORU^R01", "ACK"]
    assert settings(contract).versions == ("2.4", "2.5.1")
    assert profile_of(contract, "ORM^O01").versions == ("2.4",)
    assert profile_of(contract, "OMI^O23").versions == ("2.5.1",)
    assert profile_of(contract, "ORU^R01").versions == ()
    assert "ZDS" in profile_of(contract, "ORM^O01").names and "IPC" in profile_of(contract, "OMI^O23").names
    assert contract.formats["dicom_uid"].matches("1.2.156.112605.1")
    assert settings(contract).max_frame_bytes == 4194304


def test_contract_check_and_show_on_the_hl7_contracts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contract", "check", str(CONTRACTS / "lis")]) == 0
    assert main(["contract", "check", str(CONTRACTS / "pacs")]) == 0
    out = capsys.readouterr().out
    assert "ok lis@2023.1 (7 operations" in out and "ok lis@2024.1 (7 operations" in out and "ok pacs@2024.1" in out
    assert main(["contract", "show", "lis@2024.1", "--contracts-dir", str(CONTRACTS)]) == 0
    shown = capsys.readouterr().out
    assert "ORU^R01" in shown and "to_hospital" in shown and "HL70078" in shown


# -- broken copies: every problem at path:line ----------------------------------------------------------------------------
def test_unknown_code_table_in_the_segment_library(lis_copy: Path) -> None:
    library = lis_copy / "profiles" / "segments.yaml"
    edit(library, "type: IS, usage: R, len: 1, table: HL70001}", "type: IS, usage: R, len: 1, table: HL79999}")

    problem = located(problems_of(lis_copy), library, line_of(library, "HL79999"))
    assert problem.message == "PID-8: unknown code table 'HL79999'"


def test_unknown_segment_in_a_profile(lis_copy: Path) -> None:
    profile = lis_copy / "profiles" / "ORU_R01.yaml"
    edit(profile, "  - SFT O 0..*\n", "  - SFT O 0..*\n  - ZQQ O 0..1\n")

    problem = located(problems_of(lis_copy), profile, line_of(profile, "ZQQ"))
    assert "unknown segment ZQQ" in problem.message


def test_duplicate_positions(lis_copy: Path) -> None:
    library = lis_copy / "profiles" / "segments.yaml"
    profile = lis_copy / "profiles" / "OML_O21.yaml"
    edit(library, "      - {pos: 7, name: Date/time of birth", "      - {pos: 8, name: Date/time of birth")
    edit(profile, "      - {pos: 2, usage: R}\n      - {pos: 16, usage: RE}", "      - {pos: 2, usage: R}\n      - {pos: 2, usage: RE}")

    problems = problems_of(lis_copy)
    assert located(problems, library, line_of(library, "Administrative sex")).message == "PID-8: position defined twice"
    assert located(problems, profile, line_of(profile, "{pos: 2, usage: RE}")).message == "OBR-2: position defined twice"


def test_a_typo_in_a_profile_key_fails_the_meta_schema(lis_copy: Path) -> None:
    profile = lis_copy / "profiles" / "ORU_R01.yaml"
    edit(profile, "      - {pos: 14, usage: RE}", "      - {pos: 14, usage: RE, lenght: 5}")

    problem = located(problems_of(lis_copy), profile, line_of(profile, "lenght"))
    assert "Additional properties are not allowed ('lenght' was unexpected)" in problem.message


def test_bad_yaml_in_a_profile(lis_copy: Path) -> None:
    profile = lis_copy / "profiles" / "ACK.yaml"
    edit(profile, "  - MSA R 1..1\n", "  - MSA R 1..1\n   - : [\n")

    problems = problems_of(lis_copy)
    assert problems[0].path == profile and problems[0].message.startswith("invalid YAML")
    assert problems[0].line >= line_of(profile, "MSA R 1..1")


def test_a_missing_profile_file(lis_copy: Path) -> None:
    (lis_copy / "profiles" / "ORL_O22.yaml").unlink()
    contract_file = lis_copy / "contract.yaml"

    problem = located(problems_of(lis_copy), contract_file, line_of(contract_file, "profile: profiles/ORL_O22.yaml"))
    assert problem.message == "profile file 'profiles/ORL_O22.yaml' not found"


def test_usage_and_cardinality_must_agree(lis_copy: Path) -> None:
    profile = lis_copy / "profiles" / "ACK.yaml"
    edit(profile, "  - MSA R 1..1\n", "  - MSA R 0..1\n")
    library = lis_copy / "profiles" / "segments.yaml"
    edit(library, "{pos: 5, name: Delayed acknowledgment type, type: ID, usage: X}",
         "{pos: 5, name: Delayed acknowledgment type, type: ID, usage: X, card: 0..1}")

    problems = problems_of(lis_copy)
    assert located(problems, profile, line_of(profile, "MSA R 0..1")).message == "MSA: usage R needs a minimum of at least 1"
    assert "usage X allows no occurrence" in located(problems, library, line_of(library, "Delayed acknowledgment")).message


def test_a_narrowed_value_set_must_stay_inside_its_table(lis_copy: Path) -> None:
    profile = lis_copy / "profiles" / "OML_O21.yaml"
    edit(profile, "{pos: 1, values: [NW, CA]}", "{pos: 1, values: [NW, CA, ZZ]}")

    problem = located(problems_of(lis_copy), profile, line_of(profile, "ZZ]"))
    assert problem.message == "ORC-1: ZZ not in code table HL70119"


def test_unknown_data_type_and_format(tmp_path: Path) -> None:
    folder = tmp_path / "pacs" / "2024.1"
    shutil.copytree(CONTRACTS / "pacs" / "2024.1", folder)
    library = folder / "profiles" / "segments.yaml"
    edit(library, "{pos: 13, name: Phone number - home, type: XTN,", "{pos: 13, name: Phone number - home, type: XTX,")
    edit(library, "type: ST, usage: R, len: 64, format: dicom_uid}]}", "type: ST, usage: R, len: 64, format: uid}]}")

    problems = problems_of(folder)
    assert located(problems, library, line_of(library, "XTX")).message == "PID-13: unknown data type 'XTX'"
    assert located(problems, library, line_of(library, "format: uid}")).message == \
        "IPC-3.1: unknown format 'uid' (contract formats: dicom_uid)"


def test_profile_and_contract_must_agree(lis_copy: Path) -> None:
    profile = lis_copy / "profiles" / "ORL_O22.yaml"
    edit(profile, "message: ORL^O22", "message: ORL^O34")
    edit(profile, "structure: ORL_O22\n", "structure: ORL_O22\nversions: [\"2.4\"]\n")
    edit(profile, "  ORC:\n", "  ZXX:\n    fields: []\n  ORC:\n")

    problems = problems_of(lis_copy)
    assert "profile is for ORL^O34 but the contract names it for 'ORL^O22'" in \
        located(problems, profile, line_of(profile, "ORL^O34")).message
    assert located(problems, profile, line_of(profile, "versions:")).message == \
        "version 2.4 is not among the contract's versions 2.5.1"
    assert located(problems, profile, line_of(profile, "ZXX")).message == "segment ZXX is defined but not in the sequence"


def test_contract_level_hl7_settings_are_cross_checked(lis_copy: Path) -> None:
    contract_file = lis_copy / "contract.yaml"
    edit(contract_file, "  accepted: [UNICODE UTF-8]", "  accepted: [GBK]")
    edit(contract_file, "    profile: profiles/ORU_R01.yaml\n    response: ACK",
         "    profile: profiles/ORU_R01.yaml\n    response: ACK^R01")

    problems = problems_of(lis_copy)
    assert located(problems, contract_file, line_of(contract_file, "accepted: [GBK]")).message == \
        "'GBK' is not a Table 0211 character set; write 'GB 18030-2000'"
    assert located(problems, contract_file, line_of(contract_file, "default: UNICODE UTF-8")).message == \
        "the default UNICODE UTF-8 is not among the accepted character sets"
    assert located(problems, contract_file, line_of(contract_file, "response: ACK^R01")).message == \
        "response 'ACK^R01' is not one of the messages"


def test_meta_schema_of_contract_yaml(lis_copy: Path) -> None:
    contract_file = lis_copy / "contract.yaml"
    edit(contract_file, "    mode: original ", "    mode: sometimes ")

    problem = located(problems_of(lis_copy), contract_file, line_of(contract_file, "mode: sometimes"))
    assert problem.message.startswith("hl7.acknowledgement.mode: 'sometimes' is not one of")


def test_a_broken_copy_fails_contract_check_with_exit_2(lis_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    library = lis_copy / "profiles" / "segments.yaml"
    edit(library, "table: HL70001}", "table: HL79999}")

    assert main(["contract", "check", str(lis_copy)]) == 2
    assert f"{library}:{line_of(library, 'HL79999')}: PID-8: unknown code table 'HL79999'" in capsys.readouterr().err
    assert load_contract(CONTRACTS / "lis" / "2024.1").ref == "lis@2024.1"
