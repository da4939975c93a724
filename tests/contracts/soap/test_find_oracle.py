"""The validator's lookup of a payload's elements by a path of local names (lxml's child iterator per step, matching
names in C) finds what a walk in Python step by step finds: the same elements in the same order, namespaced or not, repeated, beside comments."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from harness.contract.soap_validate import _find
from tests.strategies import examples

NAMES = ("payload", "record", "a.b", "x-y")
NAMESPACES = ("urn:one", "urn:two", "")


def _walk(element: etree._Element, path: tuple[str, ...]) -> list[etree._Element]:
    nodes = [element]
    for step in path:
        nodes = [c for n in nodes for c in n if isinstance(c.tag, str) and c.tag.rsplit("}", 1)[-1] == step]
    return nodes


def _fill(parent: etree._Element, shape: list[tuple[str, str, int]], depth: int) -> None:
    for namespace, name, count in shape:
        for _ in range(count):
            child = etree.SubElement(parent, f"{{{namespace}}}{name}" if namespace else name)
            if depth < 2:
                _fill(child, shape[1:] + shape[:1], depth + 1)
        parent.append(etree.Comment("c"))


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.tuples(st.sampled_from(NAMESPACES), st.sampled_from(NAMES), st.integers(1, 2)), max_size=4),
       st.lists(st.sampled_from(NAMES), min_size=0, max_size=3).map(tuple))
def test_find_is_the_step_by_step_walk(shape: list[tuple[str, str, int]], path: tuple[str, ...]) -> None:
    root = etree.Element("{urn:one}Op")
    _fill(root, shape, 0)
    assert _find(root, path) == _walk(root, path)


def test_find_reaches_nested_repeats() -> None:
    root = etree.fromstring(b'<Op xmlns="urn:one"><record><payload/><payload/></record><n:record xmlns:n="urn:two">'
                            b"<payload/></n:record></Op>")
    found = _find(root, ("record", "payload"))
    assert len(found) == 3 and found == _walk(root, ("record", "payload"))
