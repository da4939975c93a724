"""report.html of a real run, opened in headless Debian chromium (installed by scripts/setup): what a reviewer sees
on screen and on paper, and that the page asks nothing of the network."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import chromium, skip_without_chromium

pytestmark = skip_without_chromium


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile"), viewport={"width": 1200, "height": 900}, offline=True) as context:
        yield context


@pytest.fixture
def page(browser: Any, parallel_run: Path) -> Iterator[tuple[Any, list[str]]]:
    """The report page, with every request it makes recorded (and any that leaves the file refused)."""
    requested: list[str] = []

    def guard(route: Any) -> None:
        requested.append(route.request.url)
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            route.abort()

    page = browser.new_page()
    page.route("**/*", guard)
    # a reference the Content-Security-Policy blocks never reaches the router: it shows up as a console error
    page.on("console", lambda message: requested.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)
    page.goto((parallel_run / "report.html").as_uri())
    yield page, requested
    page.close()


def test_the_reviewer_sees_the_decision_the_interfaces_and_the_messages(page: tuple[Any, list[str]],
                                                                       tmp_path: Path) -> None:
    view, requested = page

    decision = view.locator("#decision")
    assert decision.is_visible() and "准予放行" in decision.inner_text() and "GATE OPEN" in decision.inner_text()
    table = view.locator("#interfaces table")
    assert table.is_visible()
    assert re.search(r"insurance.*2025\.1.*connectors\.insurance:reference", table.inner_text(), re.S)

    first = view.locator("section.interface[data-interface='insurance'] article.scenario").first
    payload = first.locator("pre.payload").first
    assert not payload.is_visible(), "a passed scenario's messages start folded"
    view.get_by_role("button", name=re.compile("展开全部报文")).click()  # the page's own script, allowed by its CSP
    assert payload.is_visible() and '"infno"' in payload.inner_text()
    assert "*" in first.locator("details.messages").inner_text(), "identifiers masked"

    first.scroll_into_view_if_needed()
    view.screenshot(path=str(tmp_path / "report.png"))
    assert requested and all(url.startswith("file://") for url in requested), requested


def test_print_layout_one_page_break_per_interface(page: tuple[Any, list[str]]) -> None:
    view, requested = page
    view.emulate_media(media="print")

    breaks = view.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => ['page', 'always'].includes(getComputedStyle(e).breakBefore))
        .map(e => e.dataset.interface || e.tagName)""")
    interfaces = view.locator("section.interface").evaluate_all("s => s.map(e => e.dataset.interface)")
    assert breaks == interfaces and "insurance" in interfaces, "one page break before each interface"
    assert view.evaluate("getComputedStyle(document.querySelector('.toolbar')).display") == "none"

    pdf = view.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages >= 3, "the decision, then each interface from a new page, then the sign-off"
    assert all(url.startswith("file://") for url in requested)
