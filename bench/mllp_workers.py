#!/usr/bin/env python3
"""One serving process or several, over the wire: the mock LIS served by `hih mock serve --interface lis --workers W`
and loaded by `mllp_load.py --handler lis` (OML^O21 orders validated, kept, answered ORL^O22, every reply checked),
W and the checkouts interleaved, repeated. With `--perf`, `perf stat` also counts the serving processes' system
calls and context switches per order over the measured window (less one second at each end). Every run also gives
the serving processes' sleeps per order (voluntary context switches, from /proc, over the same window) and their
idle CPU: the share of a core they use in the `--idle` seconds after the load has stopped, connections closed; and
where the cores went over the window (`procstat.Account`): the load client's share of a core, the cores' idle time,
and how often two of the workers' threads were runnable on one core (one waiting for the other).
`--busy-poll-us 0,100` serves each checkout whose `hih mock serve` has `--busy-poll-us` once per value (a checkout
without it, once as it is).

On a shared machine the rates move with the other tenants' load; the server CPU per order (its whole process tree,
from /proc) moves less, and is what this compares: a worker count or a change that costs more CPU per order loses
on a quiet machine too. The table gives, per checkout and W, the median of the runs: orders/s, p99, server CPU per
order, and the other tenants' CPU.

    .venv/bin/python bench/mllp_workers.py                                   # this checkout, W = 1 and 2, 3 runs
    .venv/bin/python bench/mllp_workers.py --against /tmp/base --repeats 3    # and another commit's `git archive`
    .venv/bin/python bench/mllp_workers.py --perf                             # system calls per order (perf, root)
    .venv/bin/python bench/mllp_workers.py --workers 2 --busy-poll-us 0,100   # polling before sleeping, off and on
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from peers import ROOT, Server, free_port, run_json  # bench/ is the script directory
from procstat import Account, connections, descendants, proc_cpu_s, tree_cpu_s

PERF_EVENTS = ("raw_syscalls:sys_enter", "context-switches")


def counted(server: Server, warmup: float, duration: float) -> subprocess.Popen[str]:
    """`perf stat` of the server's processes over the measured window, less one second at each end."""
    children = [pid for task in Path(f"/proc/{server.proc.pid}/task").iterdir()
                for pid in (task / "children").read_text().split()]  # the workers, whichever thread started them
    pids = ",".join([str(server.proc.pid), *children])
    window = max(duration - 2.0, 1.0)
    return subprocess.Popen(["sh", "-c", (f"sleep {warmup + 1.0}; exec perf stat -x, -e {','.join(PERF_EVENTS)} "
                             f"-p {pids} -- sleep {window}")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def per_order(perf: subprocess.Popen[str], rate: float, duration: float) -> dict[str, float]:
    """The events `perf stat` counted, per order (the orders of its window at the level's rate)."""
    _, err = perf.communicate(timeout=60)
    orders = rate * max(duration - 2.0, 1.0)
    found: dict[str, float] = {}
    for line in err.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2] in PERF_EVENTS and fields[0].isdigit() and orders:
            found[fields[2]] = int(fields[0]) / orders
    return found


def tree_pids(pid: int) -> list[int]:
    """`pid` and its descendants (the workers, whichever thread started them)."""
    return [pid, *descendants(pid)]


def sleeps(pid: int) -> int:
    """Voluntary context switches (the thread slept: in `epoll_wait`, on a lock) of every thread of the tree."""
    total = 0
    for proc in tree_pids(pid):
        try:
            tasks = list(Path(f"/proc/{proc}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                text = (task / "status").read_text()
            except OSError:
                continue
            total += sum(int(line.split()[1]) for line in text.splitlines() if line.startswith("voluntary_ctxt"))
    return total


def _window(pid: int, port: int, warmup: float, duration: float) -> tuple[int, list[tuple[int, float]], dict[str, Any]]:
    """Over the measured window (less one second at each end, as `perf stat` counts): the tree's sleeps, each
    serving worker's connections to `port` and CPU seconds (the parent's own when it has no workers), and where the
    cores went (`procstat.Account`: the load client's and the workers' CPU, the cores' idle, who shared a core)."""
    time.sleep(warmup + 1.0)
    workers = tree_pids(pid)[1:] or [pid]
    account = Account(os.getpid())
    account.begin()
    before = sleeps(pid)
    cpu = [proc_cpu_s(w) or 0.0 for w in workers]
    time.sleep(max(duration - 2.0, 1.0))
    split = [(connections(w, port), (proc_cpu_s(w) or 0.0) - c) for w, c in zip(workers, cpu, strict=True)]
    return sleeps(pid) - before, split, account.end()


def idle_share(pid: int, seconds: float) -> float | None:
    """The share of a core (%) the server's processes use over `seconds` with no load (after a short settle)."""
    time.sleep(0.5)
    before = tree_cpu_s(pid)
    time.sleep(seconds)
    after = tree_cpu_s(pid)
    return None if before is None or after is None else 100 * (after - before) / seconds


def knows_busy_poll(root: Path) -> bool:
    cli = root / "harness" / "cli.py"
    return cli.exists() and "--busy-poll-us" in cli.read_text(encoding="utf-8")


def once(root: Path, workers: int, conns: int, warmup: float, duration: float, perf: bool = False,
         poll_us: int | None = None, idle_s: float = 2.0) -> dict[str, Any]:
    """One served mock LIS from `root`'s code with `workers` processes, loaded once: mllp_load.py's level, the
    sleeps per order and the idle CPU after it (with `perf`, also the system calls and context switches per order;
    with `poll_us`, served with `--busy-poll-us poll_us`)."""
    port = free_port()
    command = [sys.executable, "-m", "harness.cli", "mock", "serve", "--interface", "lis", "--port", f"lis={port}"]
    if workers > 1:
        command.append(f"--workers={workers}")
    if poll_us is not None:
        command.append(f"--busy-poll-us={poll_us}")
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(root)  # the served code is `root`'s (the workers inherit it)
    try:
        server = Server(command, port, root, ready="ready")
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before
    try:
        stat = counted(server, warmup, duration) if perf else None
        slept: list[tuple[int, list[tuple[int, float]], dict[str, Any]]] = []
        counter = threading.Thread(target=lambda: slept.append(_window(server.proc.pid, port, warmup, duration)),
                                   daemon=True)
        counter.start()
        result = run_json([sys.executable, str(ROOT / "bench" / "mllp_load.py"), "--port", str(port), "--server-pid",
                           str(server.proc.pid), "--handler", "lis", "--conns", str(conns), "--warmup", str(warmup),
                           "--duration", str(duration)])
        counter.join(timeout=60)
        idle = idle_share(server.proc.pid, idle_s)
    finally:
        server.stop()
    level: dict[str, Any] = result["levels"][0]
    level["idle_cpu_pct"] = idle
    if slept and level["rate"]:
        level["sleeps_per_order"] = slept[0][0] / (float(level["rate"]) * max(duration - 2.0, 1.0))
        # how the kernel spread the connections over the workers (SO_REUSEPORT hashes each one), and the share of a
        # core each worker used: a run's rate with W > 1 depends on that split
        level["split"] = [{"conns": c, "cpu_pct": 100 * s / max(duration - 2.0, 1.0)} for c, s in slept[0][1]]
        account = slept[0][2]
        level["client_cpu_window_pct"] = sum(r["cpu_pct"] for r in account["rows"] if r["role"] == "client")
        level["idle_cores_pct"] = sum(account["idle_pct"])
        level["workers_one_core_pct"] = sum(v for k, v in account["pairs_pct"].items() if k.count("worker") > 1)
    if stat is not None:
        counts = per_order(stat, float(level["rate"]), duration)
        level["syscalls_per_order"] = counts.get(PERF_EVENTS[0])
        level["switches_per_order"] = counts.get(PERF_EVENTS[1])
    return level


def split_text(level: dict[str, Any]) -> str:
    """The connections per worker and the share of a core each used, e.g. `, split 5/3 conns, 96/71 % CPU`."""
    split = level.get("split") or []
    conns = "/".join(str(w["conns"]) for w in split)
    cpu = "/".join(f"{w['cpu_pct']:.0f}" for w in split)
    return f", split {conns} conns, {cpu} % CPU" if split else ""


def cores_text(level: dict[str, Any]) -> str:
    """Where the cores went: the client's share of a core, the cores' idle, and (W > 1) how often two threads of the
    workers were runnable on one core, e.g. `, client 14 %, idle 3 %, workers on one core 22 %`."""
    if "idle_cores_pct" not in level:
        return ""
    return (f", client {level['client_cpu_window_pct']:.0f} %, idle {level['idle_cores_pct']:.0f} %, "
            f"workers on one core {level['workers_one_core_pct']:.0f} %")


def perf_text(level: dict[str, Any]) -> str:
    return (f", {level.get('syscalls_per_order') or 0:.2f} system calls and "
            f"{level.get('switches_per_order') or 0:.2f} context switches per order")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", type=Path, action="append", default=[],
                    help="another checkout (a `git archive`) measured in turn with this one")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--perf", action="store_true", help="count system calls and context switches (perf stat)")
    ap.add_argument("--busy-poll-us", default="",
                    help="comma-separated `hih mock serve --busy-poll-us` values, each a served variant of the checkouts "
                         "that have it (default: as each serves by default)")
    ap.add_argument("--idle", type=float, default=2.0, help="seconds of idle CPU measured after each run's load")
    a = ap.parse_args()
    roots = [*a.against, ROOT]
    counts = [int(w) for w in a.workers.split(",")]
    polls: list[int | None] = [int(x) for x in a.busy_poll_us.split(",") if x.strip()]
    variants = [(r, p) for r in roots for p in ((polls or [None]) if knows_busy_poll(r) else [None])]
    runs: dict[tuple[Path, int | None, int], list[dict[str, Any]]] = {(r, p, w): [] for r, p in variants for w in counts}
    for repeat in range(a.repeats):
        for workers in counts:
            for root, poll in variants:
                level = once(root, workers, a.conns, a.warmup, a.duration, a.perf, poll, a.idle)
                runs[(root, poll, workers)].append(level)
                print(f"run {repeat + 1} {label(root, poll)} W={workers}: {level['rate']:,.0f}/s p99 "
                      f"{level['p99_ms']:.2f} ms server {level['server_us_per_msg'] or 0:.0f} µs/order, "
                      f"{level.get('sleeps_per_order') or 0:.2f} sleeps/order, idle CPU "
                      f"{level.get('idle_cpu_pct') or 0:.1f} %, other CPU {level['other_cpu_pct'] or 0:.0f} %"
                      f"{', errors ' + str(level['errors']) if level['errors'] else ''}"
                      f"{split_text(level) if workers > 1 else ''}"
                      f"{cores_text(level)}"
                      f"{perf_text(level) if a.perf else ''}", flush=True)
    print("\n| checkout | W | orders/s | p99 ms | server CPU per order | sleeps per order | idle CPU | other CPU | "
          "client CPU | cores idle | workers on one core | runs |"
          f"{' system calls, context switches per order |' if a.perf else ''}\n|---|---:|---:|---:|---:|---:|---:|---:|"
          f"---:|---:|---:|---:|{'---:|' if a.perf else ''}")
    for (root, poll, workers), levels in runs.items():
        med = {k: statistics.median(float(x.get(k) or 0) for x in levels)
               for k in ("rate", "p99_ms", "server_us_per_msg", "other_cpu_pct", "syscalls_per_order",
                         "switches_per_order", "sleeps_per_order", "idle_cpu_pct", "client_cpu_window_pct",
                         "idle_cores_pct", "workers_one_core_pct")}
        counted_text = f" {med['syscalls_per_order']:.2f}, {med['switches_per_order']:.2f} |" if a.perf else ""
        print(f"| {label(root, poll)} | {workers} | {med['rate']:,.0f} | {med['p99_ms']:.2f} | "
              f"{med['server_us_per_msg']:.0f} µs | {med['sleeps_per_order']:.2f} | {med['idle_cpu_pct']:.1f} % | "
              f"{med['other_cpu_pct']:.0f} % | {med['client_cpu_window_pct']:.0f} % | {med['idle_cores_pct']:.0f} % | "
              f"{med['workers_one_core_pct']:.0f} % | {len(levels)} |{counted_text}")
    return 1 if any(x["errors"] for levels in runs.values() for x in levels) else 0


def label(root: Path, poll: int | None) -> str:
    return f"{root}" if poll is None else f"{root} (--busy-poll-us {poll})"


if __name__ == "__main__":
    sys.exit(main())
