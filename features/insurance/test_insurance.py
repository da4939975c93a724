"""Binds the insurance feature files to the step definitions in features/steps/insurance.py."""

from __future__ import annotations

from pytest_bdd import scenarios

from features.steps.insurance import *  # noqa: F403

scenarios(".")
