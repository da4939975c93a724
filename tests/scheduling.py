"""How pytest-xdist deals the tests out.

Order: those marked `slow` (each starts `hih run`s or servers for seconds) first, the many fast ones after them, so
that both workers run out of work at about the same time instead of one waiting for a long test dealt at the end.
The order within each part is the collection order; groups of tests that read a shared run go first anyway
(`--dist loadgroup` deals larger groups first).

Groups: under `--dist loadgroup` a worker reports each test of an `xdist_group` as `<node id>@<group>`, which is how
the controller keeps a group on one worker. pytest-xdist 3.8 writes that suffix into an attribute pytest 9 no longer
reads (the node id now lives in `Item._id`), so without the suffix set here every group is spread over the workers
and each worker starts the shared runs again.

The serial pass's files: when `HIH_SERIAL_FILES` names a file, each process that deselects tests marked `serial`
(the parallel pass, `-m "not serial"`) writes there the test files that hold them, so that ./scripts/test's serial
pass collects those files only instead of the whole suite again.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from _pytest.nodeid import coerce_node_id

SERIAL_FILES_ENV = "HIH_SERIAL_FILES"
_serial_files: set[str] = set()
_serial_target: list[Path] = []


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


def pytest_configure(config: pytest.Config) -> None:
    """Where to write the serial files, taken out of the environment of a process that collects (an xdist worker, or
    a run without xdist), so that the suites and runs its tests start do not write there too; an xdist controller
    keeps it for the workers it starts."""
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        target = os.environ.pop(SERIAL_FILES_ENV, None)
        if target:
            _serial_target.append(Path(target))


def pytest_deselected(items: list[pytest.Item]) -> None:
    _serial_files.update(item.nodeid.split("::", 1)[0] for item in items if item.get_closest_marker("serial"))


def pytest_collection_finish(session: pytest.Session) -> None:
    for target in _serial_target:
        write_serial_files(target, _serial_files)


def write_serial_files(target: Path, files: set[str]) -> None:
    """One file a line, written whole (both xdist workers write the same list)."""
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("".join(f"{name}\n" for name in sorted(files)))
    os.replace(temporary, target)
