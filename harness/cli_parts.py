"""The click group the `hih` command is built from: it lists its commands in the order they are defined and
suggests the nearest command for a typo.

click itself is the command-line library (typer, which builds on it, costs ~60 ms more to import plus pydantic
for type coercion: `hih --help` is meant to answer in well under 60 ms)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from harness.help_cache import columns

if TYPE_CHECKING:
    from pathlib import Path


class HelpFormatter(click.HelpFormatter):
    """click's, as wide as click makes it (`min(columns, max_width) - 2`, at least 50), with the terminal's columns
    found as `shutil.get_terminal_size()` finds them (harness.help_cache.columns) without importing shutil: ≈ 7 M
    instructions (fnmatch, bz2, lzma) of a `hih --help` that click prints. Where click's tests force a width
    (`click.formatting.FORCED_WIDTH`, CliRunner), click's own rule applies."""

    def __init__(self, indent_increment: int = 2, width: int | None = None, max_width: int | None = None) -> None:
        if width is None and click.formatting.FORCED_WIDTH is None:
            width = max(min(columns(), 80 if max_width is None else max_width) - 2, 50)
        super().__init__(indent_increment, width, max_width)


class Context(click.Context):
    formatter_class = HelpFormatter


class Command(click.Command):
    """Every `hih` command's: its help laid out by `HelpFormatter`."""

    context_class = Context


class Group(click.Group):
    """Commands, then groups, each in definition order; `Missing command.` rather than the help when none is given;
    `No such command 'hist'. Did you mean 'history'?` on a typo. Its commands and groups are laid out by
    `HelpFormatter`."""

    context_class = Context
    command_class = Command

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("no_args_is_help", False)
        super().__init__(*args, **kwargs)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands, key=lambda name: isinstance(self.commands[name], click.Group))

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        name = click.utils.make_str(args[0]) if args else ""
        if args and name not in self.commands and not name.startswith("-"):
            import difflib  # only for a typo: ≈ 3 M instructions (heapq, its matcher) of every `hih` otherwise

            close = difflib.get_close_matches(name, list(self.commands), n=1)
            if close:
                ctx.fail(f"No such command {name!r}. Did you mean {close[0]!r}?")
        return super().resolve_command(ctx, args)

    def group(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", Group)
        return super().group(*args, **kwargs)


class PathType(click.ParamType):
    """A file or folder argument as a `pathlib.Path`, imported only when a command gets one (pathlib and what it
    imports are a tenth of `hih --help`)."""

    name = "path"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        from pathlib import Path

        return value if isinstance(value, Path) else Path(value)
