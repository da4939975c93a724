"""hypothesis-jsonschema's `from_schema`, with the strategy of each (sub-)schema built once per process.

hypothesis-jsonschema 0.23 draws an object key by key and, for every key of every object it draws, builds that key's
strategy from its schema again: references resolved, the schema canonicalised, `allOf`/`anyOf` merged, patterns
compiled into regex strategies, and Hypothesis's checks of each new strategy (is it empty? does it recurse?) made
anew. For the insurance contract's fee lists (up to 50 objects of 30 fields per example) that rebuilding is about
half of an example's cost (bench/RESULTS.md). A schema always gives an equivalent strategy, so the strategies built
are kept, keyed by the schema's canonical JSON and the alphabet asked for: what is drawn, and how, stays the
library's own.

The library's builder is a private module function (`__from_schema`, looked up by name at every call); a release
without it leaves `from_schema` as it is, only slower, and tests/mocks/test_schema_strategies.py fails to say so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis_jsonschema import _from_schema as library
from hypothesis_jsonschema import from_schema
from hypothesis_jsonschema._encode import encode_canonical_json

__all__ = ["from_schema", "kept"]

BUILDER = "__from_schema"
LIMIT = 4096
"""Strategies kept at most: the contracts' schemas hold a few hundred distinct sub-schemas."""

Builder = Callable[..., st.SearchStrategy[Any]]
_kept: dict[tuple[str, int], tuple[object, st.SearchStrategy[Any]]] = {}


def kept() -> int:
    """How many strategies are kept (0 when the library's builder could not be wrapped)."""
    return len(_kept)


def _keeping(build: Builder) -> Builder:
    def keep(schema: Any, *, alphabet: object, custom_formats: Any) -> st.SearchStrategy[Any]:
        if custom_formats is not None:  # strategies of the caller's own: built every time, as the library does
            return build(schema, alphabet=alphabet, custom_formats=custom_formats)
        try:
            key = (encode_canonical_json(schema), id(alphabet))
        except (TypeError, ValueError):  # not JSON: the library's to refuse, every time
            return build(schema, alphabet=alphabet, custom_formats=custom_formats)
        found = _kept.get(key)
        if found is not None and found[0] is alphabet:  # the alphabet is kept with it, so its id is not reused
            return found[1]
        strategy = build(schema, alphabet=alphabet, custom_formats=custom_formats)
        if len(_kept) >= LIMIT:
            _kept.clear()
        _kept[key] = (alphabet, strategy)
        return strategy

    keep.keeps = build  # type: ignore[attr-defined]  # marks the wrapper, so that it is installed once
    return keep


def _install() -> None:
    build = vars(library).get(BUILDER)
    if callable(build) and not hasattr(build, "keeps"):
        setattr(library, BUILDER, _keeping(build))


_install()
