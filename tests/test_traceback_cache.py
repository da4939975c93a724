"""harness.traceback_cache: a failure's traceback is laid out as pytest lays it out, and a source file that several
failures' tracebacks pass through is parsed once per process, not once per failure. The failures are real ones,
raised through a module written for the test; the seam the plugin uses is checked so that a pytest upgrade that
moves it fails here."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import linecache
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _pytest._code import source as pytest_source

from harness import traceback_cache

STEPS = '''
def check(total: int) -> None:
    expected = (
        100
    )
    assert total == expected, (
        f"total {total}"
    )


def step(total: int) -> None:
    check(
        total,
    )
'''


@pytest.fixture
def steps(tmp_path: Path) -> ModuleType:
    """A module whose statements span several lines, as pytest shows them from their parsed tree."""
    path = tmp_path / "steps_for_tracebacks.py"
    path.write_text(STEPS, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("steps_for_tracebacks", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def failures(module: ModuleType, count: int) -> Iterator[pytest.ExceptionInfo[BaseException]]:
    for total in range(count):
        with pytest.raises(AssertionError) as info:
            module.step(total)
        yield info


def laid_out(info: pytest.ExceptionInfo[BaseException], style: str) -> str:
    return str(info.getrepr(style=style))  # type: ignore[arg-type]


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts pytest parses to lay out tracebacks, one entry per parse."""
    seen: list[str] = []
    parse: Callable[..., ast.AST] = ast.parse

    def counting(text: str, *args: object, **kwargs: object) -> ast.AST:
        seen.append(text)
        return parse(text, *args, **kwargs)

    monkeypatch.setattr(pytest_source.ast, "parse", counting)
    return seen


def of_steps(parsed: list[str]) -> int:
    """How many of the parsed texts were the steps' module (pytest parses it as its lines joined)."""
    return sum(text.strip() == STEPS.strip() for text in parsed)


@pytest.fixture
def configured(pytestconfig: pytest.Config) -> Iterator[None]:
    traceback_cache.pytest_configure(pytestconfig)
    try:
        yield
    finally:
        traceback_cache.pytest_unconfigure(pytestconfig)


@pytest.mark.parametrize("style", ["short", "long"])
def test_a_traceback_is_laid_out_as_pytest_lays_it_out(steps: ModuleType, pytestconfig: pytest.Config,
                                                      style: str) -> None:
    own = [laid_out(info, style) for info in failures(steps, 3)]
    traceback_cache.pytest_configure(pytestconfig)
    try:
        shared = [laid_out(info, style) for info in failures(steps, 3)]
    finally:
        traceback_cache.pytest_unconfigure(pytestconfig)

    assert shared == own
    assert all("assert total == expected, (" in text and "check(" in text for text in shared), shared[0]


def test_a_source_file_is_parsed_once_for_every_failure_through_it(steps: ModuleType, parsed: list[str],
                                                                    configured: None) -> None:
    texts = [laid_out(info, "short") for info in failures(steps, 4)]

    assert len({text.count("steps_for_tracebacks.py") for text in texts}) == 1, texts
    assert of_steps(parsed) == 1, f"the steps' module parsed {of_steps(parsed)} times"


def test_without_the_plugin_each_failure_parses_the_file_again(steps: ModuleType, parsed: list[str]) -> None:
    """What the plugin saves, and a check that counting the parses sees them."""
    for info in failures(steps, 3):
        laid_out(info, "short")

    assert of_steps(parsed) == 3


def formatter() -> object:
    """The class pytest lays tracebacks out with now."""
    return traceback_cache.CODE.ExceptionInfoFormatter


def test_the_plugin_puts_pytests_formatter_back_and_drops_the_trees(steps: ModuleType,
                                                                      pytestconfig: pytest.Config) -> None:
    before = formatter()
    traceback_cache.pytest_configure(pytestconfig)
    try:
        assert formatter() is traceback_cache.SharedTrees
        laid_out(next(failures(steps, 1)), "short")
        assert traceback_cache.TREES, "the steps' tree is kept while a session uses the plugin"
    finally:
        traceback_cache.pytest_unconfigure(pytestconfig)
    assert formatter() is before is traceback_cache.FORMATTER
    assert not traceback_cache.TREES


def test_the_trees_kept_are_bounded_the_oldest_dropped_first() -> None:
    trees = traceback_cache.Trees()
    for n in range(traceback_cache.MAX_FILES + 5):
        trees[Path(f"/src/{n}.py")] = ast.Module(body=[], type_ignores=[])
    trees[Path("/src/10.py")] = ast.Module(body=[], type_ignores=[])  # kept already: replaced, nothing dropped

    assert len(trees) == traceback_cache.MAX_FILES
    assert list(trees)[0] == Path("/src/5.py") and Path("/src/4.py") not in trees


def test_pytest_still_makes_its_formatter_through_the_module_name_the_plugin_replaces() -> None:
    """The seam: `ExceptionInfo.getrepr` looks the formatter up in its module when it lays a traceback out, and the
    formatter hands its `astcache` to each entry's `getsource`."""
    getrepr = inspect.getsource(pytest.ExceptionInfo.getrepr)
    assert "ExceptionInfoFormatter(" in getrepr
    assert "getsource(self.astcache)" in inspect.getsource(traceback_cache.FORMATTER)
    assert "astcache" in {field.name for field in traceback_cache.FORMATTER.__dataclass_fields__.values()}


FIRST = '''def step() -> None:
    value = 1
    assert value == 2, (
        "first"
    )
'''
SECOND = '''def step() -> None:
    value = 1
    assert value == 2
    value = 3
    value = 4
'''
GENERATED = "<generated steps>"
"""A source that is no file (code made at run time, its text in linecache): pytest names it by this string."""


def generated_failure(source: str, monkeypatch: pytest.MonkeyPatch) -> pytest.ExceptionInfo[BaseException]:
    monkeypatch.setitem(linecache.cache, GENERATED, (len(source), None, source.splitlines(True), GENERATED))
    namespace: dict[str, Any] = {}
    exec(compile(source, GENERATED, "exec"), namespace)  # noqa: S102 - the test's own text
    with pytest.raises(AssertionError) as info:
        namespace["step"]()
    return info


def test_two_generated_sources_under_one_name_are_each_laid_out_from_their_own_text(
        pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only files are shared between tracebacks: a name such as `<string>` may stand for another text each time,
    and the tree of an earlier one would show the later one's statements cut at the wrong lines."""
    own = laid_out(generated_failure(SECOND, monkeypatch), "long")
    traceback_cache.pytest_configure(pytestconfig)
    try:
        laid_out(generated_failure(FIRST, monkeypatch), "long")
        shared = laid_out(generated_failure(SECOND, monkeypatch), "long")
    finally:
        traceback_cache.pytest_unconfigure(pytestconfig)

    assert shared == own
    assert "value = 3" not in shared, shared
