"""CPU accounting the benchmarks share, read from /proc: the server's CPU and the whole machine's busy time."""

from __future__ import annotations

import os
from pathlib import Path


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


def connections(pid: int, port: int) -> int:
    """Established TCP connections to `port` whose socket process `pid` holds (/proc/net/tcp, tcp6)."""
    inodes: set[str] = set()
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    held = 0
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return 0
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            held += 1
    return held


def connection_split(pid: int, port: int) -> list[int]:
    """Connections to `port` each child of `pid` holds (the workers of `hih mock serve --workers`, in start order),
    or `pid`'s own when it has no children: how the kernel spread them (SO_REUSEPORT hashes each connection)."""
    try:
        kids = [int(k) for task in Path(f"/proc/{pid}/task").iterdir()
                for k in (task / "children").read_text().split()]
    except OSError:
        kids = []
    return [connections(k, port) for k in (kids or [pid])]
