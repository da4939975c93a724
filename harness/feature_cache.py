"""pytest plugin of `hih run`'s pytest processes: the Gherkin of each feature file parsed once, not by every run.

pytest-bdd parses every feature file of an interface as its test module is imported, with the Gherkin parser: ≈ 16 ms
of the 19 ms an interface's features take (insurance), in every pytest process of every run, before the first
scenario. The parser's output for a text is plain data, kept like the contract files' YAML
(harness.contract.parse_cache: `$HIH_CACHE_DIR`, keyed by the SHA-256 of the text, the parser's version and the
kind "gherkin"; `HIH_CACHE_DIR=off` switches it off), and pytest-bdd builds its features from it as from a fresh
parse. A text the parser refuses is never cached: pytest-bdd's own reading reports it, with its file and line.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_bdd.parser
from gherkin.errors import CompositeParserException
from gherkin.parser import Parser
from pytest_bdd.gherkin_parser import GherkinDocument, get_gherkin_document

from harness.contract import parse_cache

KIND = "gherkin"
_REPLACED: list[Any] = []
"""pytest-bdd parser's own reader while this one stands in for it."""


def gherkin_data(text: str) -> dict[str, Any] | None:
    """The Gherkin parser's output for `text` (from the cache, or parsed and kept); None when it does not parse."""
    name = parse_cache.key(text, KIND, "gherkin")
    data = parse_cache.read(name)
    if isinstance(data, dict):
        return data
    try:
        data = Parser().parse(text)
    except CompositeParserException:
        return None
    parse_cache.write(name, data)
    return dict(data)


def gherkin_document(abs_filename: str, encoding: str = "utf-8") -> GherkinDocument:
    """`pytest_bdd.gherkin_parser.get_gherkin_document`, answered from the cache when the text was parsed before."""
    with open(abs_filename, encoding=encoding) as source:
        data = gherkin_data(source.read())
    if data is None:  # pytest-bdd reads it again and raises its own error, naming the file and the line
        return get_gherkin_document(abs_filename, encoding)
    return GherkinDocument.from_dict(data)


def pytest_configure(config: pytest.Config) -> None:
    if not _REPLACED:
        _REPLACED.append(pytest_bdd.parser.get_gherkin_document)
        pytest_bdd.parser.get_gherkin_document = gherkin_document


def pytest_unconfigure(config: pytest.Config) -> None:
    if _REPLACED:
        pytest_bdd.parser.get_gherkin_document = _REPLACED.pop()
