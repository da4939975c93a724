"""Memory of the insurance mock over a long settlement run: is it flat once the journal and the tables are full?

Spawns `hih mock serve --interface insurance` (with `--max-rows`, `--journal-mib` and `--workers` as given), then
keeps C connections each looping one patient after another (2201 register, 2204 fees, 2207 settle; every reply
checked), at most `--rate` settlements a second in total, for `--duration` seconds. The server's resident memory
(summed over its processes) is read every `--every` seconds.

```sh
.venv/bin/python bench/state_soak.py --duration 600 --rate 2000 --json bench/results/soak_state.json
.venv/bin/python bench/state_soak.py --duration 120 --max-rows 5000 --journal-mib 8      # a quick look
```
Prints settlements/s and RSS over time; the verdict compares the RSS after the warm-up (`--settle-s`) with the end:
flat when within 10 %. Exit 1 on any failed reply. The warm-up must outlast what fills with time, not with rows:
the TIF nonce window keeps every request's nonce for the contract's 300 s signature skew, so it grows for the
first 300 s whatever the rate (≈ 100 bytes a request: 180 MB at 6,000 requests/s). The default warm-up, 360 s,
is past it; by then the tables (`--max-rows` finished rows each; 2201, 2204 and 2207 each add one) and the
journal (`--journal-mib`) are full at any rate above ≈ 150 settlements/s with the default 50,000 rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import uvloop
from insurance_load import FEES, HttpConn, SpawnedMock, _parse  # bench/ is the script directory

from harness.contract.loader import ContractStore
from mocks.insurance import TEST_PAASID, TEST_SECRET
from mocks.population import generate


def rss_mib(pid: int) -> float:
    """Resident memory of `pid` and its children (the workers), MiB."""
    total = 0
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


async def soak(args: argparse.Namespace, mock: SpawnedMock) -> dict[str, Any]:
    from insurance_load import Envelopes

    contract = ContractStore().load("insurance")
    env = Envelopes(contract, "127.0.0.1", mock.port, TEST_PAASID, TEST_SECRET)
    conn = await HttpConn("127.0.0.1", mock.port).open()
    reply = _parse(*await conn.exchange(env.build("9001", {"signIn": {"opter_no": "1", "ip": "127.0.0.1"}}).raw))[0]
    conn.close()
    assert reply is not None and reply["infcode"] == 0, reply
    env.sign_no = reply["output"]["signinoutb"]["sign_no"]
    people = [p for p in generate() if p.psn_insu_stas == "1"]
    done = {"settled": 0, "errors": 0}
    first_errors: list[str] = []
    stop_at = time.monotonic() + args.duration
    interval = args.conns / args.rate if args.rate else 0.0

    async def call(conn: HttpConn, infno: str, data: dict[str, Any], insuplc: str) -> dict[str, Any] | None:
        status, body = await conn.exchange(env.build(infno, data, insuplc).raw)
        parsed, problem = _parse(status, body)
        if parsed is None or parsed["infcode"] != 0:
            done["errors"] += 1
            if len(first_errors) < 5:
                first_errors.append(f"{infno}: {problem or parsed and parsed.get('err_msg')}")
            return None
        return parsed

    async def patient_loop(index: int) -> None:
        conn = await HttpConn("127.0.0.1", mock.port).open()
        n = index
        next_at = time.monotonic()
        try:
            while time.monotonic() < stop_at:
                if interval:
                    next_at += interval
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                person = people[n % len(people)]
                now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
                reg = await call(conn, "2201", {"data": {
                    "psn_no": person.psn_no, "insutype": person.insutype, "begntime": now, "mdtrt_cert_type": "02",
                    "mdtrt_cert_no": person.certno, "ipt_otp_no": f"S{env.run_id}{n:09d}", "atddr_no": "D001",
                    "dr_name": "李医生", "dept_code": "A03", "dept_name": "内科", "caty": "A03"}}, person.insuplc_admdvs)
                n += args.conns
                if reg is None:
                    continue
                mdtrt_id = reg["output"]["data"]["mdtrt_id"]
                lines = [{"feedetl_sn": f"{k}", "mdtrt_id": mdtrt_id, "psn_no": person.psn_no, "chrg_bchno": "CB1",
                          "rx_circ_flag": "0", "fee_ocur_time": now, "med_list_codg": codg, "medins_list_codg": local,
                          "det_item_fee_sumamt": round(cnt * pric, 2), "cnt": cnt, "pric": pric, "bilg_dept_codg": "A03",
                          "bilg_dept_name": "内科", "bilg_dr_codg": "D001", "bilg_dr_name": "李医生", "hosp_appr_flag": "1"}
                         for k, (codg, local, cnt, pric) in enumerate(FEES, 1)]
                if await call(conn, "2204", {"feedetail": lines}, person.insuplc_admdvs) is None:
                    continue
                settled = await call(conn, "2207", {"data": {
                    "psn_no": person.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": person.certno, "med_type": "11",
                    "medfee_sumamt": 70.0, "psn_setlway": "01", "mdtrt_id": mdtrt_id, "chrg_bchno": "CB1",
                    "acct_used_flag": "0", "insutype": person.insutype, "pub_hosp_rfom_flag": "1"}}, person.insuplc_admdvs)
                if settled is not None:
                    done["settled"] += 1
        finally:
            conn.close()

    samples: list[dict[str, float]] = []

    async def sampler() -> None:
        started = time.monotonic()
        last = 0
        while time.monotonic() < stop_at:
            await asyncio.sleep(args.every)
            t = time.monotonic() - started
            rate = (done["settled"] - last) / args.every
            last = done["settled"]
            samples.append({"t_s": round(t, 1), "rss_mib": round(rss_mib(mock.pid), 1), "settled": done["settled"],
                            "settled_per_s": round(rate, 1)})
            print(f"t={t:6.0f} s  settled {done['settled']:>9,}  {rate:8,.0f}/s  rss {samples[-1]['rss_mib']:7.1f} MiB  "
                  f"errors {done['errors']}", flush=True)

    base = rss_mib(mock.pid)
    await asyncio.gather(sampler(), *(patient_loop(i) for i in range(args.conns)))
    after = [s["rss_mib"] for s in samples if s["t_s"] >= args.settle_s]
    flat = bool(after) and max(after) <= 1.10 * after[0]
    return {"rss_start_mib": round(base, 1), "samples": samples, "settled": done["settled"], "errors": done["errors"],
            "first_errors": first_errors, "rss_after_warmup_mib": after[0] if after else None,
            "rss_peak_after_warmup_mib": max(after) if after else None, "flat_within_10pct": flat,
            "load_average": os.getloadavg()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--rate", type=float, default=2000, help="settlements a second at most (0: as fast as it goes)")
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--every", type=float, default=10)
    ap.add_argument("--settle-s", type=float, default=360,
                    help="seconds after which the RSS must stay flat (past the 300 s nonce window)")
    ap.add_argument("--max-rows", type=int, default=50_000)
    ap.add_argument("--journal-mib", type=int, default=64)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args()
    mock = SpawnedMock([f"--max-rows={args.max_rows}", f"--journal-mib={args.journal_mib}", f"--workers={args.workers}"])
    try:
        result = uvloop.run(soak(args, mock))
    finally:
        mock.stop()
    result["args"] = vars(args)
    print(f"RSS start {result['rss_start_mib']} MiB, after warm-up {result['rss_after_warmup_mib']} MiB, peak after "
          f"warm-up {result['rss_peak_after_warmup_mib']} MiB: "
          f"{'flat (within 10 %)' if result['flat_within_10pct'] else 'GROWING (more than 10 %)'}; "
          f"{result['settled']:,} settlements, {result['errors']} errors")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
