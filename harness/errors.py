"""The one base exception of hih, the usage/configuration error the CLI maps to exit code 2, and a server's stop on
its own (exit code 1)."""

from __future__ import annotations


class HihError(Exception):
    """Base of every error hih raises on purpose; its message is a single line fit for a user."""

    exit_code = 2
    """What the CLI exits with (`harness.cli.main`)."""


class UsageError(HihError):
    """A bad flag, an unknown interface or version, an unusable connector: exit code 2."""


class ServeStopped(HihError):
    """A server that stopped on its own, not asked to: a worker of `hih mock serve --workers N` died. Exit code 1, so
    that whoever started it (a supervisor, a CI job, a trainer's script) sees a failure, not a clean stop."""

    exit_code = 1
