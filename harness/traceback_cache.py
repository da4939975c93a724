"""pytest plugin of `hih run`'s pytest processes: a failed scenario's traceback laid out without parsing each of its
source files again for every failure.

To show a traceback entry's statement, pytest parses the entry's whole source file and walks its syntax tree
(`_pytest._code.source.getstatementrange_ast`), keeping the trees for the one traceback it is laying out
(`ExceptionInfoFormatter.astcache`). A failed step of a spec is called by pytest's fixture machinery, so every failure's
traceback starts in `_pytest/fixtures.py` (2,600 lines): parsed and walked again for each failed scenario, ≈ 0.1 s of
CPU each, about a sixth of the CPU of a run whose connector fails dozens of scenarios. Here the formatter of every
traceback the process lays out shares one cache of trees, so a source file is parsed once per process; what is shown
is the same (the same trees, the same statement ranges).

The cache holds the trees of at most `MAX_FILES` source files, the oldest dropped first; a source that is no file
(pytest names it by a string such as `<string>`, which may stand for another text next time) is parsed each time.
A source file edited while the run goes on would be shown with the lines of its first tree: the spec run imported
it before that anyway.

What it relies on, checked by tests/test_traceback_cache.py so that an upgrade fails loudly: pytest 9's
`ExceptionInfo.getrepr` makes its formatter as `_pytest._code.code.ExceptionInfoFormatter(...)`, a dataclass whose
`astcache` maps a source path to its tree.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

import pytest
from _pytest._code.code import ExceptionInfoFormatter

CODE: Any = importlib.import_module("_pytest._code.code")
"""pytest's module that lays out tracebacks (`Any`: the plugin puts another class under one of its names)."""
FORMATTER = ExceptionInfoFormatter
"""pytest's own formatter, which the shared one extends."""
MAX_FILES = 64
"""Source files whose trees are kept (a traceback's entries come from a handful: the steps, the connector, pytest's)."""


class Trees(dict[str | Path, ast.AST]):
    """Parsed source files by path, at most `MAX_FILES` of them: adding one past that drops the oldest.

    Only files are kept: pytest names a source that is no file (code made at run time, `<string>`) by that name, a
    string, which may stand for another text in the next traceback; its tree is made again each time."""

    def __setitem__(self, key: str | Path, value: ast.AST) -> None:
        if not isinstance(key, Path):
            return
        if key not in self and len(self) >= MAX_FILES:
            del self[next(iter(self))]
        super().__setitem__(key, value)


TREES = Trees()


class SharedTrees(ExceptionInfoFormatter):
    """pytest's formatter with the process's cache of trees in place of one of its own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.astcache = TREES


_USERS: list[pytest.Config] = []
"""The sessions of this process that have the plugin configured."""


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    CODE.ExceptionInfoFormatter = SharedTrees
    _USERS.append(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    """pytest's own formatter is put back, and the trees dropped, once no session in the process uses this one."""
    if config in _USERS:
        _USERS.remove(config)
    if not _USERS:
        CODE.ExceptionInfoFormatter = FORMATTER
        TREES.clear()
