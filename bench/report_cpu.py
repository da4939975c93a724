"""CPU time of the report work of `hih run`, piece by piece, from a report directory a run wrote: masking its
evidence (what the hih plugin does after each scenario), writing evidence.json, rendering report.html, and making
signoff.pdf (what follows the last scenario). CPU time rather than wall time, so that a shared machine skews it
less; compare two versions of the code with the same venv and the same report directory:

```sh
.venv/bin/hih run --interface insurance --report-dir /tmp/insurance-run
.venv/bin/python bench/report_cpu.py /tmp/insurance-run --repeats 7
PYTHONPATH=<a checkout of the other version> .venv/bin/python bench/report_cpu.py /tmp/insurance-run --repeats 7
```
The evidence in a report directory is masked already; masking it again runs the same patterns over texts of the
same shape and length (a few identifiers less to learn). Prints the median and the minimum of each piece in ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cpu_ms(work: Callable[[], Any]) -> float:
    started = time.process_time()
    work()
    return (time.process_time() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report_dir", type=Path, help="a report directory `hih run` wrote")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from harness.config import load_config
    from harness.report import html, pdf, signoff
    from harness.report.manifest import hih_version
    from harness.report.masking import Masker
    from harness.report.writer import _contracts, preload
    from harness.run.results import write_json

    summary = json.loads((args.report_dir / "summary.json").read_text(encoding="utf-8"))
    evidence: dict[str, list[dict[str, Any]]] = json.loads((args.report_dir / "evidence.json").read_text(encoding="utf-8"))
    signoff_html = (args.report_dir / "signoff.html").read_text(encoding="utf-8")
    config = load_config()
    contracts = _contracts(summary)
    preload()  # as `hih run` does while its scenarios run
    print_css = signoff.HERE / "templates" / "signoff-print.css"
    css = print_css.read_text(encoding="utf-8") if print_css.is_file() else None
    entries = [entry for scenario in evidence.values() for entry in scenario]
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)

        def mask() -> None:
            masker = Masker.from_config(config.masking)
            for entry in entries:
                masker.exchange(entry)

        def render() -> None:
            html.render_html(summary, evidence, Masker.from_config(config.masking), contracts, hih_version(), True)

        def render_prepared() -> None:  # `hih run` lays out each scenario's messages as its result arrives
            for scenario in evidence.values():
                html.prepare_exchanges(scenario)
            render()

        def make_pdf() -> None:
            if css is None:  # a version of hih before the PDF's own stylesheet
                pdf.render_pdf(signoff_html, out / "signoff.pdf")
            else:
                pdf.render_pdf(signoff_html, out / "signoff.pdf", css)

        pieces: dict[str, Callable[[], None]] = {
            f"mask the evidence ({len(entries)} exchanges)": mask,
            "write evidence.json": lambda: write_json(out / "evidence.json", evidence),
            "render report.html": render,
            **({"render report.html, messages prepared": render_prepared}
               if hasattr(html, "prepare_exchanges") else {}),
            "make signoff.pdf": make_pdf,
        }
        for name, work in pieces.items():
            work()  # once unmeasured: caches and lazy imports
            times = [cpu_ms(work) for _ in range(args.repeats)]
            print(f"{name:38s} CPU median {statistics.median(times):7.1f} ms, min {min(times):7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
