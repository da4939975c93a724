"""A hospital process for the outbox crash test: uploads DELIVERY records through the reference connector.

`python -m tests.connectors.mch_outbox_child WSDL OUTBOX CONTRACT MODE COUNT [STOP_AT]`
MODE `single` uploads records one by one, `batch` as one batch; at reply number STOP_AT it prints `REPLIED` and
waits to be killed (the platform has answered, the outbox has not recorded it). MODE `resume` settles the outbox and
uploads the records it has never queued. Prints `DONE n` with the number of accepted records at the end.
"""

from __future__ import annotations

import sys
import time

from connectors.mch_platform import MchPlatformConnector
from features.steps.mch_samples import sample
from harness.ports.mch_platform import MchSettings
from mocks.mch_platform import TEST_ORG_CODE, TEST_PASSWORD


def main(argv: list[str]) -> int:
    wsdl, outbox, contract, mode, count = argv[:5]
    stop_at = int(argv[5]) if len(argv) > 5 else 0
    connector = MchPlatformConnector(MchSettings(wsdl, TEST_ORG_CODE, TEST_PASSWORD, outbox, timeout_s=5.0,
                                                 contract_folder=contract))
    replies = 0

    def after_reply(serials: list[str]) -> None:
        nonlocal replies
        replies += 1
        if replies == stop_at:
            print("REPLIED", flush=True)
            time.sleep(60)

    connector.after_reply = after_reply
    records = [sample("DELIVERY", f"CR{i:04d}") for i in range(1, int(count) + 1)]
    results = []
    if mode == "resume":
        results.extend(connector.flush())
        known = {row.record_no for row in connector.outbox.rows()}
        results.extend(connector.upload(r) for r in records if r.record_no not in known)
    elif mode == "batch":
        results.extend(connector.upload_batch(records))
    else:
        results.extend(connector.upload(r) for r in records)
    print("DONE", sum(r.accepted for r in results), flush=True)
    connector.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
