"""How `hih mock serve --workers N` starts its serving processes: forked from a process that has already imported what
they all import, instead of N fresh interpreters that each import hih, the mock's transport and its libraries.

A fresh worker spent 0.3–1 s of CPU before `ready`, nearly all of it importing (hih's modules ≈ 0.2 s, a SOAP mock's
zeep and lxml 0.3–0.5 s more); its contract loads from the parse cache in 20–70 ms (bench/worker_start.py `--phases`).
Two ways to fork, chosen by `starter`:
- `hih mock serve` starts its workers while it runs one thread (before its runtime's): it imports `preload_modules`
  itself and forks each worker (`multiprocessing`'s fork context). A worker's parent is the serving process, so
  PR_SET_PDEATHSIG ends it with that process, as it did a fresh one.
- A process with other threads (the test suite's, which serves from a thread; a program embedding hih) cannot fork
  safely: its workers come from `multiprocessing`'s forkserver, a fresh interpreter started once, which imports
  `preload_modules` and forks each worker on request. It outlives the serve and forks the next serves' workers, so it
  preloads every mock's modules. A worker's parent is then the forkserver: it ends with the serving process through
  a pipe only that process holds (`harness.lifeline.die_with`).

Either way a worker gets its configuration (the admin API's secret with it) through a pipe, never a command line; its
standard output is the pipe the serving process reads its `say`/`ready` lines from, its standard error the log file
whose last line is its failure reason; it runs on the cores the serving thread may use when it starts the serve
(`cores`), not those of the process it was forked from.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import sys
from collections.abc import Iterable
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, ForkServerContext
from typing import Any

from harness.contract.model import Contract

BASE_MODULES = ("harness.lifeline", "harness.contract.loader", "mocks.placement", "mocks.registry",
                "mocks.shared_state", "mocks.transport.admin", "mocks.transport.origin", "mocks.transport.runtime",
                "uvloop", "concurrent.futures.thread", "harness.contract.codec", "mocks.workers", "uvicorn",
                "uvicorn.lifespan.off", "uvicorn.protocols.http.httptools_impl",
                "uvicorn.protocols.websockets.websockets_sansio_impl")
"""What every worker imports (`mocks.workers.worker_main`): the runtime's event loop, and uvicorn with the protocols
its private admin API is served with."""
TRANSPORT_MODULES = {"http": ("mocks.transport.lean_http", "httptools")}
"""What a mock of each transport (`MockService.transport`) imports only as it starts listening."""
CONTRACT_MODULES = {"soap": ("zeep.wsa", "zeep.wsdl.bindings", "zeep.wsdl.messages", "lxml.builder",
                             "mocks.self_service")}
"""What a mock of each contract transport imports only as it builds (a SOAP mock reads its WSDL)."""


def preload_modules(contracts: Iterable[Contract], every_mock: bool = False) -> list[str]:
    """The modules the forkserver imports before it forks the workers of `contracts`' mocks: the base, each mock's
    module, what its transports import when it builds and starts, and for an HL7 mock hl7apy's modules of the versions
    its contract accepts (its validator compiles against them as it starts). `every_mock`: the modules of every mock
    `--workers` serves too, for a forkserver that will fork the workers of later serves of other mocks."""
    from mocks.registry import MOCKS, mock_class

    # `__main__` first: the program's main module is run once in the server, as `multiprocessing` runs it in each
    # child otherwise (a program that serves with workers guards its main code with `if __name__ == "__main__"`)
    modules = ["__main__", *BASE_MODULES]
    if every_mock:
        for name, target in MOCKS.items():
            cls = mock_class(name)
            if cls.shares_state:
                modules += [target.partition(":")[0], *TRANSPORT_MODULES.get(cls.transport, ())]
        modules += [name for extra in CONTRACT_MODULES.values() for name in extra]
    for contract in contracts:
        cls = mock_class(contract.interface)
        modules += [MOCKS[contract.interface].partition(":")[0], *TRANSPORT_MODULES.get(cls.transport, ()),
                    *CONTRACT_MODULES.get(contract.transport, ())]
        hl7 = contract.extra.get("hl7")
        modules += [f"hl7apy.v{v.replace('.', '_')}" for v in getattr(hl7, "versions", ())]
    return list(dict.fromkeys(modules))


def one_thread() -> bool:
    """Whether this process runs a single thread, native ones counted (/proc): only then is a plain fork safe."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:  # no /proc to tell: not known to be safe
        return False


def starter(modules: list[str]) -> tuple[ForkContext | ForkServerContext, bool]:
    """How the workers are started, and whether each needs a lifeline (`die_with`). A process of one thread (`hih
    mock serve`, before its runtime starts) imports `modules` itself and forks each worker: its children die with it
    through PR_SET_PDEATHSIG, and no second interpreter imports them. Any other (a thread of a test process) uses the
    forkserver, which preloads `modules` when this call starts it (a running server keeps what it preloaded)."""
    if one_thread():
        for name in modules:
            if name != "__main__":
                with contextlib.suppress(ImportError):  # as the forkserver's preload: the worker says what is missing
                    importlib.import_module(name)
        return multiprocessing.get_context("fork"), False
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(modules)
    return context, True


def cores() -> list[int]:
    """The cores the calling thread may run on (what the workers place themselves within)."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def run_worker(config: dict[str, Any], out: Connection, lifeline: Connection | None, log: str) -> None:
    """A forked worker's body: standard output onto `out`, standard error onto the file `log`, ended by the closing
    of `lifeline`'s other end (the serving process's) when given, then `worker_main`."""
    from mocks.placement import place
    from mocks.workers import worker_main

    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(out.fileno(), 1)
    os.dup2(fd, 2)
    os.close(fd)
    out.close()
    # Python's own streams onto those descriptors: a parent forked from may have replaced them with objects that write
    # elsewhere (pytest's capture writes to a file of its own), and a failure's traceback must reach the log
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)  # noqa: SIM115
    if config.get("cores"):  # the forkserver's set may be older than the serving process's (`taskset`, a test)
        place(set(config["cores"]))
    worker_main(config, lifeline)
