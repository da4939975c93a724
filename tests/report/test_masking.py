"""Patient identifiers are masked in everything a report shows: by path in JSON, XML and HL7, by shape in free text."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from harness.config import MaskingConfig
from harness.report.masking import Masker, PathMatcher, mask_value


@pytest.mark.parametrize(("value", "masked"), [
    ("11010519491231002X", "1101**********002X"),
    ("张三", "张*"),
    ("欧阳娜娜", "欧**娜"),
    ("A", "*"),
    ("33010000000000000000000001", "3301******************0001"),
])
def test_mask_value(value: str, masked: str) -> None:
    assert mask_value(value) == masked
    assert len(masked) == len(value)
    assert mask_value(masked) == masked, "masking twice changes nothing"


def test_json_is_masked_by_field_name_at_any_depth() -> None:
    document: dict[str, Any] = {"input": {"data": {"mdtrt_cert_no": "11010519491231002X", "psn_name": "张三", "psn_no": 1234567,
                                   "med_type": "11", "card_sn": ""}},
                "output": {"list": [{"certno": "440524188001010014", "balc": 1500.0}]}}

    masked = Masker.default().json(document)

    assert masked["input"]["data"] == {"mdtrt_cert_no": "1101**********002X", "psn_name": "张*", "psn_no": "1*****7",
                                       "med_type": "11", "card_sn": ""}
    assert masked["output"]["list"][0] == {"certno": "4405**********0014", "balc": 1500.0}
    assert document["input"]["data"]["psn_name"] == "张三", "the original is left alone"


@pytest.mark.parametrize(("pattern", "path", "hit"), [
    ("/input/data/certno", ("input", "data", "certno"), True),
    ("/input/data/certno", ("output", "data", "certno"), False),
    ("/input/*/certno", ("input", "data", "certno"), True),
    ("/output/list/*/certno", ("output", "list", "0", "certno"), True),
    ("**/psn_name", ("output", "baseinfo", "psn_name"), True),
    ("psn_name", ("psn_name",), True),
    ("/input/**/tel", ("input", "a", "b", "tel"), True),
    ("//IdCard*", ("Envelope", "Body", "Record", "IDCard_Mother"), True),
    ("/Envelope/Body/*/MotherName", ("Envelope", "Body", "Record", "MotherName"), True),
    ("/Envelope/Body/*/MotherName", ("Envelope", "Body", "A", "B", "MotherName"), False),
    ("//Patient/@id", ("Record", "Patient", "@id"), True),
])
def test_path_patterns(pattern: str, path: tuple[str, ...], hit: bool) -> None:
    assert PathMatcher([pattern]).matches(path) is hit


def test_a_json_pointer_rule_masks_only_where_it_points() -> None:
    masker = Masker(json=["/input/data/ipt_otp_no"], xml=[], hl7=[])
    masked = masker.json({"input": {"data": {"ipt_otp_no": "OTP123456"}}, "output": {"ipt_otp_no": "OTP999999"}})
    assert masked == {"input": {"data": {"ipt_otp_no": "O*******6"}}, "output": {"ipt_otp_no": "OTP999999"}}


def test_a_rule_on_an_object_masks_everything_in_it() -> None:
    masked = Masker(json=["**/baseinfo"]).json({"baseinfo": {"psn_cert_type": "01", "brdy": "1990-01-01"}, "ok": "yes"})
    assert masked == {"baseinfo": {"psn_cert_type": "0*", "brdy": "1********1"}, "ok": "yes"}


def test_free_text_is_masked_by_shape() -> None:
    text = "人员 11010519491231002X 电话 13812345678 座机 0571-88886666，订单 2024030112000000000001"
    masked = Masker().text(text)
    assert "11010519491231002X" not in masked and "110105***********X" in masked
    assert "138****5678" in masked
    assert "88886666" not in masked
    assert "2024030112000000000001" in masked, "a longer number is not an ID number"


def test_free_text_pairs_of_identifier_fields_are_masked() -> None:
    """Truncated JSON, Python reprs in tracebacks, log lines and XML fragments quote identifiers by field name."""
    masker = Masker()
    text = ('{"psn_no":"33010000000000000000000001","psn_name":"\\u5f20\\u4e09","certno":"3301'
            " Person(psn_no='33010000000000000000000002', card_sn=None, ec_token='66080f174c96d8e2') "
            "psn_no=33010000000000000000000003 <PatientName>李四</PatientName> &lt;Phone&gt;0571-1234567&lt;/Phone&gt;")
    masked = masker.text(text)
    for value in ("33010000000000000000000001", "\\u5f20\\u4e09", "33010000000000000000000002", "66080f174c96d8e2",
                  "33010000000000000000000003", "李四", "1234567"):
        assert value not in masked, value
    assert "card_sn=None" in masked, "None is not a value to mask"
    assert '"psn_name":"张*"' in masked, "a JSON string is masked by what it says, not by its escapes"


def test_values_masked_by_path_are_masked_wherever_they_appear_later() -> None:
    masker = Masker()
    masker.json({"psn_no": "33010000000000000000000009", "psn_name": "王小明"})
    masked = masker.text("FSI返回：人员 33010000000000000000000009（王小明）参保状态为暂停；3301000000000000000000000912 不是他")
    assert "33010000000000000000000009（" not in masked and "王小明" not in masked
    assert "3301000000000000000000000912" in masked, "the same digits inside a longer number are another number"


def test_short_codes_are_not_remembered() -> None:
    masker = Masker(json=["**/gend"])
    masker.json({"gend": "1"})
    assert masker.text("2024-01-01 is day 1") == "2024-01-01 is day 1"


def test_objects_teach_the_masker() -> None:
    from mocks.population import generate

    person = generate(size=5)[0]
    masker = Masker()
    masker.learn({"patient": person})
    text = f"expected {person.ec_token[:40]} for {person.psn_name} ({person.card_no})"
    masked = masker.text(text)
    assert person.ec_token not in masked and person.psn_name not in masked and person.card_no not in masked


def test_an_exchange_is_masked_in_parsed_and_raw_forms() -> None:
    request = {"infno": "1101", "input": {"data": {"mdtrt_cert_no": "11010519491231002X"}}}
    entry: dict[str, Any] = {"transport": "http", "request": request, "request_raw": {"text": json.dumps(request)},
             "request_findings": [{"severity": "error", "location": "/input/data/mdtrt_cert_no",
                                   "message": "'11010519491231002X' is not valid"}],
             "response": None, "response_raw": {"text": "err: 身份证 11010519491231002X 不存在 {"},
             "meta": {"path": "/query?certno=11010519491231002X"}}

    masked = Masker.default().exchange(entry)

    assert masked["request"]["input"]["data"]["mdtrt_cert_no"] == "1101**********002X"
    assert "11010519491231002X" not in json.dumps(masked, ensure_ascii=False)
    assert json.loads(masked["request_raw"]["text"])["infno"] == "1101"
    assert entry["request"]["input"]["data"]["mdtrt_cert_no"] == "11010519491231002X"


def test_gbk_bytes_are_decoded_and_masked() -> None:
    raw = '{"psn_name": "张三", "certno": "11010519491231002X"}'.encode("gbk")
    entry = {"transport": "http", "request_raw": {"base64": base64.b64encode(raw).decode()}, "request": None}
    masked = Masker().exchange(entry)["request_raw"]
    assert masked["decoded"] == "gb18030"
    assert json.loads(masked["text"]) == {"psn_name": "张*", "certno": "1101**********002X"}


def test_xml_by_element_path_including_a_string_payload_holding_xml() -> None:
    xml = ('<?xml version="1.0" encoding="GBK"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
           "<s:Body><UploadRecord><payload>&lt;Record&gt;&lt;MotherName&gt;王芳&lt;/MotherName&gt;"
           "&lt;IDCard_Mother&gt;330106199001011234&lt;/IDCard_Mother&gt;&lt;/Record&gt;</payload>"
           '<HospitalName>示例医院</HospitalName><Patient id="P1" IdCard="330106199001011234"/>'
           "<Contact><Name>李四</Name><Phone>13812345678</Phone></Contact></UploadRecord></s:Body></s:Envelope>")

    masked = Masker().raw(xml, "soap")

    for value in ("王芳", "330106199001011234", "李四", "13812345678"):
        assert value not in masked, value
    assert "示例医院" in masked and masked.startswith('<?xml version="1.0" encoding="GBK"?>')
    assert Masker(xml=["//Patient/@id"]).raw(xml).count('id="P*"') == 1


def test_malformed_xml_is_masked_by_element_name() -> None:
    masked = Masker().raw("<Record><PatientName>张三丰<Broken></Record>")
    assert "张三丰" not in masked


HL7 = ("\x0bMSH|^~\\&|LIS|H|HIS|H|20240101120000||ORU^R01|1|P|2.5\r"
       "PID|1||P123456^^^H^MR~330106199001011234^^^CHN^NNCHN||张三^^^^^^L||19900101|M|||"
       "杭州市西湖区文三路1号^^杭州^浙江^310000||13812345678\r"
       "NK1|1|李四^^^^^^L|MTH\r"
       "OBX|1|ST|GLU^血糖||5.6|mmol/L\x1c\r")


def test_hl7_by_field_path_keeps_structure_and_framing() -> None:
    masked = Masker().hl7(HL7)

    for value in ("P123456", "330106199001011234", "张三", "文三路", "13812345678", "李四"):
        assert value not in masked, value
    assert masked.startswith("\x0bMSH|^~\\&|LIS") and masked.endswith("\x1c\r")
    pid = masked.split("\r")[1].split("|")
    assert pid[3] == "P*****6^^^H^MR~3301**********1234^^^CHN^NNCHN", "PID-3.1 only: the type codes stay"
    assert masked.split("\r")[3] == "OBX|1|ST|GLU^血糖||5.6|mmol/L\x1c"


def test_hl7_segments_in_free_text_are_masked() -> None:
    text = "ACK not received for:\nPID|1||P123456^^^H^MR||张三"
    assert "张三" not in Masker().text(text) and "P123456" not in Masker().text(text)


def test_configured_fields() -> None:
    masker = Masker(fields=frozenset({"opter_name"}))
    assert masker.json({"opter_name": "收费员王五", "psn_name": "张三"}) == {"opter_name": "收***五", "psn_name": "张三"}


def test_from_config_adds_excludes_and_replaces_rules() -> None:
    added = Masker.from_config(MaskingConfig(json=("**/opter_name",), hl7=("ZPI-2",), text=(r"OTP(\d+)",)))
    assert added.json({"opter_name": "收费员王五", "psn_name": "张三"}) == {"opter_name": "收***五", "psn_name": "张*"}
    assert "987654" not in added.hl7("ZPI|1|987654")
    assert added.text("visit OTP123456") == "visit OTP1****6"

    without_name = Masker.from_config(MaskingConfig(exclude=("name", "PID-5")))
    assert without_name.json({"name": "内科", "psn_name": "张三"}) == {"name": "内科", "psn_name": "张*"}
    assert "张三" in without_name.hl7("PID|1||||张三")

    only = Masker.from_config(MaskingConfig(defaults=False, json=("/input/secret",)))
    assert only.json({"psn_name": "张三", "input": {"secret": "abcdef"}}) == {"psn_name": "张三", "input": {"secret": "a****f"}}


# Every element of the SOAP contracts' schemas that names a person's fact, whatever the first record a masker sees:
# an unmasked one leaks the moment it is the first of its value (the masker also masks values it has seen before).
_PERSONAL = re.compile(r"(?i)(name|idcard|phone|address)$")
_NOT_A_PERSON = {"orgname", "productname"}


def _personal_elements() -> list[str]:
    from tests.conftest import CONTRACTS

    names: set[str] = set()
    for schema in [*CONTRACTS.glob("*/*/**/*.xsd"), *CONTRACTS.glob("*/*/*.wsdl")]:
        names.update(re.findall(r'<xs:element\s+name="([A-Za-z]+)"', schema.read_text(encoding="utf-8")))
    return sorted(n for n in names if _PERSONAL.search(n) and n.lower() not in _NOT_A_PERSON)


def test_the_contracts_name_personal_elements() -> None:
    assert {"motherName", "fatherName", "applicantName", "PatientName"} <= set(_personal_elements())


@pytest.mark.parametrize("element", _personal_elements())
def test_every_personal_element_of_the_contracts_is_masked_by_a_fresh_masker(element: str) -> None:
    text = f"<Record><{element}>王建国</{element}><orgName>示例市妇幼保健院</orgName></Record>"
    masked = Masker().xml(text)
    assert "王建国" not in masked, masked
    assert "示例市妇幼保健院" in masked, "an organisation's name is not a patient's"
