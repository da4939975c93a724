"""The hih pytest plugin: contracts, mocks and connectors as fixtures; contract-version tags; evidence per scenario.

Loaded through the `pytest11` entry point; inert unless a test asks for its fixtures or `hih run` passes options.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import work_folders
from harness.bindings import connector_settings, default_connector, load_factory
from harness.config import load_config
from harness.contract import verdicts
from harness.contract.interfaces import INTERFACES, by_features
from harness.contract.loader import ContractStore, hold, release
from harness.contract.model import Contract
from harness.contract.versions import satisfies
from harness.errors import HihError
from harness.guards import as_spec_failure
from harness.plugin_masking import (
    MaskedNodeids,
    has_scenario_masker,
    mask_cucumber_data,
    mask_report,
    scenario_masker,
    scoped_steps,
    steps_json,
)
from harness.properties import CONNECTOR_ERROR
from harness.report.masking import Masker
from harness.run.report_thread import ReportThread
from harness.run.warm import WORK_ROOT_ENV
from harness.slot import ConnectorSlot

pytest_plugins = ["harness.guards", "harness.held_clock"]  # scenario guards; the wall clock held in one second
CONTRACT_TAG = "contract"
EVIDENCE_SECTION = "hih evidence"
_STEPS = pytest.StashKey[list[dict[str, Any]]]()
_SCENARIO = pytest.StashKey[dict[str, str]]()
_MOCKS = pytest.StashKey[list[Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hih", "Hospital Interface Harness")
    group.addoption("--hih-contract", action="append", default=[], metavar="NAME=VERSION",
                    help="contract version per interface (default: the newest)")
    group.addoption("--hih-connector", action="append", default=[], metavar="NAME=module:factory",
                    help="connector factory per interface (default: the reference connector)")
    group.addoption("--hih-contracts-dir", default=None, help="folder of contracts (default: the project's contracts/)")
    group.addoption("--hih-contracts-checked", action="store_true", default=False,
                    help="the contracts named by --hih-contract are checked by the `hih run` that started this process, "
                         "which stops the run when one fails: taken as passed here (harness.contract.verdicts)")
    group.addoption("--hih-timeout", type=float, default=float(os.environ.get("HIH_TIMEOUT_S", "0.3")),
                    help="connector timeout in seconds against the in-process mocks")


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise pytest.UsageError(f"--hih-{what} {value!r}: expected NAME=VALUE")
        out[name] = rest
    return out


class HihSession:
    """The run's choices and shared objects: which contract and connector per interface, the mock runtime."""

    def __init__(self, config: pytest.Config) -> None:
        root = config.getoption("--hih-contracts-dir")
        self.store = ContractStore(Path(root) if root else None)
        self.versions = _pairs(config.getoption("--hih-contract"), "contract")
        if config.getoption("--hih-contracts-checked"):
            for name, version in self.versions.items():
                verdicts.vouch(self.store.root / name / version)
        self.connectors = _pairs(config.getoption("--hih-connector"), "connector")
        self.timeout_s: float = config.getoption("--hih-timeout")
        try:
            self.masker = Masker.from_config(load_config().masking)
        except HihError as exc:
            raise pytest.UsageError(str(exc)) from None
        self._runtime: Any = None
        self._mocks: dict[str, Any] = {}
        self._contracts: dict[str, Contract] = {}

    def contract(self, interface: str) -> Contract:
        """The interface's contract for this session, loaded the first time it is asked for: each scenario asks
        (its connector's settings), and the store's checks of the folders behind a load cost ≈ 1 ms each time. The
        mock and every connector of the session so use one version, even of a session that runs past a midnight
        when a newer version comes into force. The contract is held (`harness.contract.loader.hold`) until the
        session closes: a connector that loads its settings' folder gets this contract, unread."""
        found = self._contracts.get(interface)
        if found is None:
            found = self._contracts[interface] = self.store.load(interface, self.versions.get(interface))
            hold(found)
        return found

    def version(self, interface: str) -> str:
        return self.versions.get(interface) or self.store.default(interface)

    def connector_spec(self, interface: str) -> str:
        return self.connectors.get(interface) or default_connector(interface)

    def mock(self, interface: str) -> Any:
        """The session's mock for `interface`, started on a free loopback port the first time it is asked for."""
        if interface not in self._mocks:
            from mocks.registry import create_mock
            from mocks.transport.runtime import Runtime

            if self._runtime is None:
                self._runtime = Runtime().start()
            mock = create_mock(self.contract(interface))
            mock.start(self._runtime)
            self._mocks[interface] = mock
        return self._mocks[interface]

    def close(self) -> None:
        for contract in self._contracts.values():
            release(contract)
        if self._runtime is not None:
            self._runtime.stop()


SESSION = pytest.StashKey[HihSession]()
"""The run's HihSession in `config.stash`."""
REPORT_THREAD = pytest.StashKey[ReportThread]()
"""Set by the process's reader of finished reports (harness.run.collector, in a `hih run` process without xdist
workers): a passed scenario's evidence is then masked and its event written beside the next scenario."""
_SESSION = SESSION


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{CONTRACT_TAG}(expression): the scenario applies to contract versions matching it")
    config.stash[_SESSION] = HihSession(config)
    _CONFIG.append(config)
    if config.getoption("--hih-contract") and config.option.tbstyle == "auto":
        # `hih run`: short tracebacks. A long one prints function arguments cut to 240 characters, and an
        # identifier cut in two cannot be recognised for masking.
        config.option.tbstyle = "short"
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(MaskedNodeids(), "hih-masked-nodeids")
    cucumber_json = getattr(config.option, "cucumber_json_path", None)
    if cucumber_json and not hasattr(config, "workerinput"):
        Path(cucumber_json).expanduser().parent.mkdir(parents=True, exist_ok=True)  # pytest-bdd does not
        config.pluginmanager.register(CucumberBridge(), "hih-cucumber")


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is not None:
        session.close()
    work_folders.finish()  # also where no atexit handler runs after (an xdist worker)
    if config in _CONFIG:
        _CONFIG.remove(config)


_CONFIG: list[pytest.Config] = []


def pytest_bdd_apply_tag(tag: str, function: Any) -> bool | None:
    """`@contract>=2024.1` becomes a `contract` marker; any other Gherkin tag becomes a registered marker."""
    operator = tag[len(CONTRACT_TAG):len(CONTRACT_TAG) + 1]
    if tag.startswith(CONTRACT_TAG) and operator and operator in "<>=!":
        pytest.mark.contract(tag[len(CONTRACT_TAG):])(function)
        return True
    if _CONFIG:
        # Gherkin tags are data, not code: register them so --strict-markers accepts them and -m can select them.
        _CONFIG[-1].addinivalue_line("markers", f"{tag}: Gherkin tag")
    return None


def masked_nodeid(item: pytest.Item) -> str:
    """The node id a scenario's reports carry: masked with the identifiers its own text holds, as its reports are."""
    return scenario_masker(item, item.config.stash[_SESSION].masker).nodeid(item.nodeid)


def _interface_of(item: pytest.Item) -> str | None:
    """The interface whose features folder holds `item` (features/<folder>/...), by its descriptor."""
    return _interface_of_file(str(item.path))


@functools.lru_cache(maxsize=1024)  # asked for each report of each scenario: a few files in a run
def _interface_of_file(path: str) -> str | None:
    parts = Path(path).parts
    if "features" in parts:
        index = len(parts) - 1 - parts[::-1].index("features")
        if index + 1 < len(parts) - 1:
            found = by_features(parts[index + 1])
            return found.name if found is not None else parts[index + 1].replace("_", "-")
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    session = config.stash[_SESSION]
    for item in items:
        for mark in item.iter_markers(CONTRACT_TAG):
            interface = _interface_of(item)
            if interface is None:
                continue
            version = session.version(interface)  # the version only: no contract is loaded at collection
            expression = str(mark.args[0])
            if not satisfies(version, expression):
                item.add_marker(pytest.mark.skip(
                    reason=f"applies to {interface} contract {expression}; this run uses {version}"))


# -- fixtures -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def hih(request: pytest.FixtureRequest) -> HihSession:
    """The run's contracts, connectors and mocks."""
    return request.config.stash[_SESSION]


def _fresh_mock(request: pytest.FixtureRequest, interface: str) -> Any:
    try:
        mock = request.config.stash[_SESSION].mock(interface)
    except HihError as exc:
        pytest.fail(f"cannot start the {interface} mock: {exc}", pytrace=False)
    mock.reset()
    request.node.stash.setdefault(_MOCKS, []).append(mock)
    return mock


def _connector(request: pytest.FixtureRequest, interface: str, mock: Any) -> Iterator[Any]:
    """The connector in a restartable slot, its durable state in a work folder of its own for this scenario; each
    instance watched by the scenario deadline, which names the connector call that did not return."""
    from harness.run import deadline

    session = request.config.stash[_SESSION]
    spec = session.connector_spec(interface)
    root = os.environ.get(WORK_ROOT_ENV)  # the run's folder for this process: removed with it, whatever ends it
    workdir = Path(tempfile.mkdtemp(prefix=f"hih-{interface}-", dir=root if root and os.path.isdir(root) else None))
    try:
        factory = load_factory(spec)
        settings = connector_settings(interface)(mock, session.contract(interface), session.timeout_s, workdir)
    except HihError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.fail(str(exc), pytrace=False)

    def build() -> Any:
        with deadline.calling(f"connector factory {spec}"):
            return deadline.watch(factory(settings), interface)

    try:
        connector = ConnectorSlot(build, settings)
    except Exception as exc:  # noqa: BLE001 - a factory that raises is a configuration error: `hih run` exits 2
        shutil.rmtree(workdir, ignore_errors=True)
        problem = f"connector {interface}={spec}: the factory raised {type(exc).__name__}: {exc}"
        request.node.user_properties.append((CONNECTOR_ERROR, problem))
        pytest.fail(problem, pytrace=False)
    try:
        yield connector
    finally:
        connector.close()
        work_folders.remove(workdir)  # beside the next scenario, not before it


def _fixtures_for(interface: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """`<name>_mock` (the partner mock, reset for this test) and `<name>` (the connector under test) for an interface."""
    mock_name = interface.replace("-", "_") + "_mock"

    def mock_fixture(request: pytest.FixtureRequest) -> Any:
        return _fresh_mock(request, interface)

    def connector_fixture(request: pytest.FixtureRequest) -> Iterator[Any]:
        yield from _connector(request, interface, request.getfixturevalue(mock_name))

    mock_fixture.__doc__ = f"The {interface} partner mock, reset to its seeded state for this test."
    connector_fixture.__doc__ = (f"The connector under test for {interface} "
                                 f"(the reference one unless `--hih-connector {interface}=...`).")
    return pytest.fixture(name=mock_name)(mock_fixture), pytest.fixture(name=interface.replace("-", "_"))(connector_fixture)


# One pair of fixtures per interface: its descriptor (harness/contract/interfaces.py) is enough to use it in steps.
for _interface in INTERFACES:
    globals()[f"_{_interface.replace('-', '_')}_mock_fixture"], globals()[f"_{_interface.replace('-', '_')}_fixture"] = (
        _fixtures_for(_interface))


@pytest.fixture
def ctx() -> dict[str, Any]:
    """Scratch space shared by the steps of one scenario (results, errors, ids)."""
    return {}


@pytest.fixture
def hih_interface(request: pytest.FixtureRequest) -> str:
    """The interface whose features hold this scenario (`blood-center` for features/blood_center/...)."""
    interface = _interface_of(request.node)
    if interface is None:
        pytest.fail(f"{request.node.nodeid} is not under features/<interface>/", pytrace=False)
    return interface


def mocks_of(item: pytest.Item) -> list[Any]:
    """The partner mocks a scenario used (started and reset for it), in the order it asked for them."""
    mocks: list[Any] = item.stash.get(_MOCKS, [])
    return list(mocks)


# -- scenario and evidence capture ----------------------------------------------------------------------------
def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    request.node.stash[_SCENARIO] = {"feature": feature.name, "scenario": scenario.name}
    request.node.stash[_STEPS] = []


def pytest_bdd_after_step(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, step_func: Any,
                          step_func_args: Any) -> None:
    request.node.stash.setdefault(_STEPS, []).append({"keyword": step.keyword, "name": step.name, "status": "passed"})


def pytest_bdd_step_error(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, step_func: Any,
                          step_func_args: Any, exception: Exception) -> None:
    told = as_spec_failure(f"{step.keyword} {step.name}".strip(), exception)
    request.node.stash.setdefault(_STEPS, []).append(
        {"keyword": step.keyword, "name": step.name, "status": "failed", "error": str(told)[:2000]})


def pytest_bdd_step_func_lookup_error(request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any,
                                      exception: Exception) -> None:
    request.node.stash.setdefault(_STEPS, []).append(
        {"keyword": step.keyword, "name": step.name, "status": "undefined", "error": str(exception)[:2000]})


def _scenario_of(item: pytest.Item) -> dict[str, str] | None:
    """Feature and scenario names of an item that never ran (skipped before pytest-bdd saw it)."""
    function = getattr(item, "obj", None)
    registry: Any
    try:
        from pytest_bdd.scenario import scenario_wrapper_template_registry as registry
    except ImportError:  # pragma: no cover - the registry is pytest-bdd 8/9's; fall back to the docstring
        registry = {}
    templated = registry.get(function) if function is not None else None
    if templated is not None:
        return {"feature": templated.feature.name, "scenario": templated.name}
    doc = getattr(function, "__doc__", None) or ""
    feature, sep, name = doc.partition(": ")
    return {"feature": feature, "scenario": name} if sep else None


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: pytest-bdd has filed its cucumber data when this resumes
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Label each scenario's report (interface, feature, scenario, steps), attach its evidence, mask it all."""
    report = yield
    scenario = item.stash.get(_SCENARIO, None) or _scenario_of(item)
    if scenario is None:
        return report
    session = item.config.stash[_SESSION]
    beside = item.config.stash.get(REPORT_THREAD, None)
    evidence_phase = report.when == "call" or (report.when == "setup" and not report.passed)
    # what uses the run's masker here: the evidence and steps, a report that did not pass (its failure, its
    # arguments), captured output, a scenario masker not made yet
    uses_masker = evidence_phase or not report.passed or bool(report.sections) or not has_scenario_masker(item)
    defer = (beside is not None and report.when == "call" and report.passed and not report.sections
             and has_scenario_masker(item))  # then only the evidence and steps use it: they go to the thread
    if beside is not None and not defer:
        if uses_masker:
            beside.settle()  # after what the thread holds: every text masked with the values learnt before it
        beside = None
    scoped = scenario_masker(item, session.masker)
    report.user_properties.append(("hih_interface", _interface_of(item) or ""))
    report.user_properties.append(("hih_feature", scenario["feature"]))
    report.user_properties.append(("hih_scenario", scenario["scenario"]))
    if beside is not None:  # a passed scenario without captured output: its evidence is masked beside the next one
        entries = [e.to_dict() for mock in item.stash.get(_MOCKS, []) for e in mock.journal.entries()]
        # the scenario's masker masks the steps here, before the report's names, as in place (it may learn)
        steps = scoped_steps(item.stash.get(_STEPS, []), scoped)
        mask_report(item, report, session.masker)  # scoped text only: it uses nothing the evidence teaches
        if getattr(item.config.option, "cucumber_json_path", None):
            _attach_scenario_report(item, report, scoped)
        beside.submit(lambda: _add_evidence(report, entries, steps, session.masker))
        return report
    if evidence_phase:
        entries = [e.to_dict() for mock in item.stash.get(_MOCKS, []) for e in mock.journal.entries()]
        _add_evidence(report, entries, scoped_steps(item.stash.get(_STEPS, []), scoped), session.masker)
    mask_report(item, report, session.masker)
    if getattr(item.config.option, "cucumber_json_path", None):
        _attach_scenario_report(item, report, scoped)
    return report


def _add_evidence(report: pytest.TestReport, entries: list[dict[str, Any]], steps: list[dict[str, Any]],
                  masker: Masker) -> None:
    """The scenario's exchanges (first: the masker learns the identifiers the messages carry) and steps (masked by
    the scenario's masker already), masked by the run's masker, on its report: the steps as a property after the
    scenario's name, the exchanges as the evidence section."""
    evidence = [masker.exchange(entry) for entry in entries]
    at = next((i + 1 for i, (k, _) in enumerate(report.user_properties) if k == "hih_scenario"),
              len(report.user_properties))
    report.user_properties.insert(at, ("hih_steps", steps_json(steps, masker)))
    if evidence:
        report.sections.append((EVIDENCE_SECTION, json.dumps(evidence, ensure_ascii=False)))


# -- cucumber.json under xdist, with skipped scenarios --------------------------------------------------------
# pytest-bdd 9 keeps each report's scenario data in a WeakKeyDictionary keyed by the TestReport, which xdist does
# not carry to the controller: cucumber.json came out as []. Workers put the data on the report (plain JSON that
# xdist serialises with it) and the controller files it where pytest-bdd's cucumber writer looks. Scenarios
# skipped before they ran (contract-version tags) are added with skipped steps. Uses pytest_bdd.reporting
# internals, hence the pin pytest-bdd==9.0.* and tests/report/test_cucumber.py.
SCENARIO_REPORT = "hih_bdd_scenario"


def _attach_scenario_report(item: pytest.Item, report: pytest.TestReport, scoped: Masker) -> None:
    from pytest_bdd import reporting

    if report.when == "call" and hasattr(item.config, "workerinput"):
        scenario_report = reporting.scenario_reports_registry.get(item)
        if scenario_report is not None:
            setattr(report, SCENARIO_REPORT,
                    mask_cucumber_data({"scenario": scenario_report.serialize(), "name": item.name}, scoped))
    elif report.when == "setup" and report.skipped and item not in reporting.scenario_reports_registry:
        from pytest_bdd.scenario import scenario_wrapper_template_registry

        template = scenario_wrapper_template_registry.get(getattr(item, "obj", None))  # type: ignore[arg-type]
        if template is None:
            return
        callspec = getattr(item, "callspec", None)
        scenario = template.render(callspec.params.get("_pytest_bdd_example", {}) if callspec else {})
        serialized = reporting.ScenarioReport(scenario).serialize()
        serialized["steps"] = [{"name": s.name, "type": s.type, "keyword": s.keyword, "line_number": s.line_number,
                                "failed": False, "duration": 0.0} for s in scenario.steps]
        setattr(report, SCENARIO_REPORT, mask_cucumber_data({"scenario": serialized, "name": item.name, "skipped": True}, scoped))


class CucumberBridge:
    """On the controller: feeds pytest-bdd's cucumber writer the scenario data workers sent, and skipped ones."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, SCENARIO_REPORT, None)
        if not data:
            return
        from pytest_bdd import reporting

        if not data.get("skipped"):
            if report not in reporting.test_report_context_registry:
                reporting.test_report_context_registry[report] = reporting.ReportContext(
                    scenario=data["scenario"], name=data["name"])
            return
        writer = self._writer()
        if writer is None:
            return
        scenario = data["scenario"]
        feature = scenario["feature"]
        entry = writer.features.setdefault(feature["filename"], {
            "keyword": feature["keyword"], "uri": feature["rel_filename"],
            "name": feature["name"] or feature["rel_filename"], "id": feature["rel_filename"].lower().replace(" ", "-"),
            "line": feature["line_number"], "description": feature["description"], "language": feature["language"],
            "tags": writer._serialize_tags(feature), "elements": [],
        })
        entry["elements"].append({
            "keyword": scenario["keyword"], "id": data["name"], "name": scenario["name"],
            "line": scenario["line_number"], "description": scenario["description"],
            "tags": writer._serialize_tags(scenario), "type": "scenario",
            "steps": [{"keyword": s["keyword"], "name": s["name"], "line": s["line_number"], "match": {"location": ""},
                       "result": {"status": "skipped", "duration": 0}} for s in scenario["steps"]],
        })

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        """Features and scenarios in file order, so a parallel run writes the same file as a serial one."""
        writer = self._writer()
        if writer is not None:
            writer.features = dict(sorted(writer.features.items(), key=lambda kv: kv[1]["uri"]))
            for feature in writer.features.values():
                feature["elements"].sort(key=lambda e: (e["line"], e["id"]))

    @staticmethod
    def _writer() -> Any:
        return getattr(_CONFIG[-1], "_bddcucumberjson", None) if _CONFIG else None
