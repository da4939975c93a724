"""CPU accounting the benchmarks share, read from /proc: the server's CPU and the whole machine's busy time."""

from __future__ import annotations

import os


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores; /proc/stat, steal included)."""
    with open("/proc/stat", "rb") as fh:
        f = [int(x) for x in fh.readline().split()[1:9]]
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int | None) -> float | None:
    """user+sys CPU seconds of process `pid` (all its threads), or None."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int | None) -> float | None:
    """user+sys CPU seconds of process `pid` and of its children (the workers of `hih mock serve --workers`)."""
    own = proc_cpu_s(pid)
    if own is None or pid is None:
        return own
    children = [pid]
    found: list[int] = []
    while children:
        parent = children.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children", "rb") as fh:
                kids = [int(k) for k in fh.read().split()]
        except OSError:
            kids = []
        found.extend(kids)
        children.extend(kids)
    return own + sum(proc_cpu_s(kid) or 0.0 for kid in found)
