"""manifest.json: what a signed report directory held, so that `hih report verify DIR` can tell if it changed.

It records the SHA-256 of every file in the directory (manifest.json itself aside), the version of hih, each
contract used (interface, version and one SHA-256 over its folder) and each connector (its module:factory spec
and the SHA-256 of its module file, or of its package's .py files).

The sign-off pack (signoff.html, signoff.pdf) prints the manifest's SHA-256, so it is written after the manifest
and is not listed in it: `signoff.sha256` seals it instead (the lines `sha256sum` prints, so `sha256sum -c
signoff.sha256` checks it too), and the manifest names those files under `signoff`. A run told to write no
signoff.pdf (`--no-signoff-pdf`, hih.toml `[report] signoff_pdf = false`) names signoff.html alone there, with
`"pdf": false`: a signoff.pdf found beside it is then an added file, and `hih report verify` says no PDF was asked.

A folder's SHA-256 is the SHA-256 of the lines `<sha256>  <path>\\n` of its files sorted by relative path, the
output of `find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum` run inside it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.report.json_text import indented

MANIFEST = "manifest.json"
FORMAT = "hih-manifest/1"
SEAL = "signoff.sha256"
SIGNOFF_FILES = ("signoff.html", "signoff.pdf")
WRITTEN_AFTER = frozenset({*SIGNOFF_FILES, SEAL})
"""Files written after manifest.json (the sign-off pack prints its SHA-256), sealed by signoff.sha256."""
_MANIFEST_META = re.compile(r'<meta name="hih-manifest-sha256" content="([0-9a-f]{64})">')


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(folder: Path, suffix: str | None = None) -> list[tuple[str, Path]]:
    """(relative POSIX path, path) of every regular file under `folder`, sorted bytewise like `LC_ALL=C sort`."""
    found = [(p.relative_to(folder).as_posix(), p) for p in folder.rglob("*")
             if p.is_file() and (suffix is None or p.suffix == suffix) and "__pycache__" not in p.parts]
    return sorted(found, key=lambda item: item[0].encode("utf-8"))


def sha256_folder(folder: Path, suffix: str | None = None) -> tuple[str, int]:
    """(SHA-256 over the folder's files as `sha256sum` lists them, number of files)."""
    files = _files(folder, suffix)
    listing = "".join(f"{sha256_file(path)}  {name}\n" for name, path in files)
    return hashlib.sha256(listing.encode("utf-8")).hexdigest(), len(files)


@functools.cache  # the installed version does not change while a process runs; a run reads it three times
def hih_version() -> str:
    """The installed hih's version ("unknown" when not installed). importlib.metadata (email, zipfile and
    importlib.resources behind it) is imported here, not with this module: it was the largest import of `hih run`
    before it tells its pytest process the command line; `hih run` reads the version beside its scenarios
    (harness.report.writer.preload)."""
    from importlib import metadata

    try:
        return metadata.version("hih")
    except metadata.PackageNotFoundError:
        return "unknown"


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is inside it, else absolute."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def connector_entry(interface: str, spec: str) -> dict[str, Any]:
    """The connector's spec and the SHA-256 of the code behind it (None when its module cannot be found)."""
    from harness.bindings import module_file

    entry: dict[str, Any] = {"interface": interface, "spec": spec, "module_file": None, "sha256": None}
    path = module_file(spec.partition(":")[0])
    if path is None:
        return entry
    if path.name == "__init__.py":  # a package: every .py file of it
        entry["sha256"], entry["files"] = sha256_folder(path.parent, ".py")
        entry["module_file"] = _shown(path.parent)
        entry["kind"] = "package"
    else:
        entry["sha256"] = sha256_file(path)
        entry["module_file"] = _shown(path)
    return entry


def contract_entry(interface: str, version: str, folder: Path | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"interface": interface, "version": version, "folder": None, "sha256": None}
    if folder is not None and folder.is_dir():
        entry["sha256"], entry["files"] = sha256_folder(folder)
        entry["folder"] = _shown(folder)
    return entry


def signoff_files(pdf: bool = True) -> tuple[str, ...]:
    """The files of the sign-off pack: signoff.html, and signoff.pdf when it was asked for."""
    return SIGNOFF_FILES if pdf else SIGNOFF_FILES[:1]


def build_manifest(report_dir: Path, summary: dict[str, Any], contract_folders: dict[str, Path | None],
                   signoff_pdf: bool = True) -> dict[str, Any]:
    """The manifest of `report_dir` as it is now (write it last); `signoff_pdf`: whether signoff.pdf was asked for."""
    interfaces = summary.get("interfaces") or {}
    return {
        "format": FORMAT,
        "written": datetime.now().astimezone().isoformat(timespec="seconds"),
        "decision": summary.get("decision"),
        "started": summary.get("started"),
        "finished": summary.get("finished"),
        "hih": hih_version(),
        "python": platform.python_version(),
        "contracts": [contract_entry(name, str(row.get("contract", "")), contract_folders.get(name))
                      for name, row in interfaces.items()],
        "connectors": [connector_entry(name, str(row.get("connector", ""))) for name, row in interfaces.items()],
        "files": {name: {"sha256": sha256_file(path), "bytes": path.stat().st_size}
                  for name, path in _files(report_dir) if name != MANIFEST and name not in WRITTEN_AFTER},
        "signoff": {"files": list(signoff_files(signoff_pdf)), "seal": SEAL, "pdf": signoff_pdf},
    }


def write_manifest(report_dir: Path, summary: dict[str, Any], contract_folders: dict[str, Path | None],
                   signoff_pdf: bool = True) -> Path:
    path = report_dir / MANIFEST
    document = build_manifest(report_dir, summary, contract_folders, signoff_pdf)
    tmp = path.with_name(MANIFEST + ".writing")
    tmp.write_text(indented(document) + "\n", encoding="utf-8")  # as json.dumps(..., indent=2) writes it
    tmp.replace(path)
    return path


def differences(report_dir: Path) -> tuple[list[str], int, str]:
    """(one line per changed, missing or added file; files listed in the manifest; the manifest's SHA-256)."""
    if not report_dir.is_dir():
        raise UsageError(f"{report_dir}: no such directory")
    path = report_dir / MANIFEST
    if not path.is_file():
        raise UsageError(f"{report_dir}: no {MANIFEST} (not a report directory written by hih run)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        listed = {str(name): str(entry["sha256"]) for name, entry in document["files"].items()}
        sealed = [str(name) for name in (document.get("signoff") or {}).get("files", [])]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path}: not a hih manifest ({type(exc).__name__}: {exc})") from None
    after = {*sealed, SEAL} if sealed else set()  # a sign-off file the manifest does not name is an added file
    present = {name: p for name, p in _files(report_dir) if name != MANIFEST and name not in after}
    lines = []
    for name in sorted(set(listed) | set(present), key=lambda n: n.encode("utf-8")):
        if name not in present:
            lines.append(f"missing: {name}")
        elif name not in listed:
            lines.append(f"added: {name}")
        elif sha256_file(present[name]) != listed[name]:
            lines.append(f"changed: {name}")
    digest = sha256_file(path)
    if sealed:
        lines += _seal_differences(report_dir, sealed, digest)
    return lines, len(listed) + sum((report_dir / n).is_file() for n in sealed), digest


def pdf_note(report_dir: Path) -> str:
    """What `hih report verify` says of a sign-off pack without signoff.pdf: not asked for, or asked for and not
    written (the run warned why); "" when the PDF is there or the directory has no sign-off pack."""
    if (report_dir / SIGNOFF_FILES[1]).is_file():
        return ""
    try:
        signoff = json.loads((report_dir / MANIFEST).read_text(encoding="utf-8")).get("signoff")
    except (OSError, ValueError, AttributeError):
        return ""
    if not isinstance(signoff, dict):
        return ""
    if signoff.get("pdf") is False:
        return ("no signoff.pdf: the run was told to write none (--no-signoff-pdf or hih.toml [report] signoff_pdf = "
                "false); signoff.html is the sign-off page")
    return "warning: no signoff.pdf: it was asked for and the run could not write it (its warning said why)"


def write_seal(report_dir: Path) -> Path:
    """signoff.sha256 over the sign-off files present (`sha256sum` format)."""
    path = report_dir / SEAL
    path.write_text("".join(f"{sha256_file(report_dir / name)}  {name}\n" for name in SIGNOFF_FILES
                            if (report_dir / name).is_file()), encoding="utf-8")
    return path


def _seal_differences(report_dir: Path, names: list[str], manifest_digest: str) -> list[str]:
    """The sign-off files against signoff.sha256, and signoff.html against the manifest it names."""
    seal = report_dir / SEAL
    recorded = {}
    if seal.is_file():
        for line in seal.read_text(encoding="utf-8", errors="replace").splitlines():
            digest, _, name = line.partition("  ")
            recorded[name.strip()] = digest.strip()
    lines = []
    for name in names:
        path = report_dir / name
        if name in recorded and not path.is_file():
            lines.append(f"missing: {name}")
        elif path.is_file() and name not in recorded:
            lines.append(f"added: {name} (not sealed by {SEAL})")
        elif path.is_file() and recorded[name] != sha256_file(path):
            lines.append(f"changed: {name}")
    html = report_dir / SIGNOFF_FILES[0]
    if html.is_file() and not lines:
        match = _MANIFEST_META.search(html.read_text(encoding="utf-8", errors="replace"))
        if match is None or match.group(1) != manifest_digest:
            lines.append(f"changed: {html.name} (names another manifest.json)")
    return lines


def verify(report_dir: Path, echo: Callable[[str], None]) -> int:
    """0 when every file matches the manifest; 1 with one line per difference. No manifest: UsageError (2)."""
    lines, count, digest = differences(report_dir)
    for line in lines:
        echo(line)
    if lines:
        return 1
    echo(f"verified {count} files (manifest.json sha256 {digest})")
    if (report_dir / SEAL).is_file():
        echo(f"sign-off pack sealed by {SEAL} (sha256 {sha256_file(report_dir / SEAL)})")
    note = pdf_note(report_dir)
    if note:
        echo(note)
    return 0
