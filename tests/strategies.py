"""Hypothesis strategies shared by hih's property tests, written for cheap generation of the inputs they stand for.

Most of a property test's time here is Hypothesis drawing its inputs, and most of that is overhead per draw, not
the values: `st.one_of` builds and validates a new filtered `sampled_from` over its branches every time it is drawn
from, and a strategy built inside a test or a `@composite` is validated again on each draw of it. The helpers here
draw the same values with fewer, cheaper draws; bench/hypothesis_generate.py measures the generate phases.
"""

from __future__ import annotations

from typing import Any, TypeVar

from hypothesis import settings
from hypothesis import strategies as st

T = TypeVar("T")

BASE_EXAMPLES = 100
"""Hypothesis's own default `max_examples`: the profile a count is scaled against (tests/conftest.py)."""


def examples(count: int) -> int:
    """A property test's `max_examples`: `count`, chosen for the test by the bugs it exists to catch (each found in
    every one of 20 seeds at that count, with margin; bench/RESULTS.md), scaled by the loaded profile, so that the
    `thorough` profile (tests/conftest.py) multiplies every test's count alike. Read when the test module is
    imported, after pytest has loaded the profile."""
    loaded = settings.default  # typed optional: None only while Hypothesis itself is being imported
    return max(1, count * (loaded.max_examples if loaded is not None else BASE_EXAMPLES) // BASE_EXAMPLES)


def _identity(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy


def one_of(*options: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """What `st.one_of(*options)` draws (a branch, then a value of it; shrinking toward the first branch), with one
    index drawn from strategies built once: about a third less CPU a draw than `st.one_of` on a handful of leaves."""
    if len(options) == 1:
        return options[0]
    return st.sampled_from(options).flatmap(_identity)


def json_values(leaves: st.SearchStrategy[Any], keys: st.SearchStrategy[str], max_size: int,
                max_leaves: int) -> st.SearchStrategy[Any]:
    """JSON-like values: `leaves`, lists and objects (keys from `keys`) of up to `max_size` members nested to any
    depth, at most about `max_leaves` leaves in one value; `st.recursive` with `one_of` above for its branches."""
    return st.recursive(leaves, lambda inner: one_of(st.lists(inner, max_size=max_size),
                                                     st.dictionaries(keys, inner, max_size=max_size)),
                        max_leaves=max_leaves)
