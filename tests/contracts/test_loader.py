"""Loading contract folders: the two insurance versions, the ContractStore, and broken copies located as path:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.contract.errors import ContractError, ContractProblem
from harness.contract.loader import ContractStore, load_contract
from harness.contract.model import Contract
from harness.errors import UsageError
from tests.conftest import edit, line_of

TRANSACTIONS = {"9001", "9002", "1101", "2201", "2202", "2203", "2204", "2205", "2206", "2207", "2208", "2601"}


def problems_of(folder: Path) -> list[ContractProblem]:
    with pytest.raises(ContractError) as caught:
        load_contract(folder)
    error = caught.value
    assert str(error) == str(error.problems[0]), "the error's message is its first problem"
    return error.problems


def located(problems: list[ContractProblem], path: Path, line: int) -> ContractProblem:
    """The problem reported at path:line, checking how it prints."""
    for problem in problems:
        if problem.path == path and problem.line == line:
            assert str(problem).startswith(f"{path}:{line}: ")
            return problem
    raise AssertionError(f"no problem at {path}:{line}; got {[str(p) for p in problems]}")


# -- the shipped contracts ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["2023.1", "2024.1"])
def test_both_insurance_versions_load_with_every_transaction(store: ContractStore, version: str) -> None:
    contract = store.load("insurance", version)

    assert contract.ref == f"insurance@{version}"
    assert contract.transport == "http-json"
    assert set(contract.operations) == TRANSACTIONS
    assert contract.http is not None and contract.http.base_path == "/fsi/api"
    assert contract.signing is not None and contract.signing.scheme == "tif" and contract.signing.max_skew_s == 300
    assert contract.code_tables["mdtrt_cert_type"].values == {"01": "医保电子凭证令牌", "02": "居民身份证号", "03": "社会保障卡"}
    assert {r.id for r in contract.rules} == {"psn-no-needs-insuplc", "setl-sum", "medins-setl-id", "reversal-negative"}
    assert contract.formats["msgid"].matches("H33010600001202403011230450001")
    assert not contract.formats["msgid"].matches("h33010600001202403011230450001")


def test_operations_carry_kind_idempotence_paths_and_schemas(contract_2024: Contract) -> None:
    settle = contract_2024.operations["2207"]
    assert (settle.kind, settle.idempotent) == ("write", False)
    assert settle.input_schema == "schemas/2207-input.json" and settle.output_schema == "schemas/2207-output.json"
    assert contract_2024.operations["1101"].idempotent is True
    assert contract_2024.operations["2601"].kind == "reversal"
    assert contract_2024.operations["2202"].output_schema is None
    assert contract_2024.operations["9001"].extra["requires_sign_no"] is False
    assert contract_2024.operation_for_path("/outpatientSettleService/saveSettletmentV2/") is settle
    assert contract_2024.operation_for_path("outpatientSettleService/nothing") is None
    assert "schemas/2207-input.json" in contract_2024.schemas


def test_2024_1_supersedes_2023_1(contract_2023: Contract, contract_2024: Contract) -> None:
    assert contract_2024.supersedes == "2023.1"
    assert contract_2023.supersedes is None
    assert contract_2024.released == "2024-03-01"


# -- the store ---------------------------------------------------------------------------------------------------
def test_store_lists_interfaces_versions_in_order_and_the_newest(store: ContractStore) -> None:
    assert store.interfaces() == ["blood-center", "insurance", "lis", "mch-platform", "pacs"]
    assert store.versions("insurance") == ["2023.1", "2024.1", "2025.1"]
    assert store.newest("insurance") == "2025.1"
    assert store.load("insurance").version == "2025.1"
    assert store.load("insurance") is store.load("insurance", "2025.1"), "loads are cached"
    assert store.parse_ref("insurance@2023.1").version == "2023.1"
    assert store.parse_ref("insurance").version == "2025.1"


def test_store_orders_versions_numerically(tmp_path: Path) -> None:
    for version in ("2024.2", "2024.10", "2023.1", "2024.1"):
        (tmp_path / "lab" / version).mkdir(parents=True)
        (tmp_path / "lab" / version / "contract.yaml").write_text("interface: lab\n", encoding="utf-8")
    (tmp_path / "empty").mkdir()  # a folder without contract.yaml is not an interface
    store = ContractStore(tmp_path)

    assert store.interfaces() == ["lab"]
    assert store.versions("lab") == ["2023.1", "2024.1", "2024.2", "2024.10"]
    assert store.newest("lab") == "2024.10"


def test_store_on_a_missing_root_has_no_interfaces(tmp_path: Path) -> None:
    store = ContractStore(tmp_path / "nowhere")
    assert store.interfaces() == []
    with pytest.raises(UsageError, match="unknown interface 'insurance'.*none"):
        store.load("insurance")


def test_unknown_interface_is_a_usage_error_naming_the_known_ones(store: ContractStore) -> None:
    with pytest.raises(UsageError) as caught:
        store.load("blood-bank")
    assert "unknown interface 'blood-bank'" in str(caught.value)
    assert "insurance" in str(caught.value)
    with pytest.raises(UsageError, match="unknown interface 'dicom-worklist'"):
        store.newest("dicom-worklist")


def test_unknown_version_is_a_usage_error_listing_the_known_ones(store: ContractStore) -> None:
    with pytest.raises(UsageError) as caught:
        store.load("insurance", "2022.9")
    assert str(caught.value) == "unknown version '2022.9' of insurance (known: 2023.1, 2024.1, 2025.1)"
    with pytest.raises(UsageError, match="unknown version '1.0'"):
        store.parse_ref("insurance@1.0")


def test_hih_contracts_environment_variable_moves_the_default_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIH_CONTRACTS", str(tmp_path))
    assert ContractStore().root == tmp_path
    assert ContractStore().interfaces() == []


# -- broken copies: every problem as path:line: message ----------------------------------------------------------
def test_an_intact_copy_loads(contract_copy: Path) -> None:
    assert load_contract(contract_copy).version == "2024.1"


def test_bad_yaml_is_reported_at_the_line_of_the_error(contract_copy: Path) -> None:
    yaml_file = contract_copy / "contract.yaml"
    line = line_of(yaml_file, "base_path: /fsi/api")
    edit(yaml_file, "  base_path: /fsi/api\n", "  base_path: /fsi/api: v2\n")

    problems = problems_of(contract_copy)

    assert len(problems) == 1
    assert "invalid YAML" in located(problems, yaml_file, line).message


def test_a_missing_file_is_reported_at_the_line_of_the_key_naming_it(contract_copy: Path) -> None:
    yaml_file = contract_copy / "contract.yaml"
    line = line_of(yaml_file, "input: schemas/2202-input.json")
    (contract_copy / "schemas" / "2202-input.json").unlink()

    problems = problems_of(contract_copy)

    assert located(problems, yaml_file, line).message == "schema file 'schemas/2202-input.json' not found"


def test_a_missing_envelope_schema_is_reported_at_its_envelope_key(contract_copy: Path) -> None:
    yaml_file = contract_copy / "contract.yaml"
    line = line_of(yaml_file, "gateway_error: schemas/gateway-error.json")
    (contract_copy / "schemas" / "gateway-error.json").unlink()

    problems = problems_of(contract_copy)

    assert "not found" in located(problems, yaml_file, line).message


def test_invalid_json_in_a_schema_is_reported_at_its_line(contract_copy: Path) -> None:
    schema = contract_copy / "schemas" / "2201-output.json"
    edit(schema, '\n  "required": [\n', '\n  "required": [,\n')
    line = line_of(schema, '"required": [,')

    problems = problems_of(contract_copy)

    assert located(problems, schema, line).message.startswith("invalid JSON")


def test_an_invalid_json_schema_is_reported_at_the_offending_keyword(contract_copy: Path) -> None:
    schema = contract_copy / "schemas" / "9001-input.json"
    document = json.loads(schema.read_text(encoding="utf-8"))
    document["properties"]["signIn"]["properties"]["ip"]["type"] = 12
    schema.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    line = line_of(schema, '"type": 12')

    problems = problems_of(contract_copy)

    assert located(problems, schema, line).message.startswith("invalid JSON Schema: 12 is not valid")


def test_an_unknown_ref_is_reported_at_the_line_of_the_ref(contract_copy: Path) -> None:
    schema = contract_copy / "schemas" / "9001-output.json"
    edit(schema, "common.json#/$defs/datetime", "common.json#/$defs/timestamp")
    line = line_of(schema, "common.json#/$defs/timestamp")

    problems = problems_of(contract_copy)

    assert located(problems, schema, line).message == "unknown reference 'common.json#/$defs/timestamp'"


def test_a_code_table_referenced_but_missing_is_reported_where_each_schema_binds_it(contract_copy: Path) -> None:
    edit(contract_copy / "contract.yaml", '  psn_setlway:\n    title: 个人结算方式\n    values: {"01": 按项目结算, "02": 按定额结算}\n', "")

    problems = problems_of(contract_copy)

    for name in ("2206-input.json", "2207-input.json"):
        schema = contract_copy / "schemas" / name
        line = line_of(schema, "codes.json#/$defs/psn_setlway")
        assert located(problems, schema, line).message == "unknown reference 'codes.json#/$defs/psn_setlway'"


def test_a_version_that_differs_from_its_folder(contract_copy: Path) -> None:
    yaml_file = contract_copy / "contract.yaml"
    edit(yaml_file, 'version: "2024.1"', 'version: "2024.2"')

    problems = problems_of(contract_copy)

    problem = located(problems, yaml_file, line_of(yaml_file, 'version: "2024.2"'))
    assert problem.message == "version '2024.2' differs from its folder '2024.1'"


def test_an_interface_that_differs_from_its_folder(contract_copy: Path) -> None:
    yaml_file = contract_copy / "contract.yaml"
    edit(yaml_file, "interface: insurance", "interface: medicare")

    problems = problems_of(contract_copy)

    assert "differs from its folder 'insurance'" in located(problems, yaml_file, line_of(yaml_file, "interface: medicare")).message


def test_an_unknown_transport(contract_copy: Path) -> None:
    yaml_file = contract_copy / "contract.yaml"
    edit(yaml_file, "transport: http-json", "transport: carrier-pigeon")

    problems = problems_of(contract_copy)

    problem = located(problems, yaml_file, line_of(yaml_file, "transport: carrier-pigeon"))
    assert problem.message == "unknown transport 'carrier-pigeon' (known: hl7v2-mllp, http-json, soap)"


def test_a_rule_naming_an_unknown_transaction(contract_copy: Path) -> None:
    yaml_file = contract_copy / "contract.yaml"
    edit(yaml_file, 'applies_to: ["2206", "2207"]', 'applies_to: ["2206", "2270"]')

    problems = problems_of(contract_copy)

    problem = located(problems, yaml_file, line_of(yaml_file, 'applies_to: ["2206", "2270"]'))
    assert problem.message == "rule 'medins-setl-id' names unknown transaction '2270'"


def test_a_meta_schema_violation_names_the_key(contract_copy: Path) -> None:
    yaml_file = contract_copy / "contract.yaml"
    edit(yaml_file, "    kind: query\n    idempotent: true\n    requires_sign_no: true\n  \"2201\":",
         "    kind: lookup\n    idempotent: true\n    requires_sign_no: true\n  \"2201\":")

    problems = problems_of(contract_copy)

    problem = located(problems, yaml_file, line_of(yaml_file, "kind: lookup"))
    assert problem.message.startswith("transactions.1101.kind: 'lookup' is not one of")


def test_a_missing_contract_file(tmp_path: Path) -> None:
    problems = problems_of(tmp_path)
    assert str(problems[0]) == f"{tmp_path / 'contract.yaml'}: file not found"


def test_several_problems_are_all_reported(contract_copy: Path) -> None:
    (contract_copy / "schemas" / "2202-input.json").unlink()
    edit(contract_copy / "contract.yaml", 'applies_to: ["2206", "2207"]', 'applies_to: ["2206", "2270"]')

    messages = [p.message for p in problems_of(contract_copy)]

    assert any("not found" in m for m in messages)
    assert any("unknown transaction '2270'" in m for m in messages)


def test_contract_error_needs_a_problem() -> None:
    with pytest.raises(ValueError):
        ContractError([])
    assert str(ContractProblem(Path("c.yaml"), 0, "bad")) == "c.yaml: bad"
