#!/usr/bin/env python3
"""Side by side with the servers a user would pick instead: WireMock's canned answer against the insurance mock's
real settlements, Mountebank's MLLP imposter against the mock LIS. Same load client for both sides of a pair,
interleaved, repeated; medians and the hih/peer ratios are written into bench/RESULTS.md with date, commit and
command.

```sh
.venv/bin/python bench/peers.py                                    # 3 repeats, 8 and 64 connections, 3 s + 10 s
.venv/bin/python bench/peers.py --repeats 5 --workers 2 --write    # and write the table into bench/RESULTS.md
.venv/bin/python bench/peers.py --pairs lis --conns 8 --duration 5 # one pair, quick
.venv/bin/python bench/peers.py --pairs lis --busy-poll-us 100     # the mock LIS polling before it sleeps
```
WireMock 3.13.2 and Mountebank 2.9.1 are installed by npm into `--scratch` (default /tmp/hih-peers; not part of the
project). Pairs: `insurance`: WireMock (`--no-request-journal --disable-request-logging`, the peerbench mapping of a
fixed 2207 answer) loaded with peerbench's request by `insurance_load.py --workload raw`, against `hih mock serve
--interface insurance` loaded with signed 2207 settlements (signature, validation both ways, the ledger) by
`insurance_load.py --workload settle`. `lis`: Mountebank's TCP imposter with the peerbench inject ACK, loaded with
ORU^R01 by `mllp_load.py`, against `hih mock serve --interface lis` loaded with OML^O21 orders (validated, kept,
answered ORL^O22). Every reply of both sides is checked. Check `uptime` first: the figures mean little on a busy
machine; the table records the load average at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from procstat import Account, account_text, connection_split  # bench/ is the script directory

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERBENCH = Path("/work/shared/peerbench")
WIREMOCK, MOUNTEBANK = "wiremock@3.13.2", "mountebank@2.9.1"
START, END = "<!-- peers:start -->", "<!-- peers:end -->"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:g} s")


def install(scratch: Path) -> tuple[Path, Path]:
    """The WireMock jar and Mountebank's `mb`, installed by npm into `scratch` when missing."""
    jar = next(iter(sorted((scratch / "node_modules/wiremock/build").glob("wiremock-standalone-*.jar"))), None)
    mb = scratch / "node_modules/.bin/mb"
    if jar is None or not mb.exists():
        scratch.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(scratch), WIREMOCK, MOUNTEBANK, "--no-audit", "--no-fund"],
                       check=True, timeout=600)
        jar = next(iter(sorted((scratch / "node_modules/wiremock/build").glob("wiremock-standalone-*.jar"))))
    return jar, mb


class Server:
    """A peer or hih server in its own session (so its whole process group is stopped, and its CPU counted)."""

    def __init__(self, command: list[str], port: int, cwd: Path, ready: str | None = None) -> None:
        self.port = port
        self.log = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE if ready else self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        if ready:
            assert self.proc.stdout is not None
            seen, deadline = b"", time.monotonic() + 90
            while ready.encode() not in seen:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"{command[0]} did not start: {seen[-300:]!r}")
                if select.select([self.proc.stdout], [], [], 0.5)[0]:
                    seen += os.read(self.proc.stdout.fileno(), 4096)
        wait_port(port)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the session this script started
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()


def run_json(command: list[str]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        done = subprocess.run([*command, "--json", out.name], cwd=ROOT, capture_output=True, text=True, timeout=1800)
        if done.returncode not in (0, 1) or not Path(out.name).stat().st_size:
            raise RuntimeError(f"{shlex.join(command)} failed: {done.stdout[-500:]} {done.stderr[-500:]}")
        result: dict[str, Any] = json.loads(Path(out.name).read_text())
        return result


def levels_of(result: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(level["conns"]): {"rate": float(level["rate"]), "p99_ms": float(level["p99_ms"]),
                                  "errors": float(level["errors"])} for level in result["levels"]}


def insurance(side: str, args: argparse.Namespace, jar: Path, work: Path) -> dict[int, dict[str, Any]]:
    py, load = sys.executable, str(HERE / "insurance_load.py")
    timing = ["--conns", args.conns, "--warmup", str(args.warmup), "--duration", str(args.duration)]
    if side == "peer":
        root = work / "wiremock"
        shutil.copytree(PEERBENCH / "fixtures/wiremock", root, dirs_exist_ok=True)
        port = free_port()
        server = Server(["java", "-jar", str(jar), "--port", str(port), "--bind-address", "127.0.0.1",
                         "--no-request-journal", "--disable-request-logging", "--root-dir", str(root)], port, work)
        try:
            return levels_of(run_json([py, load, f"http://127.0.0.1:{port}", "--workload", "raw",
                                       "--server-pid", str(server.proc.pid), *timing]))
        finally:
            server.stop()
    extra = [f"--serve-arg=--workers={args.workers}"] if args.workers != "1" else []
    return levels_of(run_json([py, load, "--spawn", "--workload", "settle", *extra, *timing]))


def lis(side: str, args: argparse.Namespace, mb: Path, work: Path) -> dict[int, dict[str, Any]]:
    py, load = sys.executable, str(HERE / "mllp_load.py")
    timing = ["--conns", args.conns, "--warmup", str(args.warmup), "--duration", str(args.duration)]
    port = free_port()
    if side == "peer":
        config = work / "imposters.json"
        config.write_text((PEERBENCH / "fixtures/mb_tcp_inject.json.tmpl").read_text().replace("__PORT__", str(port)))
        admin = free_port()
        server = Server([str(mb), "start", "--port", str(admin), "--host", "127.0.0.1", "--allowInjection",
                         "--configfile", str(config), "--pidfile", str(work / "mb.pid"), "--nologfile",
                         "--loglevel", "warn"], port, work)
        handler = "accept"
    else:
        hih = Path(sys.executable).with_name("hih")
        command = [str(hih), "mock", "serve", "--interface", "lis", "--port", f"lis={port}"]
        if args.workers != "1":
            command.append(f"--workers={args.workers}")
        if args.busy_poll_us is not None:
            command.append(f"--busy-poll-us={args.busy_poll_us}")
        server = Server(command, port, work, ready="ready")
        handler = "lis"
    split: list[list[int]] = []
    if side == "hih":  # how the connections were spread over the workers, once the load runs
        sampler = threading.Timer(args.warmup + 1.0, lambda: split.append(connection_split(server.proc.pid, port)))
        sampler.daemon = True
        sampler.start()
    accounts: list[dict[str, Any]] = []
    if args.account:  # where the cores go over the measured window, less one second at each end
        account = Account(os.getpid())
        window = max(args.duration - 2.0, 1.0)
        starter = threading.Timer(args.warmup + 1.0, account.begin)
        ender = threading.Timer(args.warmup + 1.0 + window, lambda: accounts.append(account.end()))
        for timer in (starter, ender):
            timer.daemon = True
            timer.start()
    try:
        levels = levels_of(run_json([py, load, "--port", str(port), "--server-pid", str(server.proc.pid),
                                     "--handler", handler, *timing]))
    finally:
        server.stop()
    if split:
        for level in levels.values():
            level["split"] = split[0]
    if accounts:
        for level in levels.values():
            level["account"] = account_text(accounts[0], level["rate"] * max(args.duration - 2.0, 1.0))
    return levels


def commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    return head + (" plus uncommitted changes" if dirty else "")


def table(results: dict[str, dict[str, list[dict[int, dict[str, Any]]]]], conns: list[int]) -> list[str]:
    names = {"insurance": ("WireMock 3.13.2, canned 2207 answer", "insurance mock: signed 2207 settlements"),
             "lis": ("Mountebank 2.9.1 MLLP imposter (inject ACK)", "mock LIS: OML^O21 validated, kept, ORL^O22")}
    rows = ["| pair | conns | peer /s (median) | peer p99 ms | hih /s (median) | hih p99 ms | ratio hih/peer | runs |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for pair, sides in results.items():
        for c in conns:
            peer = [r[c] for r in sides["peer"] if c in r]
            ours = [r[c] for r in sides["hih"] if c in r]
            if not peer or not ours:
                continue
            prate, orate = statistics.median(x["rate"] for x in peer), statistics.median(x["rate"] for x in ours)
            pp99, op99 = statistics.median(x["p99_ms"] for x in peer), statistics.median(x["p99_ms"] for x in ours)
            errors = sum(x["errors"] for x in peer + ours)
            rows.append(f"| {names[pair][0]} vs {names[pair][1]} | {c} | {prate:,.0f} | {pp99:.2f} | {orate:,.0f} | "
                        f"{op99:.2f} | **{orate / prate:.2f}** | {len(ours)}{f' ({errors:.0f} errors)' if errors else ''} |")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/hih-peers"), help="where npm installs the peers")
    ap.add_argument("--pairs", default="insurance,lis")
    ap.add_argument("--conns", default="8,64")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", default="auto", help="hih mock serve --workers for the hih side: N or auto (default)")
    ap.add_argument("--busy-poll-us", type=int, help="hih mock serve --busy-poll-us for the mock LIS (default: its own)")
    ap.add_argument("--account", action="store_true",
                    help="lis: per process (load client, hih parent and workers, the peer's node) the CPU, run-queue "
                         "wait, sleeps and preemptions per order over the measured window, and each core's idle time")
    ap.add_argument("--write", action="store_true", help="write the table into bench/RESULTS.md")
    ap.add_argument("--block", default="peers",
                    help="the marked block of RESULTS.md to write (`<!-- BLOCK:start -->` ... `<!-- BLOCK:end -->`; "
                         "default peers, the table of record; another name keeps that one, e.g. for one pair)")
    args = ap.parse_args()
    jar, mb = install(args.scratch)
    pairs = [p.strip() for p in args.pairs.split(",") if p.strip()]
    conns = [int(c) for c in args.conns.split(",")]
    load_before = os.getloadavg()
    results: dict[str, dict[str, list[dict[int, dict[str, Any]]]]] = {p: {"peer": [], "hih": []} for p in pairs}
    with tempfile.TemporaryDirectory(prefix="hih-peers-run-") as folder:
        work = Path(folder)
        for rep in range(1, args.repeats + 1):
            for pair in pairs:
                for side in ("peer", "hih"):
                    run = insurance(side, args, jar, work) if pair == "insurance" else lis(side, args, mb, work)
                    results[pair][side].append(run)
                    shown = ", ".join(f"C={c}: {v['rate']:,.0f}/s p99 {v['p99_ms']:.1f} ms"
                                      f"{' split ' + '/'.join(map(str, v['split'])) if v.get('split') else ''}"
                                      for c, v in sorted(run.items()))
                    print(f"[rep {rep}] {pair} {side}: {shown}", flush=True)
                    for c, v in sorted(run.items()):
                        if v.get("account"):
                            print(f"    C={c} {v['account']}", flush=True)
    load_after = os.getloadavg()
    rows = table(results, conns)
    print("\n".join(rows))
    if args.write:
        command = "python bench/peers.py " + shlex.join(sys.argv[1:])
        start, end = (START, END) if args.block == "peers" else (f"<!-- {args.block}:start -->", f"<!-- {args.block}:end -->")
        block = [start, (f"Taken on {datetime.now():%Y-%m-%d %H:%M} at commit `{commit()}` with `{command}`; load average "
                 f"{load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end (the machine has 2 cores). "
                 f"Median of {args.repeats} interleaved runs, {args.warmup:g} s warm-up and "
                 f"{args.duration:g} s measured per level; hih served with --workers {args.workers}"
                 f"{'' if args.busy_poll_us is None else f' --busy-poll-us {args.busy_poll_us}'}."), "", *rows, end]
        results_md = HERE / "RESULTS.md"
        text = results_md.read_text(encoding="utf-8")
        if start in text and end in text:
            text = text[: text.index(start)] + "\n".join(block) + text[text.index(end) + len(end):]
        else:
            heading = "Side by side with the peers" + (f" ({args.block})" if args.block != "peers" else "")
            text += f"\n## {heading} (`bench/peers.py`)\n\n" + "\n".join(block) + "\n"
        results_md.write_text(text, encoding="utf-8")
        print(f"written into {results_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
