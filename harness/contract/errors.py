"""Errors found in a contract folder, located as `path:line: message`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import HihError


@dataclass(frozen=True)
class ContractProblem:
    """One problem in one contract file; `line` is 1-based, 0 when the file as a whole is at fault."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


class ContractError(HihError):
    """A contract that cannot be used; carries every problem found, the first one names the error."""

    def __init__(self, problems: list[ContractProblem]) -> None:
        if not problems:
            raise ValueError("ContractError needs at least one problem")
        self.problems = problems
        super().__init__(str(problems[0]))
