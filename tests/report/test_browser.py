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
def browser(chromium_browser: Any) -> Iterator[Any]:
    with chromium(chromium_browser, viewport={"width": 1200, "height": 900}, offline=True) as context:
        yield context


@pytest.fixture(scope="module")
def _loaded(browser: Any, parallel_run: Path) -> Iterator[tuple[Any, list[str]]]:
    """The passing run's report page, loaded once for the tests that read it, not once each (a page of several
    megabytes: chromium's load of it is a second or two of CPU), with every request it makes recorded (and any that
    leaves the file refused)."""
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


FOLDS = "() => [...document.querySelectorAll('details.messages')].map(d => d.open)"


@pytest.fixture
def page(_loaded: tuple[Any, list[str]]) -> Iterator[tuple[Any, list[str]]]:
    """The report page as loaded, given back as it was loaded after each test: on screen, without "print
    everything", each scenario's messages folded or unfolded as they came, scrolled to the top."""
    view = _loaded[0]
    folds = view.evaluate(FOLDS)
    yield _loaded
    view.emulate_media(media="screen")
    view.evaluate("""folds => {
        document.body.classList.remove('print-all');
        document.querySelectorAll('details.messages').forEach((d, i) => { d.open = folds[i]; });
        window.scrollTo(0, 0);
    }""", folds)
    assert view.evaluate(FOLDS) == folds


def _pages(view: Any) -> int:
    pdf = view.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def _breaks(view: Any) -> list[str]:
    return view.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => ['page', 'always'].includes(getComputedStyle(e).breakBefore))
        .map(e => e.dataset.interface || e.tagName)""")


def test_print_holds_the_summary_and_the_failures_unless_everything_is_chosen(page: tuple[Any, list[str]]) -> None:
    view, requested = page
    view.emulate_media(media="print")
    visible = "() => [...document.querySelectorAll('article.scenario')].filter(e => e.offsetParent !== null).length"

    assert view.evaluate("getComputedStyle(document.querySelector('.toolbar')).display") == "none"
    assert view.locator(".print-note").is_visible() and view.locator("#decision").is_visible()
    assert view.locator("article.scenario").count() > 200, "every scenario is in the file"
    assert view.evaluate(visible) == 0, "a passing run prints no scenario"
    assert _breaks(view) == []
    summary_pages = _pages(view)
    assert summary_pages <= 3, "decision, interfaces and sign-off block"

    view.evaluate("document.body.classList.add('print-all')")  # what the "print everything" button sets
    interfaces = view.locator("section.interface").evaluate_all("s => s.map(e => e.dataset.interface)")
    assert _breaks(view) == interfaces and "insurance" in interfaces, "one page break before each interface"
    assert view.evaluate(visible) == view.locator("article.scenario").count()
    assert not view.locator(".print-note").is_visible()
    assert _pages(view) > 5 * summary_pages
    assert all(url.startswith("file://") for url in requested)


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


def test_a_failing_run_prints_its_failed_scenarios(browser: Any, failing_run: Path) -> None:
    view = browser.new_page()
    view.goto((failing_run / "report.html").as_uri())
    view.emulate_media(media="print")
    shown = view.evaluate("""() => [...document.querySelectorAll('article.scenario')]
        .filter(e => e.offsetParent !== null).map(e => e.dataset.status)""")
    assert shown and set(shown) == {"failed"}
    assert not view.locator("details.messages").first.is_visible(), "messages are for 'print everything'"
    view.close()
