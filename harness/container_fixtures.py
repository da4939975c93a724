"""pytest fixtures that run one of hih's partners in the mocks' image (the `[containers]` extra, testcontainers): a
hospital's own tests point their connector at a partner out of process, exactly as it would run beside the HIS.

    def test_our_blood_bank_orders(hih_blood_center_container):
        wsdl = hih_blood_center_container.url("blood-center") + "/BloodCenterService?wsdl"

One session-scoped fixture per partner: `hih_insurance_container`, `hih_blood_center_container`,
`hih_mch_platform_container`, `hih_lis_container`, `hih_pacs_container` (each a started
`harness.containers.MockContainer` serving that partner alone). Where no Docker engine answers, or testcontainers is
not installed, a test using one is skipped at once with the reason. Registered as a pytest plugin (entry point
`hih-containers`); importing this module imports neither Docker nor testcontainers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.containers import IMAGE_PORTS, MockContainer, probe_engine


def partner_container(interface: str) -> Iterator[MockContainer]:
    """The body of each fixture: skip with the reason when the image cannot run here, else start it."""
    probe = probe_engine()
    if not probe.answers:
        pytest.skip(probe.reason)
    pytest.importorskip("testcontainers", reason="the [containers] extra is not installed: pip install 'hih[containers]'")
    with MockContainer([interface]) as container:
        yield container


def _fixture(interface: str) -> Callable[..., Any]:
    def fixture() -> Iterator[MockContainer]:
        yield from partner_container(interface)

    fixture.__name__ = f"hih_{interface.replace('-', '_')}_container"
    fixture.__doc__ = f"The {interface} mock in the mocks' image (testcontainers), for the whole session."
    return pytest.fixture(scope="session", name=fixture.__name__)(fixture)


# One fixture per partner of the image, named hih_<interface>_container (hih_blood_center_container ...).
for _name in IMAGE_PORTS:
    if _name != "admin":
        globals()[f"hih_{_name.replace('-', '_')}_container"] = _fixture(_name)

FIXTURES = {name: f"hih_{name.replace('-', '_')}_container" for name in IMAGE_PORTS if name != "admin"}
"""The fixture of each partner, by interface name."""
