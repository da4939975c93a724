"""A command's help printed from the text kept the last time (harness.help_cache): the same text click prints, at
every width, kept only while what it is made of is the same, never for a failed request."""

from __future__ import annotations

import marshal
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import help_cache
from harness.contract import parse_cache

ENTRY = """
import sys
sys.argv = ["hih", *sys.argv[1:]]
from harness.launch import entry
entry()
print("imported", *(name in sys.modules for name in ("click", "typing", "re", "harness.cli")), file=sys.stderr)
"""


def hih(cache: str, *argv: str, columns: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HIH_CACHE_DIR": cache}
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run([sys.executable, "-c", ENTRY, *argv], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["contract", "diff", "--help"]])
def test_the_kept_help_is_clicks_and_imports_no_click(tmp_path: Path, argv: list[str]) -> None:
    fresh = hih("off", *argv)
    first = hih(str(tmp_path), *argv)
    second = hih(str(tmp_path), *argv)
    assert fresh.returncode == first.returncode == second.returncode == 0
    assert fresh.stdout.startswith("Usage: hih") and fresh.stdout == first.stdout == second.stdout
    assert [p.name for p in tmp_path.iterdir()] == [".".join(["help", *argv[:-1], "78"]) + ".marshal"]
    # click printed it the first time (and the command line's quick exit ended the process); the second answer
    # came from the entry, with none of click's imports
    assert "imported" not in first.stderr
    assert second.stderr.splitlines()[-1] == "imported False False False False"


@pytest.mark.parametrize("columns", ["60", "100"])
def test_each_width_gets_clicks_own_text(tmp_path: Path, columns: str) -> None:
    fresh = hih("off", "run", "--help", columns=columns)
    hih(str(tmp_path), "run", "--help", columns=columns)
    kept = hih(str(tmp_path), "run", "--help", columns=columns)
    assert kept.stdout == fresh.stdout and kept.stderr.splitlines()[-1].startswith("imported False")
    other = hih(str(tmp_path), "run", "--help", columns="200" if columns == "60" else "55")
    assert other.stdout == hih("off", "run", "--help", columns="200" if columns == "60" else "55").stdout
    assert other.stdout != fresh.stdout  # laid out for another width: not the entry kept for this one


def test_an_entry_of_other_definitions_is_not_used(tmp_path: Path) -> None:
    kept = tmp_path / "help.78.marshal"
    kept.write_bytes(marshal.dumps(((help_cache.FORMAT, "another interpreter"), "stale help\n")))
    done = hih(str(tmp_path), "--help")
    assert done.returncode == 0 and done.stdout == hih("off", "--help").stdout and "stale" not in done.stdout
    assert "stale" not in marshal.loads(kept.read_bytes())[1]  # written again, for the definitions of now
    assert hih(str(tmp_path), "--help").stderr.splitlines()[-1].startswith("imported False")


def test_a_failed_help_is_not_kept(tmp_path: Path) -> None:
    done = hih(str(tmp_path), "no-such-command", "--help")
    assert done.returncode == 2 and "No such command 'no-such-command'" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_entry_is_passed_by(tmp_path: Path) -> None:
    (tmp_path / "help.78.marshal").write_bytes(b"\x00not marshal")
    done = hih(str(tmp_path), "--help")
    assert done.returncode == 0 and done.stdout == hih("off", "--help").stdout


@given(st.lists(st.text(alphabet="ab-/é -", max_size=6), max_size=7))
def test_only_command_words_then_help_have_an_entry(argv: list[str]) -> None:
    name = help_cache.entry_name(argv)
    words = argv[:-1]
    plain = all(w and w.isascii() and w.replace("-", "").isalpha() and not w.startswith("-") for w in words)
    if argv[-1:] != ["--help"] or len(words) > help_cache.MAX_WORDS or not plain:
        assert name is None
    else:
        assert name is not None and name.startswith(".".join(["help", *words, ""]))


def test_no_entry_when_the_cache_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIH_CACHE_DIR", "off")
    assert help_cache.entry_name(["--help"]) is None


@pytest.mark.parametrize("env", [{}, {"HIH_CACHE_DIR": "/somewhere"}, {"HIH_CACHE_DIR": "OFF"},
                                 {"XDG_CACHE_HOME": "/xdg"}, {"XDG_CACHE_HOME": "/xdg", "HIH_CACHE_DIR": "/mine"}])
def test_the_folder_is_the_parse_caches(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in ("HIH_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    expected = parse_cache.folder()
    assert help_cache.folder() == (str(expected) if expected is not None else None)


@pytest.mark.parametrize("columns", [None, "", "0", "-3", "abc", "40", "132"])
def test_the_columns_are_shutils(monkeypatch: pytest.MonkeyPatch, columns: str | None) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    if columns is not None:
        monkeypatch.setenv("COLUMNS", columns)
    assert help_cache.columns() == shutil.get_terminal_size().columns


def test_the_fingerprint_holds_the_command_lines_files_and_clicks() -> None:
    """What a kept help is made of: a change to harness/cli.py, harness/cli_parts.py or click makes a new one."""
    import click

    fingerprint = help_cache.fingerprint()
    here = Path(help_cache.__file__).resolve().parent
    kept = [entry for part in fingerprint if isinstance(part, tuple) for entry in part if isinstance(entry, tuple)]
    for name in ("cli.py", "cli_parts.py"):
        assert help_cache._stat(str(here / name)) in kept, name
    assert help_cache._stat(click.__file__) in fingerprint
    assert sys.version in fingerprint


COLD = """
import sys
import harness.cli
harness.cli.quick_exit = lambda code: print("exit", code, file=sys.stderr)
sys.argv = ["hih", *sys.argv[1:]]
from harness.launch import entry
entry()
print("imported", *(name in sys.modules for name in ("shutil", "difflib")), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"]])
def test_clicks_help_imports_neither_shutil_nor_difflib(argv: list[str]) -> None:
    """A help click prints (a first request, the cache off) finds the terminal's width without shutil, and the
    nearest command for a typo is the only use of difflib."""
    env = {**os.environ, "HIH_CACHE_DIR": "off"}
    done = subprocess.run([sys.executable, "-c", COLD, *argv], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout.startswith("Usage: hih") and done.stderr.splitlines()[-2:] == ["exit 0", "imported False False"]


def _help_texts(context: type[click.Context]) -> dict[str, str]:
    """Every command's and group's help as click lays it out with contexts of `context`."""
    from harness.cli import app

    texts: dict[str, str] = {}

    def walk(command: click.Command, ctx: click.Context, path: str) -> None:
        texts[path] = command.get_help(ctx)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, context(sub, info_name=name, parent=ctx), f"{path} {name}")

    walk(app, context(app, info_name="hih"), "hih")
    return texts


@pytest.mark.parametrize("columns", [None, "20", "52", "67", "80", "81", "200"])
def test_hihs_layout_of_every_help_is_clicks(monkeypatch: pytest.MonkeyPatch, columns: str | None) -> None:
    """harness.cli_parts.HelpFormatter gives every command's help the width click's own formatter gives it."""
    from harness.cli_parts import Context

    monkeypatch.delenv("COLUMNS", raising=False)
    if columns is not None:
        monkeypatch.setenv("COLUMNS", columns)
    hihs, clicks = _help_texts(Context), _help_texts(click.Context)
    assert len(hihs) > 10 and hihs == clicks
    assert all(text.startswith("Usage: hih") for text in hihs.values())
