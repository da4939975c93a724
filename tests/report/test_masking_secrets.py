"""Credentials carried in XML (a SOAP auth header's Token or Password) never reach a report, not even in part."""

from __future__ import annotations

from harness.config import MaskingConfig
from harness.report.masking import Masker

ENVELOPE = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="urn:x"><s:Header><t:AuthHeader>'
            "<t:HospitalCode>H32010200001</t:HospitalCode><t:Token>hih-blood-center-test-token</t:Token>"
            "<t:password>s3cret-password</t:password></t:AuthHeader></s:Header><s:Body><t:Q><t:PatientName>张秀英</t:PatientName>"
            "</t:Q></s:Body></s:Envelope>")


def test_tokens_and_passwords_are_replaced_whole() -> None:
    for masker in (Masker(), Masker.from_config(MaskingConfig(defaults=False))):
        shown = masker.xml(ENVELOPE)
        assert "test-token" not in shown and "hih-" not in shown and "s3cret" not in shown
        assert "<t:Token>***</t:Token>" in shown and "<t:password>***</t:password>" in shown
        assert "H32010200001" in shown


def test_patient_names_in_soap_bodies_stay_masked() -> None:
    assert "张秀英" not in Masker().xml(ENVELOPE)
