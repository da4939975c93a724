"""How pytest-xdist deals the tests out.

Order: those marked `slow` (each starts `hih run`s or servers for seconds) first, the many fast ones after them, so
that both workers run out of work at about the same time instead of one waiting for a long test dealt at the end.
The order within each part is the collection order; groups of tests that read a shared run go first anyway
(`--dist loadgroup` deals larger groups first).

Groups: under `--dist loadgroup` a worker reports each test of an `xdist_group` as `<node id>@<group>`, which is how
the controller keeps a group on one worker. pytest-xdist 3.8 writes that suffix into an attribute pytest 9 no longer
reads (the node id now lives in `Item._id`), so without the suffix set here every group is spread over the workers
and each worker starts the shared runs again.
"""

from __future__ import annotations

import pytest
from _pytest.nodeid import coerce_node_id


def grouped_nodeid(nodeid: str, group: str) -> str:
    """The node id a worker reports for a test of `group` (as pytest-xdist's loadgroup scheduler splits it)."""
    if nodeid.rfind("@") > nodeid.rfind("]"):  # already suffixed (a pytest-xdist that sets it itself)
        return nodeid
    return f"{nodeid}@{group}"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: False (slow) first
    if not getattr(config.option, "loadgroup", False):  # set on pytest-xdist workers only
        return
    for item in items:
        groups = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                         for m in item.iter_markers("xdist_group")})
        if groups:
            item._id = coerce_node_id(grouped_nodeid(item.nodeid, "_".join(groups)))
