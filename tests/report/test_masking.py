"""Patient identifiers are masked in everything a report shows: by field name in JSON, by shape in free text."""

from __future__ import annotations

import json

import pytest

from harness.report.masking import Masker, mask_value


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


def test_json_is_masked_by_field_name_at_any_depth() -> None:
    document = {"input": {"data": {"mdtrt_cert_no": "11010519491231002X", "psn_name": "张三", "psn_no": 1234567,
                                   "med_type": "11", "card_sn": ""}},
                "output": {"list": [{"certno": "440524188001010014", "balc": 1500.0}]}}

    masked = Masker.default().json(document)

    assert masked["input"]["data"] == {"mdtrt_cert_no": "1101**********002X", "psn_name": "张*", "psn_no": "1*****7",
                                       "med_type": "11", "card_sn": ""}
    assert masked["output"]["list"][0] == {"certno": "4405**********0014", "balc": 1500.0}
    assert document["input"]["data"]["psn_name"] == "张三", "the original is left alone"


def test_free_text_is_masked_by_shape() -> None:
    text = "人员 11010519491231002X 电话 13812345678，订单 2024030112000000000001"
    masked = Masker().text(text)
    assert "11010519491231002X" not in masked and "110105***********X" in masked
    assert "138****5678" in masked
    assert "2024030112000000000001" in masked, "a longer number is not an ID number"


def test_an_exchange_is_masked_in_parsed_and_raw_forms() -> None:
    request = {"infno": "1101", "input": {"data": {"mdtrt_cert_no": "11010519491231002X"}}}
    entry = {"request": request, "request_raw": {"text": json.dumps(request)},
             "response": None, "response_raw": {"text": "err: 身份证 11010519491231002X 不存在 {"}}

    masked = Masker.default().exchange(entry)

    assert masked["request"]["input"]["data"]["mdtrt_cert_no"] == "1101**********002X"
    assert "11010519491231002X" not in masked["request_raw"]["text"]
    assert json.loads(masked["request_raw"]["text"])["infno"] == "1101"
    assert "11010519491231002X" not in masked["response_raw"]["text"]
    assert entry["request"]["input"]["data"]["mdtrt_cert_no"] == "11010519491231002X"


def test_configured_fields() -> None:
    masker = Masker(fields=frozenset({"opter_name"}))
    assert masker.json({"opter_name": "收费员王五", "psn_name": "张三"}) == {"opter_name": "收***五", "psn_name": "张三"}
