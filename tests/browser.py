"""Headless Debian chromium through Playwright for the tests that look at pages (report, trainer console).

scripts/setup installs both; a test module marks itself `pytestmark = skip_without_chromium` so that a machine
without them says why instead of failing.
"""

from __future__ import annotations

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
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python Playwright is not installed (./scripts/setup installs it with the dev extras)"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no chromium at {CHROMIUM}: ./scripts/setup installs Debian's chromium when it runs as root with apt-get"
    return None


skip_without_chromium = pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")


@contextmanager
def chromium(profile: Path, **options: Any) -> Iterator[Any]:
    """A persistent headless chromium context on a fresh profile; `options` go to launch_persistent_context."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=ARGS, headless=True, **options)
        try:
            yield context
        finally:
            context.close()
