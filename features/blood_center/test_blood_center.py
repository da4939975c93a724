"""Binds the blood-centre feature files to the step definitions in features/steps/blood_center.py."""

from __future__ import annotations

from pytest_bdd import scenarios

from features.steps.blood_center import *  # noqa: F403

scenarios(".")
