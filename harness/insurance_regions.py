"""The `[insurance.regions]` table of hih.toml: which transaction variants a region's insurance platform uses.

The national specification lets a provincial platform use another form of some transactions (2203A, 2206A, 2207A
beside 2203, 2206, 2207; the contract marks them `variant_of`). A hospital names the forms its region uses, keyed
by the medical-insurance region code (就医地医保区划, `mdtrtarea_admvs`) or a prefix of it (`51` for a whole
province), `*` for any other region:

    [insurance.regions]
    "51" = ["2203A", "2206A", "2207A"]      # the Sichuan provincial platform
    "330100" = []                            # this city: the plain forms
    "*" = []

The longest matching key wins. The reference connector sends the variants named for its region; the specs run
unchanged, a step about 2207 meaning whichever form the region uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config_tables import checked_table
from harness.errors import UsageError

if TYPE_CHECKING:
    from harness.contract.model import Contract

REGION = re.compile(r"^(\d{2}|\d{4}|\d{6}|\*)$")
VARIANT = re.compile(r"^[0-9A-Z]{4}[A-Z]$")


@dataclass(frozen=True)
class InsuranceConfig:
    """`[insurance]` of hih.toml."""

    regions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Region code (2, 4 or 6 digits) or `*` -> the variant transactions its platform uses."""

    def variants_for(self, admdvs: str) -> tuple[str, ...]:
        """The variants named for region `admdvs` (its longest matching key, else `*`, else none)."""
        for length in (6, 4, 2):
            key = admdvs[:length]
            if len(key) == length and key in self.regions:
                return self.regions[key]
        return self.regions.get("*", ())


def parse_insurance(path: Path, table: Any) -> InsuranceConfig:
    """Check `[insurance]`; a UsageError naming the file and the key for anything wrong."""
    table = checked_table(path, "insurance", table, {"regions"})
    regions = table.get("regions", {})
    if not isinstance(regions, dict):
        raise UsageError(f"{path}: [insurance.regions] must be a table of region = [transactions]")
    out: dict[str, tuple[str, ...]] = {}
    for region, names in regions.items():
        if not REGION.match(region):
            raise UsageError(f"{path}: [insurance.regions] {region!r}: a region is a 2-, 4- or 6-digit "
                             "医保区划 code (or a prefix of one), or \"*\"")
        if not isinstance(names, list) or not all(isinstance(n, str) and VARIANT.match(n) for n in names):
            raise UsageError(f"{path}: [insurance.regions] {region}: a list of variant transactions such as "
                             f"[\"2203A\", \"2206A\", \"2207A\"], not {names!r}")
        out[region] = tuple(names)
    return InsuranceConfig(out)


def region_variants(contract: Contract, admdvs: str) -> tuple[str, ...]:
    """The variant transactions hih.toml names for region `admdvs`, each checked to be a variant in `contract`."""
    from harness.config import load_config

    names = load_config().insurance.variants_for(admdvs)
    offered = sorted(k for k, op in contract.operations.items() if op.extra.get("variant_of"))
    for name in names:
        if name not in offered:
            raise UsageError(f"hih.toml insurance.regions names {name} for region {admdvs}, but contract "
                             f"{contract.ref} has no such variant (its variants: {', '.join(offered) or 'none'})")
    return tuple(names)


MOCK_ADMDVS = "330100"
"""The region of the insurance mock's platform in a `hih run` (InsuranceMock's default `admdvs`; mocks may not import
this module, so the value is written twice)."""


def check_run_contract(contract: Contract) -> None:
    """Before a run: the variants hih.toml names for the mock's region exist in `contract` (a UsageError otherwise)."""
    region_variants(contract, MOCK_ADMDVS)
