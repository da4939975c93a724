"""The maternal-child platform mock over real sockets, called by an outside SOAP client (suds) reading its ?wsdl:
sessions, per-record results, the platform's rules, duplicates and corrections, audit and withdrawal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import suds
import suds.client

from connectors.mch_platform import MchPlatformConnector
from features.steps.mch_samples import BAD_CHECK_ID, sample, with_changes
from harness.contract.loader import ContractStore
from harness.ports.mch_platform import HospitalRecord, MchSettings
from mocks.mch_platform import TEST_ORG_CODE, TEST_PASSWORD, MchPlatformMock
from mocks.registry import create_mock
from mocks.transport.runtime import Runtime

SERVICE = "{urn:hih:mch:service}"


@pytest.fixture
def client(platform: MchPlatformMock) -> suds.client.Client:
    return suds.client.Client(f"{platform.service_url}?wsdl", cache=None, timeout=5)


def login(client: suds.client.Client) -> None:
    reply = client.service.Login(orgCode=TEST_ORG_CODE, password=TEST_PASSWORD)
    assert reply.ResultCode == "0"
    header = client.factory.create(f"{SERVICE}SessionHeader")
    header.orgCode, header.sessionKey = TEST_ORG_CODE, reply.sessionKey
    client.set_options(soapheaders=header)


@pytest.fixture
def build(platform: MchPlatformMock, tmp_path: Path) -> Callable[..., str]:
    """Records as the reference connector writes them (it only builds here; suds sends them)."""
    contract = ContractStore().load("mch-platform")
    connector = MchPlatformConnector(MchSettings("", TEST_ORG_CODE, TEST_PASSWORD, str(tmp_path / "o.sqlite"),
                                                 contract_folder=str(contract.folder)))

    def make(record: HospitalRecord, correction: str | None = None, check: bool = True) -> str:
        if check:
            return connector.build(record, correction).decode("utf-8")
        return connector._xml(record, connector._serial(), "2" if correction else "1", correction).decode("utf-8")

    return make


def test_suds_logs_in_and_uploads_a_record(client: suds.client.Client, platform: MchPlatformMock, build: Callable[..., str]) -> None:
    login(client)
    reply = client.service.UploadRecord(recordType="DELIVERY", payload=build(sample("DELIVERY", "T0001")))
    assert (reply.ResultCode, reply.result.status) == ("0", "ACCEPTED")
    assert platform.records(record_no="T0001")[0]["status"] == "PENDING"
    audited = client.service.QueryUploadResult(recordId=reply.result.recordId)
    assert (audited.ResultCode, audited.status, audited.recordNo) == ("0", "PASSED", "T0001")
    last = platform.journal.last("UploadRecord")
    assert last is not None and last.request_findings == []


def test_wrong_password_and_missing_or_expired_session(client: suds.client.Client, platform: MchPlatformMock,
                                                       build: Callable[..., str]) -> None:
    assert client.service.Login(orgCode=TEST_ORG_CODE, password="wrong").ResultCode == "1101"
    with pytest.raises(suds.WebFault) as missing:
        client.service.UploadRecord(recordType="DELIVERY", payload=build(sample("DELIVERY", "T0002")))
    assert missing.value.fault.faultcode == "soap-env:Client.Auth"
    login(client)
    platform.expire_sessions()
    with pytest.raises(suds.WebFault) as expired:
        client.service.UploadRecord(recordType="DELIVERY", payload=build(sample("DELIVERY", "T0002")))
    assert expired.value.fault.faultcode == "soap-env:Client.Auth" and "过期" in expired.value.fault.faultstring
    assert platform.records() == []


def test_a_batch_answers_per_record(client: suds.client.Client, platform: MchPlatformMock, build: Callable[..., str]) -> None:
    login(client)
    good = build(sample("NEWBORN_SCREENING", "S0001"))
    bad_sex = build(with_changes(sample("NEWBORN_SCREENING", "S0002"), sex="3"), check=False)
    bad_id = build(with_changes(sample("NEWBORN_SCREENING", "S0003"), motherIdCard=BAD_CHECK_ID), check=False)
    reply = client.service.UploadBatch(recordType="NEWBORN_SCREENING", payload=[good, bad_sex, bad_id, good])
    assert (reply.ResultCode, reply.accepted, reply.rejected) == ("1", 1, 3)
    by_index = {int(r.index): r for r in reply.result}
    assert by_index[1].status == "ACCEPTED"
    assert by_index[2].error[0].code == "1001"
    assert by_index[2].error[0].location == "/Envelope/Body/UploadBatch/payload[2]#/NewbornScreening/sex"
    assert (by_index[3].error[0].code, by_index[3].error[0].location) == (
        "3001", "/Envelope/Body/UploadBatch/payload[3]#/NewbornScreening/motherIdCard")
    assert by_index[4].error[0].code == "2001", "the same record number again, not declared a correction"
    assert [r["recordNo"] for r in platform.records()] == ["S0001"]


def test_rules_dates_and_deadlines(client: suds.client.Client, build: Callable[..., str]) -> None:
    login(client)
    late = with_changes(sample("MATERNAL_DEATH", "M0001"), deathDateTime="2020-01-01T08:00:00", deliveryDate=None)
    reply = client.service.UploadRecord(recordType="MATERNAL_DEATH", payload=build(late, check=False))
    assert (reply.result.error[0].code, reply.result.error[0].location) == (
        "3003", "/Envelope/Body/UploadRecord/payload#/MaternalDeathReport/lateReason")
    future = with_changes(sample("DELIVERY", "D0001"), lastMenstrualPeriod=date.today() + timedelta(days=400))
    reply = client.service.UploadRecord(recordType="DELIVERY", payload=build(future, check=False))
    assert reply.result.error[0].code == "3002" and "deliveryDateTime" in reply.result.error[0].location
    accepted = client.service.UploadRecord(recordType="MATERNAL_DEATH",
                                           payload=build(with_changes(late, lateReason="家属延迟告知")))
    assert accepted.result.status == "ACCEPTED"


def test_corrections_audit_and_withdrawal(client: suds.client.Client, platform: MchPlatformMock, build: Callable[..., str]) -> None:
    login(client)
    unknown = client.service.UploadRecord(recordType="DELIVERY", payload=build(sample("DELIVERY", "D0100"), "更正"))
    assert unknown.result.error[0].code == "2002"
    first = client.service.UploadRecord(recordType="DELIVERY", payload=build(sample("DELIVERY", "D0100")))
    caesarean = with_changes(sample("DELIVERY", "D0100"), deliveryMode="3")
    second = client.service.UploadRecord(recordType="DELIVERY", payload=build(caesarean, "剖宫产"))
    assert (second.result.recordId, second.result.version) == (first.result.recordId, 2)
    audited = client.service.QueryUploadResult(recordType="DELIVERY", recordNo="D0100")
    assert audited.status == "RETURNED" and "剖宫产指征" in audited.reason[0]
    withdrawn = client.service.WithdrawRecord(recordId=first.result.recordId, reason="录入错误")
    assert (withdrawn.ResultCode, withdrawn.status) == ("0", "WITHDRAWN")
    assert client.service.WithdrawRecord(recordId=first.result.recordId, reason="录入错误").ResultCode == "4002"
    again = client.service.UploadRecord(recordType="DELIVERY", payload=build(sample("DELIVERY", "D0100")))
    assert again.result.status == "ACCEPTED" and again.result.recordId != first.result.recordId
    assert client.service.QueryUploadResult(recordId="MCH2099010199999999").ResultCode == "4001"


def test_records_survive_a_restart_with_a_state_file(tmp_path: Path) -> None:
    from mocks.state import open_store

    contract = ContractStore().load("mch-platform")
    state = tmp_path / "mch.sqlite"
    runtime = Runtime().start()
    try:
        first: Any = create_mock(contract, state)
        first.start(runtime)
        client = suds.client.Client(f"{first.service_url}?wsdl", cache=None, timeout=5)
        login(client)
        record = HospitalRecord("BIRTH_CERT_VOID", "V0001", sample("BIRTH_CERT_VOID", "V0001").data)
        connector = MchPlatformConnector(MchSettings("", TEST_ORG_CODE, TEST_PASSWORD, str(tmp_path / "o.sqlite"),
                                                     contract_folder=str(contract.folder)))
        assert client.service.UploadRecord(recordType="BIRTH_CERT_VOID", payload=connector.build(record).decode()).ResultCode == "0"
        first.store.close()
        second = MchPlatformMock(contract, open_store(state))
        assert [r["recordNo"] for r in second.records()] == ["V0001"]
        second.store.close()
        connector.close()
    finally:
        runtime.stop()


def test_a_record_is_kept_as_it_came_and_audited_from_that_text(client: suds.client.Client, platform: MchPlatformMock,
                                                                build: Callable[..., str]) -> None:
    """The platform keeps the record's text as received (not the parsed tree written out again); a declaration naming
    another encoding is kept naming UTF-8, the encoding the characters are stored and read back in."""
    login(client)
    caesarean = build(with_changes(sample("DELIVERY", "K0001"), deliveryMode="3"))
    body = caesarean.split("?>", 1)[1] if caesarean.startswith("<?xml") else caesarean
    sent = "<?xml version='1.0' encoding='GBK'?>\n<!-- 来自院内系统 -->" + body
    reply = client.service.UploadRecord(recordType="DELIVERY", payload=sent)
    assert (reply.ResultCode, reply.result.status) == ("0", "ACCEPTED")
    stored = platform.records(record_no="K0001")[0]["payload"]
    assert stored == "<?xml version='1.0' encoding=\"UTF-8\"?>\n<!-- 来自院内系统 -->" + body
    audited = client.service.QueryUploadResult(recordId=reply.result.recordId)
    assert audited.status == "RETURNED" and "剖宫产指征" in audited.reason[0], "read back from the kept text"
