"""Who ran a gate, where, for which release: the facts a sign-off names besides the results.

`hih run --operator NAME --release NAME` give the first two; without `--operator`, the CI system's user (GitLab
`GITLAB_USER_LOGIN`, GitHub `GITHUB_ACTOR`, Jenkins `BUILD_USER_ID`) or else the login name. The CI job's URL comes
from the variables GitLab, GitHub Actions and Jenkins set. Everything lands in summary.json at the top level.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping

from harness.report.manifest import hih_version

CI_USERS = ("GITLAB_USER_LOGIN", "GITHUB_ACTOR", "BUILD_USER_ID")


def ci_job_url(env: Mapping[str, str]) -> str | None:
    """The URL of the CI job running this, when GitLab, GitHub Actions or Jenkins says it."""
    if env.get("CI_JOB_URL"):
        return env["CI_JOB_URL"]
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL") or "https://github.com"
        return f"{server.rstrip('/')}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return env.get("BUILD_URL") or None


def operator_name(given: str | None, env: Mapping[str, str]) -> str:
    """`--operator`, else the CI user, else the login name."""
    if given and given.strip():
        return given.strip()
    for name in CI_USERS:
        if env.get(name, "").strip():
            return env[name].strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "unknown"


def run_metadata(operator: str | None, release: str | None, env: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """summary.json's `operator`, `release`, `host`, `ci_job_url` and `hih_version`."""
    env = os.environ if env is None else env
    return {"operator": operator_name(operator, env), "release": (release or "").strip() or None,
            "host": socket.gethostname(), "ci_job_url": ci_job_url(env), "hih_version": hih_version()}
