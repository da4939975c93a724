"""pytest plugin named first on the command line of a run's pytest processes: it keeps out the modules that the
run's libraries would import for nothing (`harness.run.warm.LEFT_OUT`: httpx's command-line client, mako's Pygments
highlighting, which pytest-bdd's plugin brings), before any other plugin is imported, and has pytest's output
written to the log a line at a time (`harness.run.warm.line_buffered_log`). A warm process has done both already; a
process started with its command line (another lane, a restarted segment, an xdist worker) does them here.

It also loads the plugins named after it with `-p`, in their order, as soon as pytest registers it: pytest's own
`-p NAME` first reads the entry points of every installed distribution, looking for one called NAME, then imports
the module NAME when none is (≈ 5 ms a name with a hundred distributions, ten names in a spec run). A run names
modules, never entry points, so the lookup finds nothing; each later `-p` then finds its plugin registered and
does nothing more."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from harness.run.warm import leave_out, line_buffered_log

leave_out()
line_buffered_log()

NAME = __name__


def named_after(args: Sequence[object], first: str = NAME) -> list[str]:
    """The plugins `args` names with `-p NAME` or `-pNAME` after `first` (blocks, `-p no:NAME`, left out), in order."""
    names: list[str] = []
    values = iter(args)
    for arg in values:
        if not isinstance(arg, str):
            continue
        if arg == "-p":
            value = next(values, None)
        elif arg.startswith("-p"):
            value = arg[2:]
        else:
            continue
        if isinstance(value, str) and not value.strip().startswith("no:"):
            names.append(value.strip())
    return names[names.index(first) + 1:] if first in names else []


@pytest.hookimpl
def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Import and register, in command-line order, the plugins named after this one, as `-p` does (assertions
    rewritten, a blocked one left out) but without the entry-point lookup."""
    config = pluginmanager.get_plugin("pytestconfig")
    if not isinstance(config, pytest.Config):
        return
    for name in named_after(config.invocation_params.args):
        pluginmanager.import_plugin(name)
