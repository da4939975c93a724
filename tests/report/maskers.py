"""Maskers for property tests, one per example, without building one per example.

A masker's rules compile into a few large expressions when it is built (a few milliseconds, up to half of what an
example of the masking tests cost); what it learns and remembers as it masks lives in members of its own. So each rule
set's masker is built once, never used itself, and every example gets a deep copy of it: the masker as it was built,
with every member that masking changes its own, nothing taught by another example.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

from harness.report.masking import Masker


@functools.cache
def _built(build: Callable[..., Masker], *args: Any, **kwargs: Any) -> Masker:
    return build(*args, **kwargs)


def new_masker(build: Callable[..., Masker], *args: Any, **kwargs: Any) -> Masker:
    """What `build(*args, **kwargs)` returns (`Masker`, `Masker.from_config`), as a copy of the one built first for
    these arguments; they must be hashable (a `MaskingConfig`, tuples of rules)."""
    return copy.deepcopy(_built(build, *args, **kwargs))
