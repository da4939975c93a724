"""`hih mock serve --workers auto`: the processes that won for the mocks served, capped by the cores, and one
process whenever one is required; an auto choice of two serves from two workers over real sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from mocks.insurance import InsuranceMock
from mocks.lis import LisMock
from mocks.pacs import PacsMock
from mocks.serve import ServeOptions
from mocks.workers_auto import auto_workers, parse_workers
from tests.conftest import CONTRACTS
from tests.mocks.serving import serving


def test_each_mllp_partner_is_served_as_its_figures_say() -> None:
    """Two LIS processes won on the 2-core machine; PACS keeps state outside its store: one process."""
    assert auto_workers(["lis"], cores=2) == 2
    assert auto_workers(["lis"], cores=1) == 1
    assert auto_workers(["pacs"], cores=8) == 1


def test_the_insurance_ledger_is_served_by_one_process_as_its_figures_say() -> None:
    assert auto_workers(["insurance"], cores=2) == 1
    assert auto_workers(["insurance", "lis"], cores=4) == 1


@pytest.mark.parametrize(("names", "cores", "replay", "push", "expected"), [
    (["lis"], 2, False, False, 2),
    (["lis"], 1, False, False, 1),                    # never more processes than cores
    (["lis"], 2, True, False, 1),                     # --replay answers from one process
    (["lis"], 2, False, True, 1),                     # --push sends from one process
    (["lis", "blood-center"], 2, False, False, 2),    # both ask for two
    (["lis", "pacs"], 2, False, False, 1),            # a mock with state outside its store (below)
    (["lis", "insurance"], 8, False, False, 1),       # the fewest any mock served asks for
    ([], 2, False, False, 1),
])
def test_auto_takes_the_fewest_asked_for_within_the_cores_and_what_must_stay_one_process(
        monkeypatch: pytest.MonkeyPatch, names: list[str], cores: int, replay: bool, push: bool, expected: int) -> None:
    monkeypatch.setattr(LisMock, "auto_workers", 2)
    monkeypatch.setattr(PacsMock, "auto_workers", 2)
    monkeypatch.setattr(InsuranceMock, "auto_workers", 1)  # a mock that asks for one
    monkeypatch.setattr(PacsMock, "shares_state", False)  # every registered mock shares its state: PACS plays one that does not
    assert auto_workers(names, replay, push, cores) == expected


@pytest.mark.parametrize(("text", "expected"), [("auto", "auto"), (" AUTO ", "auto"), ("1", 1), ("3", 3)])
def test_workers_is_a_number_or_auto(text: str, expected: int | str) -> None:
    assert parse_workers(text) == expected


@pytest.mark.parametrize("text", ["0", "-2", "two", ""])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_workers(text)


@pytest.mark.slow
def test_an_auto_choice_of_two_serves_orders_from_two_workers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from harness.contract.hl7.mllp_client import MllpSyncClient
    from tests.contracts.hl7 import messages as m

    monkeypatch.setattr(LisMock, "auto_workers", 2)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    with serving(ServeOptions(interfaces=["lis"], auto_workers=True, contracts_dir=CONTRACTS)) as fields:
        assert fields["lis"][2].endswith("2 workers)"), fields["lis"]
        host, port = fields["lis"][1].removeprefix("mllp://").rsplit(":", 1)
        with MllpSyncClient(host, int(port), timeout=5.0) as client:
            reply = client.send(m.lis_oml(control="AUTO0001")).message
    assert reply is not None and (reply.get("MSA-1"), reply.get("ORC-1")) == ("AA", "OK")
