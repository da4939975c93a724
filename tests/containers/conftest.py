"""The mocks' image under testcontainers, where a Docker engine answers: `mock_container` builds the project's
Dockerfile and starts it serving all five partners; the per-partner fixtures (`hih_blood_center_container` ...) come
from the `harness.container_fixtures` plugin. Where no engine answers (no socket, no daemon), every test that uses
one skips at once, saying where it looked.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.containers import EngineProbe, MockContainer, probe_engine


@pytest.fixture(scope="session")
def docker_engine() -> EngineProbe:
    probe = probe_engine()
    if not probe.answers:
        pytest.skip(probe.reason)
    return probe


@pytest.fixture(scope="session")
def mock_container(docker_engine: EngineProbe) -> Iterator[MockContainer]:
    pytest.importorskip("testcontainers", reason="the [containers] extra is not installed: pip install -e '.[containers]'")
    with MockContainer() as container:
        yield container
