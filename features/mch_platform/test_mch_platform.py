"""Binds the maternal-child platform feature files to the step definitions in features/steps/mch_platform.py."""

from __future__ import annotations

from pytest_bdd import scenarios

from features.steps.mch_platform import *  # noqa: F403

scenarios(".")
