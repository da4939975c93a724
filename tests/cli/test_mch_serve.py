"""`hih mock serve --interface mch-platform` as a separate process: it prints its endpoint, serves the WSDL, an
outside SOAP client (suds) logs in and uploads a record, and Ctrl-C (SIGINT) stops it cleanly."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import suds.client

from connectors.mch_platform import MchPlatformConnector
from features.steps.mch_samples import sample
from harness.contract.loader import ContractStore
from harness.ports.mch_platform import MchSettings
from mocks.mch_platform import TEST_ORG_CODE, TEST_PASSWORD
from tests.conftest import ROOT
from tests.served import running


def test_served_platform_answers_an_outside_client(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "harness.cli", "mock", "serve", "--interface", "mch-platform",
               "--port", "mch-platform=0"]
    with running(command, dict(os.environ), ROOT) as (process, banner):
        url, wsdl = banner["mch-platform"], banner["mch-platform wsdl"]
        assert url.startswith("http://127.0.0.1:"), banner
        assert wsdl == f"{url}/MchPlatformService?wsdl"
        client = suds.client.Client(wsdl, cache=None, timeout=10)
        reply = client.service.Login(orgCode=TEST_ORG_CODE, password=TEST_PASSWORD)
        header = client.factory.create("{urn:hih:mch:service}SessionHeader")
        header.orgCode, header.sessionKey = TEST_ORG_CODE, reply.sessionKey
        client.set_options(soapheaders=header)
        contract = ContractStore().load("mch-platform")
        connector = MchPlatformConnector(MchSettings("", TEST_ORG_CODE, TEST_PASSWORD, str(tmp_path / "o.sqlite"),
                                                     contract_folder=str(contract.folder)))
        payload = connector.build(sample("BIRTH_DEFECT", "QX9001")).decode("utf-8")
        connector.close()
        uploaded = client.service.UploadRecord(recordType="BIRTH_DEFECT", payload=payload)
        assert (uploaded.ResultCode, uploaded.result.status) == ("0", "ACCEPTED")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0, process.stderr.read() if process.stderr else ""
