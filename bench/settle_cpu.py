"""CPU per 2207 settlement of the insurance mock's ASGI app in-process (no socket, no HTTP server): the transport,
the signature check, the contract checks both ways, the ledger and the journal.

```sh
.venv/bin/python bench/settle_cpu.py                          # best of 5 rounds of 2,000 settlements
.venv/bin/python bench/settle_cpu.py --profile /tmp/settle.prof   # cProfile of one round
PYTHONPATH=/tmp/base .venv/bin/python bench/settle_cpu.py     # another commit (`git archive COMMIT | tar -x -C /tmp/base`)
```
Each round starts a fresh mock, signs in, registers a visit and uploads its fees per settlement (not timed), then
times the settlements alone, in microseconds of process CPU per settlement. Every reply is checked (infcode 0).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parents[1]))  # appended: PYTHONPATH picks the code under test

import harness  # noqa: E402
from harness.contract.loader import ContractStore  # noqa: E402
from harness.contract.signing import tif_headers  # noqa: E402
from mocks.insurance import TEST_PAASID, TEST_SECRET, InsuranceMock  # noqa: E402
from tests.conftest import envelope  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from transport_cpu import call as asgi_call  # noqa: E402

BASE = "/fsi/api"


async def call(app: Any, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    sent = await asgi_call(app, path, json.dumps(body, ensure_ascii=False).encode(), headers)
    reply: dict[str, Any] = json.loads(sent[1]["body"])
    if reply["infcode"] != 0:
        raise SystemExit(f"{body['infno']}: {reply['err_msg']}")
    return reply


async def round_us(count: int, profile: str | None, shared: bool = False) -> float:
    if not shared:
        return await _round_us(count, profile, None)
    # the store a `hih mock serve --workers` worker has: its own log, and the nonces in it (one worker here); its
    # folder goes when the round ends, however it ends
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hih-settle-") as scratch:
        return await _round_us(count, profile, Path(scratch) / "state.sqlite")


async def _round_us(count: int, profile: str | None, state: Path | None) -> float:
    contract = ContractStore().load("insurance")
    store = None
    if state is not None:
        from mocks.insurance_store import InsuranceLogStore

        store = InsuranceLogStore(state, durable=False)
    mock = InsuranceMock(contract, store)
    if state is not None:
        mock.share(0, 1, state)
    app = mock.asgi_app()
    paths = {key: f"{BASE}/{op.path}" for key, op in contract.operations.items()}
    extra = {"content-type": "application/json;charset=utf-8", "host": "127.0.0.1:8080", "user-agent": "bench"}

    def headers() -> dict[str, str]:
        return {**tif_headers(contract.signing, TEST_PAASID, TEST_SECRET), **extra}

    signed = await call(app, paths["9001"], envelope("9001", {"signIn": {"opter_no": "1", "ip": "1"}}), headers())
    sign_no = signed["output"]["signinoutb"]["sign_no"]
    person = mock.person("employee")
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    settles = []
    for n in range(count):
        reg = await call(app, paths["2201"], envelope("2201", {"data": {
            "psn_no": person.psn_no, "insutype": person.insutype, "begntime": now, "mdtrt_cert_type": "02",
            "mdtrt_cert_no": person.certno, "ipt_otp_no": f"B{time.time_ns()}{n}", "atddr_no": "D001",
            "dr_name": "李医生", "dept_code": "A03", "dept_name": "内科", "caty": "A03"}}, sign_no=sign_no,
            insuplc_admdvs=person.insuplc_admdvs), headers())
        mdtrt_id = reg["output"]["data"]["mdtrt_id"]
        fees = [{"feedetl_sn": str(k), "mdtrt_id": mdtrt_id, "psn_no": person.psn_no, "chrg_bchno": "CB1",
                 "rx_circ_flag": "0", "fee_ocur_time": now, "med_list_codg": codg, "medins_list_codg": "L1",
                 "det_item_fee_sumamt": round(cnt * pric, 2), "cnt": cnt, "pric": pric, "bilg_dept_codg": "A03",
                 "bilg_dept_name": "内科", "bilg_dr_codg": "D001", "bilg_dr_name": "李医生", "hosp_appr_flag": "1"}
                for k, (codg, cnt, pric) in enumerate((("001102000010000", 1.0, 20.0), ("250101015000000", 1.0, 25.0),
                                                       ("XA10BAA002A001010100397", 3.0, 12.35)), 1)]
        await call(app, paths["2204"], envelope("2204", {"feedetail": fees}, sign_no=sign_no,
                                                insuplc_admdvs=person.insuplc_admdvs), headers())
        settles.append(envelope("2207", {"data": {
            "psn_no": person.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": person.certno, "med_type": "11",
            "medfee_sumamt": 82.05, "psn_setlway": "01", "mdtrt_id": mdtrt_id, "chrg_bchno": "CB1",
            "acct_used_flag": "1", "insutype": person.insutype, "pub_hosp_rfom_flag": "1"}}, sign_no=sign_no,
            insuplc_admdvs=person.insuplc_admdvs))
    signed_headers = [headers() for _ in settles]
    profiler = cProfile.Profile() if profile else None
    started = time.process_time()
    if profiler:
        profiler.enable()
    for body, head in zip(settles, signed_headers, strict=True):
        await call(app, paths["2207"], body, head)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    return (time.process_time() - started) / count * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settlements", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", help="write a cProfile of one round here")
    parser.add_argument("--shared", action="store_true", help="the store each --workers process has (its own log, one worker here)")
    args = parser.parse_args()
    if args.profile:
        print(f"{asyncio.run(round_us(args.settlements, args.profile, args.shared)):.1f} us (profiled)")
        return 0
    best = min(asyncio.run(round_us(args.settlements, None, args.shared)) for _ in range(args.rounds))
    print(f"{best:.1f} us CPU per settlement, including the client's JSON in this process "
          f"({Path(harness.__file__).parent.parent})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
