"""Who ran the gate, where, for which release: summary.json's run metadata from options and CI variables."""

from __future__ import annotations

import pytest

from harness.run.metadata import ci_job_url, operator_name, run_metadata


@pytest.mark.parametrize(("env", "url"), [
    ({"CI_JOB_URL": "https://gitlab.example/h/hih/-/jobs/42"}, "https://gitlab.example/h/hih/-/jobs/42"),
    ({"GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "h/hih", "GITHUB_RUN_ID": "7"},
     "https://github.example/h/hih/actions/runs/7"),
    ({"GITHUB_REPOSITORY": "h/hih", "GITHUB_RUN_ID": "7"}, "https://github.com/h/hih/actions/runs/7"),
    ({"BUILD_URL": "https://jenkins.example/job/hih/12/"}, "https://jenkins.example/job/hih/12/"),
    ({}, None),
])
def test_the_ci_job_url_of_gitlab_github_and_jenkins(env: dict[str, str], url: str | None) -> None:
    assert ci_job_url(env) == url


def test_the_operator_is_the_option_else_the_ci_user_else_the_login_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert operator_name(" 张工 ", {"GITLAB_USER_LOGIN": "ci"}) == "张工"
    assert operator_name(None, {"GITHUB_ACTOR": "octo"}) == "octo"
    assert operator_name("", {"BUILD_USER_ID": "jenkins-user"}) == "jenkins-user"
    monkeypatch.setattr("getpass.getuser", lambda: "login")
    assert operator_name(None, {}) == "login"

    def no_login() -> str:
        raise OSError("no passwd entry")

    monkeypatch.setattr("getpass.getuser", no_login)
    assert operator_name(None, {}) == "unknown"


def test_run_metadata_fields() -> None:
    found = run_metadata("张工", "  ", {"BUILD_URL": "https://j/1/"})
    assert found["operator"] == "张工" and found["release"] is None and found["ci_job_url"] == "https://j/1/"
    assert found["host"] and found["hih_version"]
