"""Binds the LIS feature files to the step definitions in features/steps/lis.py (and the shared HL7 steps)."""

from __future__ import annotations

from pytest_bdd import scenarios

from features.steps.lis import *  # noqa: F403

scenarios(".")
