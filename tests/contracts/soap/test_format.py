"""The SOAP contract format: what loading the example gives, and broken copies reported as path:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.contract.errors import ContractError, ContractProblem
from harness.contract.loader import load_contract
from harness.contract.model import Contract
from harness.contract.soap import spec_of
from tests.conftest import edit, line_of
from tests.contracts.soap.conftest import EXAMPLE

SERVICE = "urn:hih:example:service"


def problems_of(folder: Path) -> list[ContractProblem]:
    with pytest.raises(ContractError) as caught:
        load_contract(folder)
    return caught.value.problems


def located(problems: list[ContractProblem], path: Path, line: int, *words: str) -> ContractProblem:
    for problem in problems:
        if problem.path == path and problem.line == line and all(w in problem.message for w in words):
            assert str(problem).startswith(f"{path}:{line}: ")
            return problem
    raise AssertionError(f"no problem at {path}:{line} with {words}; got {[str(p) for p in problems]}")


# -- the example -------------------------------------------------------------------------------------------------
def test_the_example_loads_with_both_operations(example: Contract) -> None:
    spec = spec_of(example)

    assert example.transport == "soap" and example.ref == "example@2025.1"
    assert (spec.version, spec.service, spec.port, spec.path) == ("1.1", "ExampleService", "ExamplePort", "/ExampleService")
    assert spec.content_type == "text/xml; charset=utf-8" and spec.max_bytes == 262144
    submit, upload = example.operations["SubmitOrder"], example.operations["UploadRecord"]
    assert (submit.name, submit.kind, submit.idempotent) == ("提交订单", "write", True)
    assert (upload.idempotent, upload.extra["payload"]) == (False, "payload")
    assert submit.input_schema == f"{{{SERVICE}}}SubmitOrder" and submit.output_schema == f"{{{SERVICE}}}SubmitOrderResponse"
    assert submit.extra["soap_action"] == "urn:hih:example:SubmitOrder"
    assert spec.by_action == {"urn:hih:example:SubmitOrder": "SubmitOrder", "urn:hih:example:UploadRecord": "UploadRecord"}


def test_auth_results_value_sets_and_payload_types(example: Contract) -> None:
    spec = spec_of(example)

    assert spec.auth is not None and spec.auth.header == f"{{{SERVICE}}}AuthHeader"
    assert spec.auth.credentials == ("HospitalCode", "Token") and spec.auth.fault_code == "Client.Auth"
    assert all(op.auth for op in spec.operations.values())
    assert spec.results is not None and (spec.results.code, spec.results.success, spec.results.table) == ("ResultCode", ("0",), "result_code")
    assert spec.value_sets == {"{urn:hih:example:common}AboGroup": "abo", "{urn:hih:example:common}Urgency": "urgency"}
    assert set(spec.payload_types) == {"BIRTH_NOTICE", "SCREENING"}
    assert spec.payload_roots["{urn:hih:example:records}BirthNotice"] == "BIRTH_NOTICE"
    payload = spec.operations["UploadRecord"].payload
    assert payload is not None and (payload.element, payload.type_field, payload.encoding) == (("payload",), ("recordType",), "text")


def test_every_schema_file_is_kept_and_served(example: Contract) -> None:
    files = {"ExampleService.wsdl", "xsd/common.xsd", "records/birth-notice.xsd", "records/record-types.xsd", "records/screening.xsd"}
    assert set(example.schemas) == files
    served = spec_of(example).served
    assert set(served) == files
    assert b'schemaLocation="__HIH_BASE_URL__?xsd=xsd/common.xsd"' in served["ExampleService.wsdl"]
    assert b'location="__HIH_BASE_URL__"' in served["ExampleService.wsdl"]
    assert b'schemaLocation="__HIH_BASE_URL__?xsd=records/record-types.xsd"' in served["records/birth-notice.xsd"]


def test_soap_1_2_where_the_binding_says_so(example12: Contract) -> None:
    spec = spec_of(example12)
    assert spec.version == "1.2" and spec.envelope_ns == "http://www.w3.org/2003/05/soap-envelope"
    assert spec.content_type == "application/soap+xml; charset=utf-8"


def test_hih_contract_check_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    assert main(["contract", "check", str(EXAMPLE)]) == 0
    assert "ok example@2025.1 (2 operations, 5 schemas)" in capsys.readouterr().out
    assert main(["contract", "show", "example", "--contracts-dir", str(EXAMPLE.parents[1])]) == 0
    assert "SubmitOrder  提交订单" in capsys.readouterr().out


# -- broken copies --------------------------------------------------------------------------------------------------
def test_a_typo_in_contract_yaml_is_refused_by_the_meta_schema(example_copy: Path) -> None:
    edit(example_copy / "contract.yaml", "    idempotent: true\n", "    idempotant: true\n")
    yaml = example_copy / "contract.yaml"
    # the meta-schema locates an unexpected key at the object that holds it
    located(problems_of(example_copy), yaml, line_of(yaml, "  SubmitOrder:"), "'idempotant' was unexpected")


def test_a_missing_wsdl_is_reported_at_its_line(example_copy: Path) -> None:
    (example_copy / "ExampleService.wsdl").unlink()
    yaml = example_copy / "contract.yaml"
    located(problems_of(example_copy), yaml, line_of(yaml, "wsdl: ExampleService.wsdl"), "not found")


def test_xml_that_is_not_well_formed_is_reported_at_its_line(example_copy: Path) -> None:
    wsdl = example_copy / "ExampleService.wsdl"
    edit(wsdl, "</wsdl:portType>", "</wsdl:portTypo>")
    located(problems_of(example_copy), wsdl, line_of(wsdl, "</wsdl:portTypo>"), "not well-formed", "portTypo")


@pytest.mark.parametrize("file", ["ExampleService.wsdl", "xsd/common.xsd", "records/record-types.xsd"])
def test_a_doctype_in_any_contract_file_is_refused(example_copy: Path, file: str) -> None:
    path = example_copy / file
    edit(path, '<?xml version="1.0" encoding="UTF-8"?>\n',
         '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n')
    problems = problems_of(example_copy)
    located(problems, path, 2, "DOCTYPE")
    assert len([p for p in problems if p.path == path]) == 1


def test_an_unresolved_type_in_the_embedded_schema_points_into_the_wsdl(example_copy: Path) -> None:
    wsdl = example_copy / "ExampleService.wsdl"
    edit(wsdl, 'type="c:ProductCode"', 'type="c:NoSuchType"')
    located(problems_of(example_copy), wsdl, line_of(wsdl, "c:NoSuchType"), "XSD:", "'NoSuchType' does not resolve")


def test_an_error_in_an_imported_xsd_points_into_that_file(example_copy: Path) -> None:
    common = example_copy / "xsd" / "common.xsd"
    edit(common, '<xs:pattern value="E\\d{4}"/>', '<xs:patern value="E\\d{4}"/>')
    located(problems_of(example_copy), common, line_of(common, "xs:patern"), "XSD:", "restriction")


@pytest.mark.parametrize(("location", "words"), [
    ("http://schemas.example.invalid/common.xsd", "only files in the contract folder"),
    ("../../../../../../../etc/common.xsd", "outside the contract folder"),
    ("xsd/missing.xsd", "file not found"),
])
def test_imports_are_local_files_inside_the_folder(example_copy: Path, location: str, words: str) -> None:
    wsdl = example_copy / "ExampleService.wsdl"
    edit(wsdl, 'schemaLocation="xsd/common.xsd"', f'schemaLocation="{location}"')
    located(problems_of(example_copy), wsdl, line_of(wsdl, location), words)


@pytest.mark.parametrize(("old", "new", "words"), [
    ('element="tns:SubmitOrderResponse"', 'element="tns:SubmitOrderAnswer"', "no global element"),
    ('<wsdl:output message="tns:SubmitOrderReply"/>', '<wsdl:output message="tns:NoReply"/>', "no wsdl:message"),
    ('binding="tns:ExampleBinding"', 'binding="tns:NoBinding"', "no wsdl:binding"),
    ('<soap:operation soapAction="urn:hih:example:UploadRecord" style="document"/>',
     '<soap:operation soapAction="urn:hih:example:UploadRecord" style="rpc"/>', "only document/literal"),
    ('element="tns:UploadRecord"', 'element="zz:UploadRecord"', "prefix not declared"),
])
def test_wsdl_structure_problems_point_at_their_line(example_copy: Path, old: str, new: str, words: str) -> None:
    wsdl = example_copy / "ExampleService.wsdl"
    edit(wsdl, old, new)
    located(problems_of(example_copy), wsdl, line_of(wsdl, new), words)


def test_an_encoded_body_is_refused(example_copy: Path) -> None:
    wsdl = example_copy / "ExampleService.wsdl"
    text = wsdl.read_text(encoding="utf-8")
    first = text.index('<soap:body use="literal"/>')
    wsdl.write_text(text[:first] + '<soap:body use="encoded"/>' + text[first + len('<soap:body use="literal"/>'):], encoding="utf-8")
    located(problems_of(example_copy), wsdl, line_of(wsdl, 'use="encoded"'), "only literal")


def test_operations_must_match_the_binding_both_ways(example_copy: Path) -> None:
    yaml = example_copy / "contract.yaml"
    edit(yaml, "  UploadRecord:\n    name: 上传记录", "  UploadRecords:\n    name: 上传记录")
    problems = problems_of(example_copy)
    wsdl = example_copy / "ExampleService.wsdl"
    located(problems, yaml, line_of(yaml, "UploadRecords:"), "not in binding 'ExampleBinding'")
    bound = [i + 1 for i, line in enumerate(wsdl.read_text(encoding="utf-8").splitlines()) if 'operation name="UploadRecord"' in line]
    located(problems, wsdl, bound[-1], "not described in contract.yaml")


@pytest.mark.parametrize(("old", "new", "anchor", "words"), [
    ("soap_action: urn:hih:example:SubmitOrder", "soap_action: urn:hih:example:Submit", "urn:hih:example:Submit\n", "differs from the WSDL"),
    ("credentials: [HospitalCode, Token]", "credentials: [HospitalCode, Password]", "Password", "not a child of AuthHeader"),
    ("header: tns:AuthHeader", "header: tns:Auth", "header: tns:Auth", "not a global element"),
    ("values: {A: A 型, B: B 型, AB: AB 型, O: O 型}", "values: {A: A 型, B: B 型, AB: AB 型}", "c:AboGroup: abo", "no meaning for 'O'"),
    ("values: {A: A 型, B: B 型, AB: AB 型, O: O 型}", "values: {A: A 型, B: B 型, AB: AB 型, O: O 型, X: 未知}", "c:AboGroup: abo",
     "does not allow: 'X'"),
    ("c:Urgency: urgency", "c:Urgent: urgency", "c:Urgent", "not a named simple type"),
    ("root: rec:Screening", "root: rec:Screen", "rec:Screen", "not a global element of records/screening.xsd"),
    ("root: rec:Screening", "root: rec:BirthNotice", "root: rec:BirthNotice", "not a global element of records/screening.xsd"),
    ("schema: records/screening.xsd", "schema: records/screen.xsd", "records/screen.xsd", "not found"),
    ("element: payload", "element: payloads", "element: payloads", "not an element path under UploadRecord"),
    ("type_field: recordType", "type_field: kind", "type_field: kind", "not an element path"),
    ('version: "1.1"', 'version: "1.2"', 'version: "1.2"', "is SOAP 1.1"),
    ("table: result_code", "table: results", "table: results", "unknown code table"),
    ('success: ["0"]', 'success: ["00"]', 'success: ["00"]', "not in code table"),
    ("service: ExampleService", "service: OtherService", "service: OtherService", "has no service 'OtherService'"),
    ("port: ExamplePort", "port: OtherPort", "port: OtherPort", "has no port 'OtherPort' (it has: ExamplePort)"),
])
def test_contract_yaml_problems_point_at_their_line(example_copy: Path, old: str, new: str, anchor: str, words: str) -> None:
    yaml = example_copy / "contract.yaml"
    edit(yaml, old, new)
    problems = problems_of(example_copy)
    text = yaml.read_text(encoding="utf-8")
    line = text[: text.rindex(anchor)].count("\n") + 1
    located(problems, yaml, line, words)


def test_an_auth_header_the_binding_does_not_declare_is_a_problem(example_copy: Path) -> None:
    wsdl = example_copy / "ExampleService.wsdl"
    edit(wsdl, '''      <soap:operation soapAction="urn:hih:example:UploadRecord" style="document"/>
      <wsdl:input>
        <soap:header message="tns:AuthHeaderMessage" part="auth" use="literal"/>''', '''      <soap:operation soapAction="urn:hih:example:UploadRecord" style="document"/>
      <wsdl:input>''')
    lines = wsdl.read_text(encoding="utf-8").splitlines()
    line = [i + 1 for i, text in enumerate(lines) if 'operation name="UploadRecord"' in text][-1]
    located(problems_of(example_copy), wsdl, line, "needs the auth header", "no soap:header")


def test_operations_that_skip_auth_need_no_header(example_copy: Path) -> None:
    wsdl = example_copy / "ExampleService.wsdl"
    edit(wsdl, '''      <soap:operation soapAction="urn:hih:example:UploadRecord" style="document"/>
      <wsdl:input>
        <soap:header message="tns:AuthHeaderMessage" part="auth" use="literal"/>''', '''      <soap:operation soapAction="urn:hih:example:UploadRecord" style="document"/>
      <wsdl:input>''')
    edit(example_copy / "contract.yaml", "  fault_code: Client.Auth\n", "  fault_code: Client.Auth\n  except: [UploadRecord]\n")
    spec = spec_of(load_contract(example_copy))
    assert spec.operations["SubmitOrder"].auth and not spec.operations["UploadRecord"].auth


def test_a_zeep_warning_is_a_problem_too(example_copy: Path) -> None:
    """zeep is lenient (it warns and goes on); what it would only warn about must fail the check."""
    wsdl = example_copy / "ExampleService.wsdl"
    edit(wsdl, '<soap:header message="tns:AuthHeaderMessage" part="auth" use="literal"/>\n        <soap:body use="literal"/>\n      </wsdl:input>\n      <wsdl:output>\n        <soap:body use="literal"/>\n      </wsdl:output>\n    </wsdl:operation>\n    <wsdl:operation name="UploadRecord">',
         '<soap:header message="tns:AuthHeaderMessage" part="nopart" use="literal"/>\n        <soap:body use="literal"/>\n      </wsdl:input>\n      <wsdl:output>\n        <soap:body use="literal"/>\n      </wsdl:output>\n    </wsdl:operation>\n    <wsdl:operation name="UploadRecord">')
    located(problems_of(example_copy), wsdl, line_of(wsdl, 'part="nopart"'), "has no such part")
