"""`hih ... --help` answered with the text click printed for it last time, without importing click.

Importing click costs ≈ 130 M of the ≈ 145 M instructions `hih --help` adds to a bare interpreter (click itself, and
typing, inspect, enum and re, which it imports). The help text is a function of the command line's definitions
(harness/cli.py, harness/cli_parts.py), the installed click, the interpreter, the locale's variables (click's texts
go through gettext) and the width it is laid out for. An entry holds the text with a fingerprint of all of these
(each file by its size and time, as the contract loader's own fingerprint; the width as click computes it) and is used
only when the fingerprint is the same now; else click prints the help, as without an entry, and the entry is written
again. Only a help that ended with exit status 0 is kept.

Entries live in the parse cache's folder (harness.contract.parse_cache: `$HIH_CACHE_DIR`, else
`$XDG_CACHE_HOME/hih/yaml`, else `~/.cache/hih/yaml`; `HIH_CACHE_DIR=off` switches them off), as `marshal` files under
its bound on entries. Reading one imports nothing beyond the interpreter's start-up (os, sys, marshal, and
importlib.machinery to find click without importing it); a cache that cannot be read or written is passed by.
"""

from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False  # typing's own costs ≈ 40 M instructions (it imports re): mypy reads this name as typing's
if TYPE_CHECKING:
    from collections.abc import Callable

FORMAT = 1
"""Bumped when what an entry holds changes."""
SUFFIX = ".marshal"
"""The parse cache's suffix: its bound on the folder's entries counts these too."""
SOURCES = ("cli.py", "cli_parts.py")
"""The files beside this one whose definitions the help texts are made of."""
LOCALE = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
MAX_WORDS = 4
"""A help request is at most so many command words, then `--help` (`hih contract diff --help`: two)."""
CLICK_MAX_WIDTH = 80
"""click's default `max_content_width`: the help is laid out `min(columns, 80) - 2` wide, at least 50."""


def folder() -> str | None:
    """The parse cache's folder (`harness.contract.parse_cache.folder`, which this mirrors without importing
    pathlib), or None when the cache is off."""
    chosen = os.environ.get("HIH_CACHE_DIR", "")
    if chosen.lower() == "off":
        return None
    if chosen:
        return chosen
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "hih", "yaml")


def columns() -> int:
    """The terminal's columns as `shutil.get_terminal_size()` gives them (COLUMNS when a positive number, else the
    terminal of `sys.__stdout__`, else 80), without importing shutil (≈ 30 M instructions: fnmatch, re, bz2, lzma)."""
    try:
        wanted = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        wanted = 0
    if wanted > 0:
        return wanted
    try:
        stream = sys.__stdout__
        found = os.get_terminal_size(stream.fileno()).columns if stream is not None else 0
    except (AttributeError, ValueError, OSError):
        found = 0
    return found or 80


def width() -> int:
    """The width click lays a help text out for (`click.formatting.HelpFormatter`'s rule)."""
    return max(min(columns(), CLICK_MAX_WIDTH) - 2, 50)


def entry_name(argv: list[str]) -> str | None:
    """The entry of this command line when it asks for a command's help (command words, then `--help`), else
    None (any other command line, which click handles without an entry, and any when the cache is off)."""
    if not argv or argv[-1] != "--help" or len(argv) > MAX_WORDS + 1 or folder() is None:
        return None
    words = argv[:-1]
    if not all(word.isascii() and word.replace("-", "").isalpha() and not word.startswith("-") for word in words):
        return None
    return ".".join(["help", *words, str(width())])


def _stat(path: str | None) -> tuple[str, int, int] | None:
    if not path:
        return None
    try:
        found = os.stat(path)
    except OSError:
        return None
    return path, found.st_size, found.st_mtime_ns


def fingerprint() -> tuple[object, ...]:
    """What the help texts depend on besides the command line and the width (see the module's text)."""
    from importlib.machinery import PathFinder

    here = os.path.dirname(os.path.abspath(__file__))
    try:
        spec = PathFinder.find_spec("click")
    except (ImportError, ValueError):
        spec = None
    return (FORMAT, sys.version, tuple(_stat(os.path.join(here, name)) for name in SOURCES),
            _stat(spec.origin if spec is not None else None), tuple(os.environ.get(name) for name in LOCALE))


def read(name: str) -> str | None:
    """The help text kept as entry `name`, when its fingerprint is the one of now; else None."""
    where = folder()
    if where is None:
        return None
    try:
        with open(os.path.join(where, name + SUFFIX), "rb") as kept:
            entry = marshal.loads(kept.read())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], str)):
        return None
    return entry[1] if entry[0] == fingerprint() else None


def write(name: str, text: str) -> None:
    """Keep `text` as entry `name` with the fingerprint of now (atomically, under the parse cache's bound)."""
    if folder() is None:
        return
    from harness.contract import parse_cache

    parse_cache.write(name, (fingerprint(), text))


def printed(main: Callable[[], int]) -> tuple[int, str]:
    """Run `main` with what it prints to standard output caught: (its exit status, the text). The caller prints
    the text (`show`)."""
    import contextlib
    import io

    caught = io.StringIO()
    with contextlib.redirect_stdout(caught):
        code = main()
    return code, caught.getvalue()


def show(text: str) -> None:
    """Print a help text as click's `echo` would have (the text as it is; a closed pipe is not an error)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except (OSError, ValueError):  # `hih --help | head`: nothing more can be said
        pass
