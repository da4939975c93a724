"""The hospital's data for the maternal-child specs: one plausible record of each type, dated relative to today.

Identity numbers are built with their GB 11643 check character; names, phones and addresses are made up.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from harness.contract.identifiers import resident_id_check_char
from harness.ports.mch_platform import HospitalRecord


def resident_id(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


MOTHER_ID = resident_id("41010519920315002")
FATHER_ID = resident_id("41010519900708003")
BAD_CHECK_ID = MOTHER_ID[:17] + ("0" if MOTHER_ID[17] != "0" else "1")
"""A mother's ID number whose 18th character is wrong."""


def _mother(phone: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {"motherName": "李秀英", "motherIdType": "01", "motherIdCard": MOTHER_ID}
    if phone:
        data["motherPhone"] = "13812345678"
    return data


def sample(record_type: str, record_no: str, today: date | None = None) -> HospitalRecord:
    """A valid record of `record_type` numbered `record_no`, its events a few days before `today`."""
    today = today or date.today()
    birth = today - timedelta(days=3)
    lmp = birth - timedelta(weeks=39)
    born_at = datetime.combine(birth, time(8, 30))
    data: dict[str, Any]
    if record_type == "BIRTH_CERT_FIRST":
        data = {"certificateNo": "O410123456", "childName": "王小明", "sex": "1", "birthDateTime": born_at,
                "gestationalWeeks": 39, "birthWeight": 3300, "birthLength": 50, "birthPlaceType": "1",
                "birthDivision": "410105", "birthInstitution": "示例市妇幼保健院", **_mother(phone=False),
                "motherEthnicity": "01", "fatherName": "王建国", "fatherIdType": "01", "fatherIdCard": FATHER_ID,
                "fatherEthnicity": "01", "homeAddress": "河南省郑州市金水区示例路1号", "issueDate": today - timedelta(days=1),
                "issuer": "张医生"}
    elif record_type == "BIRTH_CERT_REISSUE":
        data = {"originalCertificateNo": "O410123456", "certificateNo": "O410654321", "childName": "王小明", "sex": "1",
                "birthDate": birth, **_mother(phone=False), "reissueReason": "1", "applicantName": "王建国",
                "issueDate": today - timedelta(days=1)}
    elif record_type == "BIRTH_CERT_REPLACE":
        data = {"originalCertificateNo": "O410123456", "certificateNo": "O410777777", "childName": "王晓明", "sex": "1",
                "birthDate": birth, **_mother(phone=False), "replacementReason": "2", "changedItems": "新生儿姓名变更",
                "issueDate": today - timedelta(days=1)}
    elif record_type == "BIRTH_CERT_VOID":
        data = {"certificateNo": "O410123999", "voidReason": "1", "voidDate": today - timedelta(days=1), "voidedBy": "张医生"}
    elif record_type == "NEWBORN_SCREENING":
        data = {"bloodCardNo": "XC2025000123", "childName": "王小明", "sex": "1", "birthDate": birth, "gestationalWeeks": 39,
                "birthWeight": 3300, **_mother(), "sampleDate": birth + timedelta(days=2), "screeningDate": today - timedelta(days=0),
                "item": [{"disease": "PKU", "result": "1"}, {"disease": "CH", "result": "1"}]}
    elif record_type == "HEARING_SCREENING":
        data = {"childName": "王小明", "sex": "1", "birthDate": birth, **_mother(), "screeningDate": today - timedelta(days=1),
                "stage": "1", "method": "OAE", "leftEar": "1", "rightEar": "1"}
    elif record_type == "PRENATAL_FIRST":
        lmp = today - timedelta(weeks=12)
        data = {**_mother(), "motherBirthDate": date(1992, 3, 15), "motherEthnicity": "01", "homeAddress": "河南省郑州市金水区示例路1号",
                "lastMenstrualPeriod": lmp, "expectedDeliveryDate": lmp + timedelta(days=280), "gravidity": 1, "parity": 0,
                "visitDate": today - timedelta(days=1), "gestationalWeeks": 12, "heightCm": 162, "weightKg": 55.5,
                "systolic": 112, "diastolic": 72}
    elif record_type == "DELIVERY":
        data = {**_mother(), "admissionNo": "ZY20250001", "lastMenstrualPeriod": lmp, "deliveryDateTime": born_at,
                "gestationalWeeks": 39, "gestationalDays": 0, "gravidity": 2, "parity": 1, "deliveryMode": "1",
                "postpartumBloodLossMl": 250,
                "newborn": [{"sex": "1", "birthWeight": 3300, "birthLength": 50, "apgar1": 9, "apgar5": 10, "outcome": "1"}]}
    elif record_type == "POSTPARTUM_42D":
        data = {**_mother(), "deliveryDate": today - timedelta(days=43), "checkDate": today - timedelta(days=1), "systolic": 110,
                "diastolic": 70, "weightKg": 58, "uterus": "1", "breast": "1", "feeding": "1", "conclusion": "1"}
    elif record_type == "HIGH_RISK":
        data = {**_mother(), "lastMenstrualPeriod": today - timedelta(weeks=20), "assessmentDate": today - timedelta(days=1),
                "gestationalWeeks": 20, "riskColor": "2", "riskFactor": [{"code": "O24.4", "description": "妊娠期糖尿病"}],
                "managementPlan": "产科门诊每两周随访"}
    elif record_type == "BIRTH_DEFECT":
        data = {**_mother(), "birthDate": birth, "sex": "2", "gestationalWeeks": 38, "birthWeight": 2900, "outcome": "1",
                "diagnosisDate": today - timedelta(days=1), "defect": [{"code": "Q35.9", "name": "腭裂"}]}
    elif record_type == "MATERNAL_DEATH":
        data = {**_mother(phone=False), "motherBirthDate": date(1992, 3, 15), "homeAddress": "河南省郑州市金水区示例路1号",
                "deathDateTime": datetime.combine(today - timedelta(days=1), time(3, 10)), "deathPlace": "1",
                "deliveryDate": today - timedelta(days=2), "causeCategory": "1", "underlyingCauseCode": "O72.1",
                "underlyingCause": "产后出血"}
    else:
        raise KeyError(f"no sample for record type {record_type!r}")
    return HospitalRecord(record_type, record_no, data)


def with_changes(record: HospitalRecord, **changes: Any) -> HospitalRecord:
    """The record with some values changed (None removes a value)."""
    data = {**record.data, **changes}
    return HospitalRecord(record.record_type, record.record_no, {k: v for k, v in data.items() if v is not None})
