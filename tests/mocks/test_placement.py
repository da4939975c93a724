"""`hih mock serve --workers N` places each worker on a core of its own when they are as many as the cores it may use
(`mocks.placement`): which core each gets, and over real sockets that every thread of a worker runs there while the
workers still keep one set of orders."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mocks.placement import core_of, place
from mocks.serve import ServeOptions
from tests.conftest import CONTRACTS
from tests.mocks.serving import serving
from tests.mocks.worker_processes import worker_pids

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU placement on this platform")


@given(st.lists(st.integers(0, 255), unique=True, max_size=8).map(sorted), st.integers(1, 10))
def test_workers_as_many_as_the_cores_get_one_core_each_and_otherwise_none(allowed: list[int], count: int) -> None:
    cores = [core_of(i, count, allowed) for i in range(count)]
    if count >= 2 and count == len(allowed):
        assert cores == allowed, "worker i on the i-th allowed core: each its own"
    else:
        assert cores == [None] * count, "left to the scheduler"
    assert core_of(count, count, allowed) is None and core_of(-1, count, allowed) is None


def test_a_set_the_kernel_refuses_leaves_every_thread_where_it_was() -> None:
    """A core outside the machine (a CPU set changed under a running server) is no failure to start a worker."""
    def sets() -> dict[int, set[int]]:
        found = {}
        for task in Path("/proc/self/task").iterdir():
            try:
                found[int(task.name)] = os.sched_getaffinity(int(task.name))
            except OSError:  # a thread of the test process that ended meanwhile
                continue
        return found

    before = sets()
    place({4095})
    after = sets()
    assert threading.get_native_id() in before.keys() & after.keys()
    assert {t: after[t] for t in before.keys() & after.keys()} == {t: before[t] for t in before.keys() & after.keys()}


def threads_cores(pid: int) -> list[set[int]]:
    """The CPU set of each thread of process `pid`."""
    return [os.sched_getaffinity(int(task.name)) for task in Path(f"/proc/{pid}/task").iterdir()]


@contextmanager
def narrowed(cores: set[int]) -> Iterator[None]:
    """This thread (and the threads it starts meanwhile, and their processes) on `cores`; its own set restored after."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def two_cores() -> set[int]:
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("one core: nothing to place two workers on")
    return set(allowed[:2])


@pytest.mark.slow
def test_two_lis_workers_on_two_cores_each_run_on_their_own_with_every_thread() -> None:
    """Served from a thread narrowed to two cores, each worker's every thread (the runtime's, started after the
    placement, too) runs on one core, not the other's; and an order one worker took is refused as a duplicate by
    whichever worker the next connection reaches, so placement left the shared orders as they were."""
    from harness.contract.hl7.mllp_client import MllpSyncClient
    from tests.contracts.hl7 import messages as m

    cores = two_cores()
    with narrowed(cores), serving(ServeOptions(interfaces=["lis"], workers=2, contracts_dir=CONTRACTS)) as fields:
        workers = worker_pids()
        assert len(workers) == 2
        placed = [threads_cores(w) for w in workers]
        assert all(len(sets) >= 2 for sets in placed), "the runtime's thread beside the main one"
        assert all(len(s) == 1 for sets in placed for s in sets), "each thread on one core"
        assert [len(set().union(*sets)) for sets in placed] == [1, 1], "every thread of a worker on the same one"
        assert set().union(*(set().union(*sets) for sets in placed)) == cores, "the two workers on different cores"
        host, port = fields["lis"][1].removeprefix("mllp://").rsplit(":", 1)
        answers = []
        for n in range(6):  # new connections: the kernel spreads them over both workers
            client = MllpSyncClient(host, int(port), timeout=5.0)
            try:
                reply = client.send(m.lis_oml("NW", f"P{n:05d}").replace("HIS20240105001", "PLACED1")).message
            finally:
                client.close()
            assert reply is not None
            answers.append(reply.get("ORC-1"))
        assert answers == ["OK"] + ["UA"] * 5


@pytest.mark.slow
def test_three_workers_on_two_cores_are_left_to_the_scheduler() -> None:
    """More workers than cores: each thread of each worker keeps the whole (narrowed) set."""
    cores = two_cores()
    with narrowed(cores), serving(ServeOptions(interfaces=["lis"], workers=3, contracts_dir=CONTRACTS)):
        seen = [threads_cores(w) for w in worker_pids()]
    assert len(seen) == 3
    assert all(s == cores for sets in seen for s in sets)
