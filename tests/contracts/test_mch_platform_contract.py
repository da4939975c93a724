"""The mch-platform contracts: both versions load, the record types and their documentation, the 2025.1 policy
change as a breaking payload change with the scenarios it impacts, and the record rules shared by mock and connector."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from lxml import etree

from features.steps.mch_samples import BAD_CHECK_ID, MOTHER_ID
from harness.contract.diff import diff_contracts
from harness.contract.loader import ContractStore
from harness.contract.mch_rules import deadlines, record_rules
from harness.contract.soap import spec_of
from harness.contract.soap_validate import SoapValidator
from harness.run.selection import contract_impact
from tests.conftest import ROOT

XS = "{http://www.w3.org/2001/XMLSchema}"
REQUIRED_TYPES = {"BIRTH_CERT_FIRST", "BIRTH_CERT_REISSUE", "BIRTH_CERT_REPLACE", "BIRTH_CERT_VOID", "NEWBORN_SCREENING",
                  "DELIVERY", "POSTPARTUM_42D", "HIGH_RISK", "BIRTH_DEFECT", "MATERNAL_DEATH"}
R = "urn:hih:mch:records"


@pytest.mark.parametrize("version", ["2024.1", "2025.1"])
def test_each_version_has_the_record_types_each_element_documented(version: str) -> None:
    contract = ContractStore().load("mch-platform", version)
    spec = spec_of(contract)
    assert set(spec.operations) == {"Login", "UploadRecord", "UploadBatch", "QueryUploadResult", "WithdrawRecord"}
    assert REQUIRED_TYPES <= set(spec.payload_types) and len(spec.payload_types) >= 10
    assert len({p.root for p in spec.payload_types.values()}) == len(spec.payload_types), "a root names its type"
    codes = 0
    for ptype in spec.payload_types.values():
        xsd = etree.parse(str(contract.folder / ptype.schema))
        for element in xsd.iter(f"{XS}element"):
            text = element.findtext(f"{XS}annotation/{XS}documentation") or ""
            assert text.strip(), f"{ptype.schema}: {element.get('name')} has no documentation"
            codes += "DE0" in text
    assert codes > 100, "elements carry their WS 363 data-element codes where one exists"


def test_the_policy_change_is_breaking_and_names_its_scenarios() -> None:
    store = ContractStore()
    diff = diff_contracts(store.load("mch-platform", "2024.1"), store.load("mch-platform", "2025.1"))
    breaking = [c for c in diff.changes if c.classification.value == "breaking"]
    assert [c.location for c in breaking] == ["payload DELIVERY /DeliveryRecord/postpartumBloodLossMl"]
    found = contract_impact(store, "mch-platform", "2024.1", "2025.1", ROOT / "features", None)
    names = {scenario.name for scenario, _, _ in found.impacted()}
    assert "2025.1 起缺少产后出血量的分娩记录在发送前被拒绝" in names


def record(body: str, root: str = "DeliveryRecord") -> etree._Element:
    return etree.fromstring(f"<{root} xmlns='{R}'>{body}</{root}>")


def test_rules_id_check_dates_and_deadlines() -> None:
    limits = deadlines(ContractStore().load("mch-platform"))
    today = date(2025, 6, 1)
    assert limits["MATERNAL_DEATH"].days == 7 and limits["DELIVERY"].element == "deliveryDateTime"
    good = record(f"<motherIdType>01</motherIdType><motherIdCard>{MOTHER_ID}</motherIdCard>"
                  "<lastMenstrualPeriod>2024-09-01</lastMenstrualPeriod><deliveryDateTime>2025-05-30T08:00:00</deliveryDateTime>")
    assert record_rules("DELIVERY", good, today, limits) == []
    bad = record(f"<motherIdType>01</motherIdType><motherIdCard>{BAD_CHECK_ID}</motherIdCard>"
                 "<lastMenstrualPeriod>2025-06-01</lastMenstrualPeriod><deliveryDateTime>2025-04-01T08:00:00</deliveryDateTime>")
    found = {(f.rule, f.location) for f in record_rules("DELIVERY", bad, today, limits, "payload#")}
    assert found == {("id-check", "payload#/DeliveryRecord/motherIdCard"),
                     ("date-order", "payload#/DeliveryRecord/deliveryDateTime"),
                     ("deadline", "payload#/DeliveryRecord/lateReason")}
    passport = record("<motherIdType>03</motherIdType><motherIdCard>E12345678</motherIdCard>")
    assert record_rules("DELIVERY", passport, today, limits) == [], "only resident ID cards have a check character"
    future = record(f"<deliveryDateTime>{today + timedelta(days=1)}T08:00:00</deliveryDateTime>")
    assert [f.rule for f in record_rules("DELIVERY", future, today, limits)] == ["future-date"]
    late = record("<lateReason>家属延迟告知</lateReason><deathDateTime>2025-01-01T08:00:00</deathDateTime>", "MaternalDeathReport")
    assert record_rules("MATERNAL_DEATH", late, today, limits) == []


def test_a_capture_of_the_policy_change_validates_per_version() -> None:
    store = ContractStore()
    raw = (ROOT / "tests" / "data" / "mch" / "delivery-2024.1.xml").read_bytes()
    assert SoapValidator(store.load("mch-platform", "2024.1")).validate_capture(raw).findings == []
    findings = SoapValidator(store.load("mch-platform", "2025.1")).validate_capture(raw).findings
    assert [f.location for f in findings] == ["/DeliveryRecord/newborn"] and "postpartumBloodLossMl" in findings[0].message
