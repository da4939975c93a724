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
