"""A Hypothesis strategy for XML trees that stress lookups by local name: elements of a few names in several
namespaces (or none), nested and repeated at random, some with text, comments among them."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st
from lxml import etree


def tag(namespace: str, name: str) -> str:
    """Clark notation, or the bare name for no namespace."""
    return f"{{{namespace}}}{name}" if namespace else name


def xml_trees(roots: Sequence[str], names: Sequence[str], namespaces: Sequence[str], texts: Sequence[str] = ("",),
              max_elements: int = 20) -> st.SearchStrategy[etree._Element]:
    """A root (one of `roots`, Clark notation) with up to `max_elements` elements under it, each under a parent
    drawn from those made so far, named from `names` in one of `namespaces` ("" for none), its text from `texts`
    ("" for none); about one addition in eight is a comment instead.

    The strategies are built once, here: Hypothesis validates a strategy it has not met on every draw of it, and
    building `sampled_from` over a list per element cost more than the draws themselves. A parent is drawn as an index
    into those made so far (what `sampled_from(parents)` draws)."""
    root_s, name_s = st.sampled_from(tuple(roots)), st.sampled_from(tuple(names))
    namespace_s, text_s = st.sampled_from(tuple(namespaces)), st.sampled_from(tuple(texts))
    count_s, comment_s = st.integers(0, max_elements), st.integers(0, 7)
    parent_s = [st.integers(0, n) for n in range(max_elements + 1)]

    @st.composite
    def trees(draw: st.DrawFn) -> etree._Element:
        root = etree.Element(draw(root_s))
        parents = [root]
        for _ in range(draw(count_s)):
            parent = parents[draw(parent_s[len(parents) - 1])]
            if draw(comment_s) == 0:
                parent.append(etree.Comment(draw(name_s)))
                continue
            child = etree.SubElement(parent, tag(draw(namespace_s), draw(name_s)))
            child.text = draw(text_s) or None
            parents.append(child)
        return root

    return trees()
