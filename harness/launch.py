"""The `hih` console script's entry point, kept light so that `hih run` starts its warm pytest process
(harness.run.warm) before click, rich and the command modules are imported: that process's start-up is what the
run waits for before its first scenario, and importing the command line takes ≈ 30 ms of it."""

from __future__ import annotations

import sys


def entry() -> None:
    """Run the `hih` command; for `hih run`, the warm pytest process starts first of all."""
    argv = sys.argv[1:]
    if argv[:1] != ["run"] or {"--help", "-h"} & set(argv):
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
