"""A Hypothesis strategy for XML trees that stress lookups by local name: elements of a few names in several
namespaces (or none), nested and repeated at random, some with text, comments among them."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st
from lxml import etree


def tag(namespace: str, name: str) -> str:
    """Clark notation, or the bare name for no namespace."""
    return f"{{{namespace}}}{name}" if namespace else name


@st.composite
def xml_trees(draw: st.DrawFn, roots: Sequence[str], names: Sequence[str], namespaces: Sequence[str],
              texts: Sequence[str] = ("",), max_elements: int = 20) -> etree._Element:
    """A root (one of `roots`, Clark notation) with up to `max_elements` elements under it, each under a parent
    drawn from those made so far, named from `names` in one of `namespaces` ("" for none), its text from `texts`
    ("" for none); about one addition in eight is a comment instead."""
    root = etree.Element(draw(st.sampled_from(roots)))
    parents = [root]
    for _ in range(draw(st.integers(0, max_elements))):
        parent = draw(st.sampled_from(parents))
        if draw(st.integers(0, 7)) == 0:
            parent.append(etree.Comment(draw(st.sampled_from(names))))
            continue
        child = etree.SubElement(parent, tag(draw(st.sampled_from(namespaces)), draw(st.sampled_from(names))))
        child.text = draw(st.sampled_from(texts)) or None
        parents.append(child)
    return root
