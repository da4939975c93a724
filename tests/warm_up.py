"""What a fresh clone's first `./scripts/test` would otherwise work out in many processes at once, done once, in one
process beside the collection warm-up and mypy (scripts/test runs it when it runs that warm-up):

- the parse cache (harness.contract.parse_cache, `$HIH_CACHE_DIR`, else `~/.cache/hih/yaml`): every contract of the
  project loaded, which parses and keeps each of its YAML files and remembers its checks that passed
  (harness.contract.verdicts), and every feature file's Gherkin parsed and kept
  (harness.feature_cache). The cache is keyed by the parser's installed file, so a fresh clone's own `.venv` (and a
  CI runner's empty home) starts with none: the parallel pass's first `hih run`s all start at once and each parses
  the same files (≈ 2 s of CPU for the contracts alone, once);
- the HL7 standard's modules (hl7apy's `v2_4`, `v2_5_1`, ...: ≈ 0.8 MB of source per version) of the versions the
  HL7 contracts accept, which the HL7 mocks and connectors import and collecting the tests does not: uv installs
  `.venv` without bytecode, so each of the first runs' processes compiled them (≈ 1.5 s of CPU over 13 processes
  in a first run, counted per compiled file);
- Hypothesis's Unicode tables (the characters of each category, and those UTF-8 can encode: ≈ 2 s of CPU), which
  every process that draws text works out until one has written them into `.hypothesis/unicode_data/` of its
  working directory: the parallel pass's workers all start at once, and most of them draw text early.

Nothing here is checked: a contract or feature file that does not load is the tests' to report, so each is passed
by and counted.

    .venv/bin/python -m tests.warm_up
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEATURE_ROOTS = (ROOT / "features", ROOT / "tests")
"""Where the feature files of the runs the suite starts live: the specs, and the tests' own data."""


@dataclass
class WarmedUp:
    """What one warm-up did."""

    contracts: int = 0
    features: int = 0
    hl7_versions: tuple[str, ...] = ()
    unicode_tables: bool = False
    """Whether Hypothesis's Unicode tables are written where the tests, run from the same directory, read them."""
    refused: int = 0
    """Contracts and feature files that did not load or parse (the tests report them)."""


def unicode_tables() -> bool:
    """Work out Hypothesis's Unicode tables as the tests' text strategies ask for them (UTF-8 text, e.g.
    tests/mocks/hostile.py and hypothesis-jsonschema), which writes them under the working directory's
    `.hypothesis/`; whether they are there."""
    from hypothesis import strategies as st
    from hypothesis.internal.charmap import charmap_file

    st.characters(codec="utf-8").validate()  # builds the strategy: the category table and the codec's characters
    categories = charmap_file()  # .hypothesis/unicode_data/<Unicode version>/charmap.json.gz
    return categories.is_file() and any(categories.parent.glob("codec-*utf-8*"))


def warm_up(contracts: Path, feature_roots: tuple[Path, ...] = FEATURE_ROOTS) -> WarmedUp:
    """Load every contract under `contracts` and parse every feature file under `feature_roots` through the parse
    cache, import the HL7 standard's modules of the versions the HL7 contracts accept, and write Hypothesis's
    Unicode tables."""
    from harness import feature_cache
    from harness.contract.hl7 import contract as hl7_contract
    from harness.contract.hl7 import standard
    from harness.contract.loader import find_contract_folders, load_contract

    done = WarmedUp()
    done.unicode_tables = unicode_tables()  # first: the parallel pass's workers each draw text within seconds
    versions: set[str] = set()
    folders, _ = find_contract_folders(contracts)
    for folder in folders:
        try:
            loaded = load_contract(folder)
            if loaded.transport == hl7_contract.TRANSPORT:
                versions.update(hl7_contract.settings(loaded).versions)
        except Exception:  # noqa: BLE001 - a contract that does not load is the tests' to report
            done.refused += 1
            continue
        done.contracts += 1
    for version in sorted(versions):
        standard.segments(version)  # imports hl7apy's module of that version, writing its bytecode
    done.hl7_versions = tuple(sorted(versions))
    for root in feature_roots:
        for path in sorted(root.rglob("*.feature")):
            try:
                parsed = feature_cache.gherkin_data(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                parsed = None
            if parsed is None:
                done.refused += 1
            else:
                done.features += 1
    return done


def main() -> int:
    done = warm_up(ROOT / "contracts")
    print(f"warm-up: {done.contracts} contracts, {done.features} feature files, HL7 "
          f"{', '.join(done.hl7_versions) or 'none'}, Unicode tables {'written' if done.unicode_tables else 'not written'}; "
          f"{done.refused} left to the tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
