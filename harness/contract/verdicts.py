"""Contract checks that passed, remembered on disk by the digest of everything they read, so that a run's processes
(the gate, every pytest process) do not import the JSON Schema stack (jsonschema, referencing, attrs: ≈ 45 ms of a
process's start) only to find, again, that unchanged contract files are valid.

Only a pass is remembered: a check that finds a problem runs in full every time, so a refused contract is refused
with the same messages whether or not the cache is on. The digest covers the checked files' texts, the
meta-schema's, the versions of the libraries that decide (as `parse_cache.parser_version` names them: jsonschema,
jsonschema-rs, referencing, the optional format checkers jsonschema uses for URIs, and the YAML reader) and the size
and time of the module doing the check, so an edited file, another library version or another hih each check
again. Entries live in the parse cache's folder (harness.contract.parse_cache: `HIH_CACHE_DIR=off` switches them
off too); a cache that cannot be read or written only means the check runs.

A process may also be told that another checks a contract folder for it (`vouch`): a run's pytest processes, whose
`hih run` checks the run's contracts beside their start and stops the run with that check's error. Their checks of
that folder are then taken as passed, as a remembered pass is, instead of being made a second time at the same moment
(on a cold cache, a run's first, each pytest process would check again what its parent is checking).
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path

from harness.contract import parse_cache

KIND = "contract-check"
DECIDERS = ("jsonschema", "jsonschema_rs", "referencing", "rfc3987", "rfc3986_validator", "ruamel.yaml")
"""The libraries whose version can change a check's outcome (the YAML reader makes the data checked), named without
importing them."""


@cache
def _deciders() -> str:
    return "\0".join(parse_cache.parser_version(module) for module in DECIDERS)


def _code(path: str) -> str:
    try:
        stat = os.stat(path)
    except OSError:
        return "unknown"
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


def name(check: str, code: str, *parts: str) -> str:
    """The entry for `check` (done by the module file `code`) over `parts`: texts or their digests, in order."""
    digest = hashlib.sha256(f"{KIND}\0{parse_cache.FORMAT}\0{check}\0{_code(code)}\0{_deciders()}".encode())
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        digest.update(b"\0%d:" % len(data) + data)  # length-prefixed: no two lists of parts run together alike
    return digest.hexdigest()


def passed(entry: str) -> bool:
    """True when the check named `entry` passed before."""
    return parse_cache.read(entry) is True


def remember(entry: str) -> None:
    """Note that the check named `entry` passed."""
    parse_cache.write(entry, True)


_VOUCHED: set[Path] = set()


def vouch(folder: Path) -> None:
    """Take the checks of the contract in `folder` as passed in this process: another process checks it and stops
    what this one does when a check fails (see the module's docstring)."""
    _VOUCHED.add(folder.resolve())


def vouched(path: Path) -> bool:
    """True when `path`, a contract folder or a file in one, is in a folder vouched for in this process."""
    if not _VOUCHED:
        return False
    resolved = path.resolve()
    return resolved in _VOUCHED or any(parent in _VOUCHED for parent in resolved.parents)


def text_digest(text: str) -> str:
    """The SHA-256 of a file's text, as `name` takes it."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
