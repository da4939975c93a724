"""Headless Debian chromium through Playwright for the tests that look at pages (report, trainer console).

scripts/setup installs both; a test module marks itself `pytestmark = skip_without_chromium` so that a machine
without them says why instead of failing.

One chromium per test module (the `chromium_browser` fixture; this module is a plugin of tests/conftest.py), each
of the module's contexts fresh. Not one per test process: while Playwright's sync API is connected, the thread that
holds it has its event loop marked as running, and every later test of the process that runs an event loop of its
own (the in-process mocks, the MLLP and HTTP clients) fails with "Cannot run the event loop while another loop is
running".
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("HIH_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _why_not() -> str | None:
    # looked up, not imported: every test process loads this plugin, and only the browser tests need Playwright's
    # sync API (a few tenths of a second to import)
    if importlib.util.find_spec("playwright") is None:
        return "Python Playwright is not installed (./scripts/setup installs it with the dev extras)"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no chromium at {CHROMIUM}: ./scripts/setup installs Debian's chromium when it runs as root with apt-get"
    return None


skip_without_chromium = pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Any]:
    """Headless chromium for one test module, with Playwright's connection closed after its last test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def chromium(browser: Any, **options: Any) -> Iterator[Any]:
    """A fresh context (no cookies, storage or cache of another) of `browser`; `options` go to `new_context`."""
    context = browser.new_context(**options)
    try:
        yield context
    finally:
        context.close()
