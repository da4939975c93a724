"""`hih mock serve --replay DIR`: the recordings asked for, each put in front of the mock of its interface."""

from __future__ import annotations

from pathlib import Path

from harness.contract.interfaces import resolve
from harness.contract.recording import read_meta
from harness.contract.transports import transport
from harness.errors import UsageError
from mocks.base import MockService
from mocks.replay.answers import UNRECORDED, Answers, Mask


def recordings(folders: list[Path], unrecorded: str, names: list[str]) -> dict[str, Path]:
    """Interface -> the recording to replay, each checked to be of a mock being served."""
    if unrecorded not in UNRECORDED:
        raise UsageError(f"--unrecorded {unrecorded!r}: error or contract")
    found: dict[str, Path] = {}
    for folder in folders:
        interface = read_meta(folder).interface
        if interface not in names:
            raise UsageError(f"--replay {folder}: a recording of {interface}, which is not among the mocks being "
                             f"served ({', '.join(names)})")
        if interface in found:
            raise UsageError(f"--replay: two recordings of {interface} ({found[interface]}, {folder})")
        found[interface] = folder
    return found


def replay_on(mock: MockService, folder: Path, unrecorded: str, mask: Mask | None) -> str:
    """Put the recording in front of `mock` (before it starts), by its transport's replay; what the banner says."""
    answers = Answers(mock.contract, folder, mask)
    resolve(transport(mock.contract.transport).replay)(mock, answers, unrecorded)
    otherwise = "the contract's behaviour" if unrecorded == "contract" else "an error"
    return (f"{folder} ({len(answers)} recorded answers, contract {answers.meta.contract}; a request without one: "
            f"{otherwise})")
