"""The refusal of input hih will not parse (XML, JSON): a one-word reason, a sentence, and where, when known."""

from __future__ import annotations


class InputRefused(ValueError):
    """`reason` names the kind of refusal (size, depth, syntax ...), `message` says it; `line`/`column` 0 when unknown."""

    def __init__(self, reason: str, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return self.message
