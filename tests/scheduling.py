"""The order pytest-xdist hands out tests: those marked `slow` (each starts `hih run`s or servers for seconds) first,
the many fast ones after them, so that both workers run out of work at about the same time instead of one waiting
for a long test dealt at the end. The order within each part is the collection order; groups of tests that read a
shared run go first anyway (`--dist loadgroup` deals larger groups first)."""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: False (slow) first
