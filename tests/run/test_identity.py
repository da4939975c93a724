"""The connector's identity: the code behind `module:factory` (SHA-256 of its module files), a version it reports,
`HIH_CONNECTOR_VERSION` for black-box runs, or the hospital's listener."""

from __future__ import annotations

import importlib
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.bindings import load_factory
from harness.errors import UsageError
from harness.run import identity
from harness.run.identity import ENV, ConnectorIdentity, env_versions, identify, module_files
from tests.conftest import ROOT


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A hospital's adapter package on sys.path: adapter.py imports client.py (relatively) and nothing else of it."""
    folder = tmp_path / "hisadapt"
    folder.mkdir()
    (folder / "__init__.py").write_text("", encoding="utf-8")
    (folder / "client.py").write_text("TIMEOUT = 5\n", encoding="utf-8")
    (folder / "unrelated.py").write_text("X = 1\n", encoding="utf-8")
    (folder / "adapter.py").write_text(textwrap.dedent("""
        from . import client
        from harness.ports.insurance import InsuranceSettings


        def make(settings: InsuranceSettings) -> object:
            return client
    """), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(ENV, raising=False)
    forget_package()
    yield folder
    forget_package()


def forget_package() -> None:
    """Each test imports its own copy of the package: none may find another test's copy in sys.modules."""
    for name in [n for n in sys.modules if n == "hisadapt" or n.startswith("hisadapt.")]:
        del sys.modules[name]


def identity_of(spec: str, interface: str = "insurance") -> ConnectorIdentity:
    importlib.invalidate_caches()
    return identify(interface, spec, load_factory(spec))


def test_the_reference_connector_is_named_reference_and_hashed_with_what_it_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    found = identify("lis", "connectors.lis:reference", load_factory("connectors.lis:reference"))
    assert (found.name, found.label, found.kind) == ("connectors.lis:reference", "reference", "files-sha256")
    assert len(found.value) == 64 and found.git_commit is not None and len(found.git_commit) == 40
    files = module_files("connectors.lis", ROOT / "connectors" / "lis.py")
    assert set(files) == {"connectors.lis", "connectors.hl7_build", "connectors.hl7_common", "connectors.sequence",
                          "connectors.sqlite_wal"}, "not the other connectors"


def test_the_hash_follows_the_connectors_own_files_only(package: Path) -> None:
    first = identity_of("hisadapt.adapter:make")
    assert first.kind == "files-sha256" and first.label == "hisadapt.adapter:make"
    (package / "unrelated.py").write_text("X = 2\n", encoding="utf-8")
    assert identity_of("hisadapt.adapter:make").value == first.value
    (package / "client.py").write_text("TIMEOUT = 30\n", encoding="utf-8")
    assert identity_of("hisadapt.adapter:make").value != first.value


def add_to_adapter(package: Path, code: str) -> None:
    adapter = package / "adapter.py"
    adapter.write_text(adapter.read_text(encoding="utf-8") + "\n" + textwrap.dedent(code), encoding="utf-8")


@pytest.mark.parametrize(("code", "reported"), [
    ("__version__ = '5.2.1'", "5.2.1"),
    ("connector_version = 'HIS 5.2.1'", "HIS 5.2.1"),
    ("def connector_version() -> str:\n    return 'HIS 5.2.1 build 3301'", "HIS 5.2.1 build 3301"),
], ids=["__version__", "attribute", "asks the vendor program"])
def test_a_version_the_connector_reports(package: Path, code: str, reported: str) -> None:
    add_to_adapter(package, code)
    found = identity_of("hisadapt.adapter:make")
    assert (found.kind, found.value) == ("version", reported)


def test_a_connector_version_that_raises_is_a_usage_error(package: Path) -> None:
    add_to_adapter(package, "def connector_version() -> str:\n    raise OSError('no licence')")
    with pytest.raises(UsageError, match=r"^connector_version\(\) of hisadapt.adapter failed: OSError: no licence$"):
        identity_of("hisadapt.adapter:make")


def test_hih_connector_version_for_black_box_runs(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "lis=LIS 3.1, pacs=RIS 7")
    assert env_versions("lis") == "LIS 3.1" and env_versions("insurance") is None
    assert identity_of("hisadapt.adapter:make").kind == "files-sha256"
    monkeypatch.setenv(ENV, "HIS 5.2.1")
    found = identity_of("hisadapt.adapter:make")
    assert (found.kind, found.value) == ("env", "HIS 5.2.1")
    monkeypatch.setenv(ENV, "lis=")
    with pytest.raises(UsageError, match="HIH_CONNECTOR_VERSION='lis=': expected VERSION or NAME=VERSION"):
        env_versions("lis")


def test_the_hospitals_listener_names_a_black_box_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("HIH_LIS_LISTENER", "10.0.0.5:2575")
    found = identify("lis", "connectors.lis:reference", load_factory("connectors.lis:reference"))
    assert (found.kind, found.value, found.label) == ("listener", "10.0.0.5:2575", "listener 10.0.0.5:2575")
    assert found.name == "connectors.lis:reference; results to the hospital listener 10.0.0.5:2575"


def test_a_parse_failed_by_another_threads_parse_is_made_again(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CPython 3.11 can fail `ast.parse` with SystemError while another thread parses (gh-106905): the
    identity is the one an undisturbed parse gives, not an internal error of the run."""
    import ast

    undisturbed = identity_of("hisadapt.adapter:make")
    parse, to_fail = ast.parse, [identity.PARSE_TRIES - 1]
    failed: list[str | bytes] = []

    def racing(source: str | bytes, *args: Any, **kwargs: Any) -> ast.Module:
        if len(failed) < to_fail[0]:
            failed.append(source)
            raise SystemError("AST constructor recursion depth mismatch (before=1, after=2)")
        return parse(source, *args, **kwargs)

    racing_ast = types.ModuleType("ast")  # identity's parses race, not pytest's own (its report of a failure)
    racing_ast.__dict__.update(vars(ast), parse=racing)
    monkeypatch.setattr(identity, "ast", racing_ast)
    forget_package()
    assert identity_of("hisadapt.adapter:make") == undisturbed
    assert len(failed) == identity.PARSE_TRIES - 1
    failed.clear()
    to_fail[0] = identity.PARSE_TRIES  # a failure that stays is not hidden
    forget_package()
    with pytest.raises(SystemError):
        identity_of("hisadapt.adapter:make")
