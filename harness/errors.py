"""The one base exception of hih, and the usage/configuration error the CLI maps to exit code 2."""

from __future__ import annotations


class HihError(Exception):
    """Base of every error hih raises on purpose; its message is a single line fit for a user."""


class UsageError(HihError):
    """A bad flag, an unknown interface or version, an unusable connector: exit code 2."""
