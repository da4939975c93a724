"""Skip a test module when WeasyPrint is not installed, without importing it.

Every pytest process of the check collects the PDF tests' modules (the warm-up collection, each xdist worker, the
serial pass); importing WeasyPrint there, with ctypes' search for its libraries (ldconfig, the compiler, the
linker), cost each process about a second of CPU that only the worker running those tests needs. The tests load it
when they run (harness.report.pdf.load, as `hih run` does)."""

from __future__ import annotations

import importlib.util

import pytest

REASON = "WeasyPrint (with Pango) is installed by ./scripts/setup"


def skip_without_weasyprint() -> None:
    """At a test module's top: skip the module when WeasyPrint cannot be found."""
    if importlib.util.find_spec("weasyprint") is None:
        pytest.skip(REASON, allow_module_level=True)
