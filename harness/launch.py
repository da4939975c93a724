"""The `hih` console script's entry point, kept light so that `hih run` starts its warm pytest process
(harness.run.warm) before click, rich and the command modules are imported: that process's start-up is what the
run waits for before its first scenario, and importing the command line takes ≈ 30 ms of it. A command's help
(`hih --help`, `hih run --help`) is printed from the text kept the last time it was asked (harness.help_cache),
without importing click at all, while the command line's definitions and click are the same."""

from __future__ import annotations

import sys


def entry() -> None:
    """Run the `hih` command; for `hih run`, the warm pytest process starts first of all."""
    argv = sys.argv[1:]
    if argv[-1:] == ["--help"]:
        _help(argv)
        return
    if argv[:1] != ["run"] or {"--help", "-h"} & set(argv):
        if argv[:1] in (["mock"], ["proxy"]):  # servers: a Ctrl-C from here on is not lost (mocks/stop_signals.py)
            from mocks.stop_signals import note_interrupts

            note_interrupts()
        from harness.cli import main, quick_exit

        quick_exit(main())
        return
    from harness.run import warm

    warm.prestart()
    try:
        from harness.cli import main, quick_exit

        code = main()
    finally:
        warm.discard()  # one nobody took (a usage error)
    quick_exit(code)


def _help(argv: list[str]) -> None:
    """A help request: the text kept for it when there is one, else click's (kept when it succeeded)."""
    from harness import help_cache

    name = help_cache.entry_name(argv)
    kept = help_cache.read(name) if name is not None else None
    if kept is not None:
        help_cache.show(kept)
        return
    from harness.cli import main, quick_exit

    if name is None:
        quick_exit(main())
        return
    code, text = help_cache.printed(main)
    help_cache.show(text)
    if code == 0 and text:
        help_cache.write(name, text)
    quick_exit(code)
