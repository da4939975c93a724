"""The project configuration file: `hih.toml` in the directory hih runs from (or the file `$HIH_CONFIG` names).

Every setting has a built-in default, so the file is optional. It holds up to six tables. `[masking]`:

    [masking]
    defaults = true                       # keep the built-in rules and add these (false: only these)
    json = ["**/opter_name", "/input/data/ipt_otp_no"]   # JSON pointer patterns
    xml = ["//MotherName", "//Patient/@id"]              # element paths by local name
    hl7 = ["PID-3.1", "NK1-2"]                            # HL7 v2 paths: segment-field[.component[.sub]]
    text = ['(?<!\\d)\\d{10}(?!\\d)']                     # regular expressions for free text
    exclude = ["**/name"]                                 # built-in rules to drop

and `[signoff]`, what the sign-off pack names besides the run's results:

    [signoff]
    hospital = "示例市第一人民医院"          # printed at the top of signoff.html / signoff.pdf
    vendor = "示例软件有限公司"               # the connector vendor who signs with the hospital
    information_department = "信息科"        # the default
    departments = { lis = "检验科", pacs = "放射科" }   # the clinical department owning each interface

`[insurance.regions]`: the transaction variants each insurance region's platform uses (`harness.insurance_regions`).

`[run]`, the defaults of `hih run` (its flags win), and `[contracts]`, a version pinned per interface (used
instead of the newest version in force; `--contract` wins):

    [run]
    workers = "auto"                      # or a number
    scenario_timeout = 60                 # seconds per scenario
    timeout = 1500                        # seconds for the whole run (absent: no limit)

    [contracts]
    insurance = "2023.1"

`[report]`, what `hih run` writes besides the reports every run has (`--no-signoff-pdf` wins):

    [report]
    signoff_pdf = true                    # false: signoff.html only, no signoff.pdf (shard jobs, local runs)

A problem in the file is a UsageError naming the file and the key, so `hih` stops with exit code 2.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config_tables import checked_table
from harness.errors import UsageError
from harness.insurance_regions import InsuranceConfig, parse_insurance

CONFIG_FILE = "hih.toml"
CONFIG_ENV = "HIH_CONFIG"
HL7_PATH = re.compile(r"^[A-Z][A-Z0-9]{2}-\d{1,3}(?:\.\d{1,3}(?:\.\d{1,3})?)?$")


@dataclass(frozen=True)
class MaskingConfig:
    """Which fields are patient identifiers, per transport, on top of (or instead of) the built-in rules."""

    defaults: bool = True
    json: tuple[str, ...] = ()
    xml: tuple[str, ...] = ()
    hl7: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignoffConfig:
    """Who the sign-off pack names: the hospital, the vendor, the departments that sign."""

    hospital: str = ""
    vendor: str = ""
    information_department: str = "信息科"
    departments: dict[str, str] = field(default_factory=dict)
    """Interface name -> the clinical department owning it (the pack has a default for each known interface)."""


@dataclass(frozen=True)
class RunConfig:
    """Defaults of `hih run` from `[run]`; None where the file says nothing."""

    workers: int | None = None
    """None: choose from the machine and the run (`auto`)."""
    scenario_timeout_s: float | None = None
    timeout_s: float | None = None


@dataclass(frozen=True)
class ReportConfig:
    """Defaults of the reports `hih run` writes, from `[report]`."""

    signoff_pdf: bool = True
    """False: the sign-off pack is signoff.html alone (WeasyPrint is not even imported)."""


@dataclass(frozen=True)
class ProjectConfig:
    """The settings of one project; `path` is the file they came from (None: built-in defaults only)."""

    path: Path | None = None
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    signoff: SignoffConfig = field(default_factory=SignoffConfig)
    insurance: InsuranceConfig = field(default_factory=InsuranceConfig)
    run: RunConfig = field(default_factory=RunConfig)
    contracts: dict[str, str] = field(default_factory=dict)
    """Interface -> pinned contract version, from `[contracts]`."""
    report: ReportConfig = field(default_factory=ReportConfig)


def config_path(cwd: Path | None = None) -> Path | None:
    """The configuration file in force: `$HIH_CONFIG` when set (it must exist), else `hih.toml` in `cwd` if any."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise UsageError(f"{CONFIG_ENV}={named}: no such file")
        return path
    candidate = (cwd or Path.cwd()) / CONFIG_FILE
    return candidate if candidate.is_file() else None


def load_config(path: Path | None = None, cwd: Path | None = None) -> ProjectConfig:
    """Read and check the project configuration (`path`, else the one `config_path` finds, else defaults)."""
    path = path or config_path(cwd)
    if path is None:
        return ProjectConfig()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(document) - {"contracts", "insurance", "masking", "report", "run", "signoff"})
    if unknown:
        raise UsageError(f"{path}: unknown table or key {unknown[0]!r} "
                         "(known: contracts, insurance, masking, report, run, signoff)")
    return ProjectConfig(path=path, masking=_masking(path, document.get("masking", {})),
                         signoff=_signoff(path, document.get("signoff", {})),
                         insurance=parse_insurance(path, document.get("insurance", {})),
                         run=_run(path, document.get("run", {})), contracts=_pins(path, document.get("contracts", {})),
                         report=_report(path, document.get("report", {})))


def _signoff(path: Path, table: Any) -> SignoffConfig:
    table = checked_table(path, "signoff", table, {"hospital", "vendor", "information_department", "departments"})
    texts = {}
    for key in ("hospital", "vendor", "information_department"):
        value = table.get(key, getattr(SignoffConfig, key))
        if not isinstance(value, str):
            raise UsageError(f"{path}: [signoff] {key} must be a string")
        texts[key] = value.strip()
    departments = table.get("departments", {})
    if not isinstance(departments, dict) or not all(isinstance(v, str) and v.strip() for v in departments.values()):
        raise UsageError(f"{path}: [signoff] departments must be a table of interface = \"department\"")
    return SignoffConfig(**texts, departments={str(k): v.strip() for k, v in departments.items()})


def _run(path: Path, table: Any) -> RunConfig:
    table = checked_table(path, "run", table, {"workers", "scenario_timeout", "timeout"})
    workers = table.get("workers", "auto")
    if workers != "auto" and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UsageError(f"{path}: [run] workers must be \"auto\" or a number of at least 1, not {workers!r}")
    seconds = {}
    for key in ("scenario_timeout", "timeout"):
        value = table.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
            raise UsageError(f"{path}: [run] {key} must be a number of seconds above 0, not {value!r}")
        seconds[key] = None if value is None else float(value)
    return RunConfig(workers=None if workers == "auto" else workers, scenario_timeout_s=seconds["scenario_timeout"],
                     timeout_s=seconds["timeout"])


def _report(path: Path, table: Any) -> ReportConfig:
    table = checked_table(path, "report", table, {"signoff_pdf"})
    value = table.get("signoff_pdf", True)
    if not isinstance(value, bool):
        raise UsageError(f"{path}: [report] signoff_pdf must be true or false, not {value!r}")
    return ReportConfig(signoff_pdf=value)


def _pins(path: Path, table: Any) -> dict[str, str]:
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [contracts] must be a table of interface = \"VERSION\"")
    for name, version in table.items():
        if not isinstance(version, str) or not version.strip():
            raise UsageError(f"{path}: [contracts] {name} must be a version string such as \"2024.1\", not {version!r}")
    return {name: version.strip() for name, version in table.items()}


def _masking(path: Path, table: Any) -> MaskingConfig:
    table = checked_table(path, "masking", table, {"defaults", "json", "xml", "hl7", "text", "exclude"})
    defaults = table.get("defaults", True)
    if not isinstance(defaults, bool):
        raise UsageError(f"{path}: [masking] defaults must be true or false")
    lists = {key: _strings(path, key, table.get(key, [])) for key in ("json", "xml", "hl7", "text", "exclude")}
    for pattern in lists["hl7"]:
        if not HL7_PATH.match(pattern):
            raise UsageError(f"{path}: [masking] hl7 {pattern!r}: expected SEG-FIELD[.COMPONENT[.SUBCOMPONENT]], e.g. PID-3.1")
    for pattern in lists["text"]:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UsageError(f"{path}: [masking] text {pattern!r}: not a regular expression ({exc})") from None
    for key in ("json", "xml"):
        for pattern in lists[key]:
            if not pattern.strip("/"):
                raise UsageError(f"{path}: [masking] {key} {pattern!r}: names no field")
    return MaskingConfig(defaults=defaults, **lists)


def _strings(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise UsageError(f"{path}: [masking] {key} must be a list of non-empty strings")
    return tuple(v.strip() for v in value)
