"""Binds the PACS feature files to the step definitions in features/steps/pacs.py (and the shared HL7 steps)."""

from __future__ import annotations

from pytest_bdd import scenarios

from features.steps.pacs import *  # noqa: F403

scenarios(".")
