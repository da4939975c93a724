"""CPU accounting the benchmarks share, read from /proc: the server's CPU and the whole machine's busy time."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any


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


# -- where the cores go: a per-process account over a window ---------------------------------------------------------
def descendants(pid: int) -> list[int]:
    """Every process under `pid` (children, their children ...), not `pid` itself."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            kids = [int(k) for task in Path(f"/proc/{parent}/task").iterdir()
                    for k in (task / "children").read_text().split()]
        except OSError:
            kids = []
        found.extend(kids)
        todo.extend(kids)
    return found


def role(pid: int) -> str:
    """What process `pid` is in a bench run: the load client, the hih parent, a worker, the peer's node, other."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    text = b" ".join(argv)
    if b"mllp_load.py" in text or b"insurance_load.py" in text:
        return "client"
    if b"mocks.workers" in text:
        return "worker"
    if b"mock serve" in text or b"multiprocessing.forkserver" in text:
        # `--workers` forks its workers: from the serving process (they share its command line) or its forkserver
        try:
            parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
            above = Path(f"/proc/{parent}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            above = b""
        if b"mock serve" in above or b"multiprocessing.forkserver" in above:
            return "worker"
        return "hih" if b"mock serve" in text else "forkserver"
    if b"node" in argv[0] or b"/mb" in text or b"java" in argv[0]:
        return "peer"
    return argv[0].rsplit(b"/", 1)[-1].decode("utf-8", "replace") or "other"


def sched_of(pid: int) -> tuple[float, float, int, int] | None:
    """(CPU s, run-queue wait s, voluntary, involuntary context switches) of `pid`'s threads together: schedstat's
    on-CPU and waiting-to-run times (exact, not ticks), the switches from status."""
    ran = waited = 0.0
    vol = invol = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return None
    for task in tasks:
        try:
            run_ns, wait_ns, _ = (task / "schedstat").read_text().split()
            status = (task / "status").read_text()
        except (OSError, ValueError):
            continue
        ran += int(run_ns) / 1e9
        waited += int(wait_ns) / 1e9
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches"):
                vol += int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches"):
                invol += int(line.split()[1])
    return ran, waited, vol, invol


def cpu_idle_s() -> list[float]:
    """Idle (+ iowait) seconds of each core so far (/proc/stat cpuN lines)."""
    idle = []
    with open("/proc/stat", "rb") as fh:
        for line in fh:
            if line.startswith(b"cpu") and line[3:4].isdigit():
                f = line.split()
                idle.append((int(f[4]) + int(f[5])) / os.sysconf("SC_CLK_TCK"))
    return idle


def last_cpu(pid: int) -> list[int]:
    """The core each of `pid`'s threads last ran on, for those running or runnable now (state R)."""
    cores = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return cores
    for task in tasks:
        try:
            stat = (task / "stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if fields[0] == b"R":
            cores.append(int(fields[36]))
    return cores


class Account:
    """Per process under `root` (the bench script itself: its load client and the servers it started), over a
    window: CPU (schedstat), run-queue wait, sleeps and preemptions, and how often two of them were runnable on the
    same core at once (sampled every `every` s); each core's idle time. Call `begin()`, then `end()` -> rows."""

    def __init__(self, root: int, every: float = 0.02) -> None:
        self.root, self.every = root, every
        self.before: dict[int, tuple[str, tuple[float, float, int, int]]] = {}
        self.idle0: list[float] = []
        self.t0 = 0.0
        self.samples = 0
        self.shared = 0
        """Samples where two of these processes were runnable on one core (and so took turns on it)."""
        self.pairs: dict[str, int] = {}
        """Samples where these roles (e.g. `worker+worker`, `client+worker`) were runnable on one core."""
        self.running: dict[int, int] = {}
        """Samples where each process was runnable."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _processes(self) -> list[int]:
        me = os.getpid()
        return [p for p in descendants(self.root) if p != me and role(p) not in ("sh", "perf", "sleep", "gone")]

    def begin(self) -> None:
        self.t0 = time.monotonic()
        self.idle0 = cpu_idle_s()
        for pid in self._processes():
            sched = sched_of(pid)
            if sched is not None:
                self.before[pid] = (role(pid), sched)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        pids = list(self.before)
        while not self._stop.wait(self.every):
            self.samples += 1
            cores: dict[int, list[str]] = {}
            for pid in pids:
                on = last_cpu(pid)
                if on:
                    self.running[pid] = self.running.get(pid, 0) + 1
                for core in on:
                    cores.setdefault(core, []).append(self.before[pid][0])
            together = [sorted(names) for names in cores.values() if len(names) > 1]
            if together:
                self.shared += 1
            for names in together:
                key = "+".join(names)
                self.pairs[key] = self.pairs.get(key, 0) + 1

    def end(self) -> dict[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        wall = time.monotonic() - self.t0
        idle = [b - a for a, b in zip(self.idle0, cpu_idle_s(), strict=False)]
        rows = []
        for pid, (name, (ran0, wait0, vol0, inv0)) in self.before.items():
            now = sched_of(pid)
            if now is None:
                continue
            ran, waited, vol, inv = now
            rows.append({"pid": pid, "role": name, "cpu_pct": 100 * (ran - ran0) / wall,
                         "wait_pct": 100 * (waited - wait0) / wall, "sleeps": vol - vol0, "preempted": inv - inv0,
                         "runnable_pct": 100 * self.running.get(pid, 0) / max(self.samples, 1)})
        return {"wall_s": wall, "idle_pct": [100 * i / wall for i in idle], "rows": rows,
                "shared_core_pct": 100 * self.shared / max(self.samples, 1),
                "pairs_pct": {k: 100 * n / max(self.samples, 1) for k, n in sorted(self.pairs.items())}}


def account_text(account: dict[str, Any], orders: float | None = None) -> str:
    """One line per process: `client 98 % CPU (wait 12 %), worker 71 % ...`, the cores' idle, with `orders` (the
    messages answered in the window) the sleeps and preemptions per order."""
    parts = []
    for row in sorted(account["rows"], key=lambda r: (r["role"], r["pid"])):
        per = (f", {row['sleeps'] / orders:.2f} sleeps/{row['preempted'] / orders:.2f} preempted per msg"
               if orders else "")
        parts.append(f"{row['role']} {row['cpu_pct']:.0f} % (run-queue wait {row['wait_pct']:.0f} %{per})")
    idle = "/".join(f"{i:.0f}" for i in account["idle_pct"])
    pairs = ", ".join(f"{k} {v:.0f} %" for k, v in account["pairs_pct"].items())
    return (f"{'; '.join(parts)}; cores idle {idle} %; two runnable on one core in "
            f"{account['shared_core_pct']:.0f} % of samples{f' ({pairs})' if pairs else ''}")
