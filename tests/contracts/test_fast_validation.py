"""The native validity check and the Python validator agree: a message is valid for one exactly when the other
finds nothing. Checked on every captured message and on systematic mutations of each: every value replaced by values of every
JSON type (a number also by the schemas' fractional bounds nearest it, and the whole numbers past them) or dropped."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from harness.contract.json_schemas import SchemaSet
from harness.contract.model import Contract
from tests.conftest import DATA

CAPTURES = sorted((DATA / "captures").glob("*.json"))
SUBSTITUTES: list[Any] = [None, 12, "", "X" * 300, [], {}, "99", -1.5, True]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key)
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node[:2]):
            yield (*path, index)
            yield from _paths(value, (*path, index))


@dataclass(frozen=True)
class Bounds:
    """The fractional `minimum`s and `maximum`s of a contract's schemas: where the native check's stricter schema (its
    bounds made whole, `tightened`) and the exact one part."""

    minima: tuple[float, ...]
    maxima: tuple[float, ...]

    def near(self, value: float) -> list[float]:
        """The bounds nearest a valid number on either side (likely its own), each with the whole number past it."""
        above = [b for b in self.maxima if b >= value][:1]
        below = [b for b in self.minima if b <= value][-1:]
        return [*(v for b in above for v in (b, math.ceil(b))), *(v for b in below for v in (b, math.floor(b)))]


def bounds_of(schemas: SchemaSet) -> Bounds:
    found: dict[str, set[float]] = {"minimum": set(), "maximum": set()}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in found and isinstance(value, float) and math.isfinite(value) and not value.is_integer():
                    found[key].add(value)
                elif key not in ("enum", "const", "default", "examples"):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schemas.documents)
    return Bounds(tuple(sorted(found["minimum"])), tuple(sorted(found["maximum"])))


DROP = object()
"""The substitute that removes the value instead."""


def _replaced(node: Any, path: tuple[Any, ...], substitute: Any) -> Any:
    """`node` with the value at `path` replaced by `substitute` (or dropped): the objects and arrays on the path are
    new, everything else is shared with `node` (neither validator changes what it validates)."""
    head, rest = path[0], path[1:]
    changed = dict(node) if isinstance(node, dict) else list(node)
    if rest:
        changed[head] = _replaced(node[head], rest, substitute)
    elif substitute is DROP:
        del changed[head]
    else:
        changed[head] = substitute
    return changed


def _mutations(document: Any, bounds: Bounds) -> Iterator[Any]:
    for path in _paths(document):
        here = document
        for step in path:
            here = here[step]
        near = bounds.near(here) if type(here) in (int, float) else []  # a number: also the bounds beside it
        for substitute in [*SUBSTITUTES, *near, DROP]:
            yield _replaced(document, path, substitute)


def _pairs(contract: Contract, body: dict[str, Any], infno: str) -> list[tuple[str, Any]]:
    """(schema file, instance) pairs a message is validated against; `infno` comes from the capture's name."""
    if "infno" in body and "infcode" not in body:
        op = contract.operations[body["infno"]]
        return [(contract.envelope["request"], body), (op.input_schema or "", body.get("input"))]
    if body.get("type") == "error":
        return [(contract.envelope["gateway_error"], body)]
    pairs = [(contract.envelope["response"], body)]
    found = contract.operations.get(infno)
    if found is not None and found.output_schema and body.get("output") is not None:
        pairs.append((found.output_schema, body["output"]))
    return pairs


# The native check's stricter schema with a bound made whole the wrong way (a fractional maximum rounded up, a minimum
# down: planted bugs) agreed with Python on every mutation until numbers were also set to the schemas' fractional
# bounds nearest them and the whole numbers past those; now they are found in 4 and 2 of the 15 captures; every bound
# on every number found them in 8 and 8, for half as much again of the file's CPU (bench/RESULTS.md).
@pytest.mark.parametrize("capture", CAPTURES, ids=[c.stem for c in CAPTURES])
def test_native_verdict_matches_the_python_findings(contract_2024: Contract, capture: Any) -> None:
    schemas: SchemaSet = contract_2024.extra["schema_set"]
    if schemas.is_valid({}, contract_2024.envelope["request"]) is None:
        pytest.skip("the native validator is not installed on this platform; only the Python one runs")
    body = json.loads(capture.read_bytes())
    bounds = bounds_of(schemas)
    checked = 0
    for relpath, instance in _pairs(contract_2024, body, capture.stem.split("-")[0]):
        for mutated in [instance, *_mutations(instance, bounds)]:
            native = schemas.is_valid(mutated, relpath)
            # `is_valid`: the Python validator's own verdict, stopped at the first error (about half the oracle's CPU)
            python = schemas.validator(relpath).is_valid(mutated)
            assert native == python, f"{relpath}: native says {native}, Python says {python} for {json.dumps(mutated, ensure_ascii=False)[:300]}"
            checked += 1
    assert checked > 10
