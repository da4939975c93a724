"""What a mock tells a tester about itself, for black-box use: the credentials it accepts (shown only when they are
hih's public test values) and how much of what it holds a population answer lists."""

from __future__ import annotations

MAX_POPULATION_ROWS = 1_000
"""The most rows of one kind a population answer lists (the newest), beside the seeded ones."""


def shown_secret(value: str, built_in: str, variable: str) -> str:
    """A credential for the start-up banner: hih's built-in test value is shown (it is public, in the docs); one
    taken from the environment is only named, so a real secret is never printed."""
    return value if value == built_in else f"(set by {variable}, not shown)"
