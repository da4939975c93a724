"""Parsed YAML contract files kept on disk, keyed by the SHA-256 of their text, so that each process of a run
(the gate, every pytest process, the reports) does not parse the same files again with ruamel.yaml (≈ 3/4 of the
time a contract takes to load).

An entry is the `marshal` of (data, lines) as `load_source` builds them, and is used only for exactly the same text
parsed by the same ruamel.yaml version: an edited file has another digest and is parsed again. Data marshal cannot
hold (ruamel's formatted scalars, e.g. `0x1F`) is not cached. Entries are written atomically and the folder is kept
under `MAX_ENTRIES` files (the oldest go first). The folder is `$HIH_CACHE_DIR`, else `$XDG_CACHE_HOME/hih/yaml`,
else `~/.cache/hih/yaml`; `HIH_CACHE_DIR=off` switches the cache off. A cache that cannot be read or written is
passed by silently: it only saves time. `read` and `write` keep other parsed texts the same way (the feature files'
Gherkin, harness.feature_cache), under a `key` of their own kind and parser.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

FORMAT = 1
"""Bumped when what an entry holds changes."""
MAX_ENTRIES = 2000
SUFFIX = ".marshal"


def folder() -> Path | None:
    """Where entries live, or None when the cache is off."""
    chosen = os.environ.get("HIH_CACHE_DIR", "")
    if chosen.lower() == "off":
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hih" / "yaml"


@cache
def parser_version(module: str = "ruamel.yaml") -> str:
    """The installed parser `module`, named without importing it (a hit needs no parser): its file and that file's
    size and time, which change whenever another version is installed."""
    from importlib.util import find_spec

    try:
        spec = find_spec(module)
        origin = spec.origin if spec is not None else None
        stat = os.stat(origin) if origin else None
    except (ImportError, ValueError, OSError):
        return "unknown"
    return f"{origin}:{stat.st_size}:{stat.st_mtime_ns}" if stat is not None else "unknown"


def key(text: str, kind: str = "", module: str = "ruamel.yaml") -> str:
    """The entry's name: the text's digest, with the entry's kind and format and the parser's version."""
    digest = hashlib.sha256(text.encode("utf-8"))
    digest.update(f"\0{FORMAT}\0{parser_version(module)}".encode())
    if kind:
        digest.update(f"\0{kind}".encode())
    return digest.hexdigest()


def read(name: str) -> Any:
    """The value kept as entry `name` (a `key`), or None when there is none or it cannot be read."""
    where = folder()
    if where is None:
        return None
    try:
        return marshal.loads((where / (name + SUFFIX)).read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None


def write(name: str, value: Any) -> None:
    """Keep `value` as entry `name`; nothing when the value is not plain data or the folder cannot be written."""
    where = folder()
    if where is None:
        return
    try:
        payload = marshal.dumps(value)
    except ValueError:  # e.g. a ruamel scalar subclass (formatted int, timestamp): parsed each time instead
        return
    try:
        where.mkdir(parents=True, exist_ok=True, mode=0o700)  # readable and writable by its owner only
        handle, tmp = tempfile.mkstemp(dir=where, prefix=".writing-")
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
        os.replace(tmp, where / (name + SUFFIX))
        _bound(where)
    except OSError:
        return


def get(text: str) -> tuple[Any, dict[str, int]] | None:
    """(data, lines) parsed earlier from exactly this text, or None."""
    entry = read(key(text))
    if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], dict)):
        return None
    return entry[0], entry[1]


def put(text: str, data: Any, lines: dict[str, int]) -> None:
    """Keep (data, lines) for this text; nothing when the data is not plain or the folder cannot be written."""
    write(key(text), (data, lines))


def _bound(where: Path) -> None:
    """Keep the folder under MAX_ENTRIES entries, dropping the least recently written half when over."""
    entries = [p for p in where.iterdir() if p.suffix == SUFFIX]
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda p: p.stat().st_mtime_ns)
    for old in entries[: len(entries) - MAX_ENTRIES // 2]:
        old.unlink(missing_ok=True)
