"""The mocks' Dockerfile, checked without a Docker engine: a small reader of its instructions, then what the image must
be (pinned base, non-root user, exposed ports that match what its entry point binds, a HEALTHCHECK through the admin
API, `hih mock serve` of every partner behind the entry point, no baked token, a build context that holds what it
copies); and the HEALTHCHECK and the command run for real outside a container.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass

import httpx
import pytest

from harness.container_serve import main, serve_arguments
from harness.containers import IMAGE_PORTS
from mocks.insurance import InsuranceMock
from mocks.transport.admin import admin_app
from mocks.transport.runtime import Runtime
from tests.conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int

    def exec_form(self, text: str | None = None) -> list[str]:
        value = json.loads(self.args if text is None else text)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), self
        return value


def instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions with continuation lines joined; comments and parser directives left out."""
    found: list[Instruction] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, args = whole.partition(" ")
        found.append(Instruction(keyword.upper(), args.strip(), start))
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return found


def expand(value: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m.group(1) or m.group(2), ""), value)


def dockerfile() -> list[Instruction]:
    return instructions(DOCKERFILE.read_text(encoding="utf-8"))


def one(keyword: str) -> Instruction:
    found = [i for i in dockerfile() if i.keyword == keyword]
    assert len(found) == 1, f"{len(found)} {keyword} instructions"
    return found[0]


def env() -> dict[str, str]:
    return {name: value for i in dockerfile() if i.keyword == "ENV" for name, value in re.findall(r"(\w+)=(\S+)", i.args)}


def cmd() -> list[str]:
    return one("CMD").exec_form()


def hih_arguments() -> list[str]:
    """The `hih` command line the image runs by default: its ENTRYPOINT's module given its CMD."""
    assert one("ENTRYPOINT").exec_form() == ["python", "-m", "harness.container_serve"]
    return serve_arguments(cmd(), {})


def cmd_ports() -> dict[str, int]:
    args = hih_arguments()
    return {name: int(port) for flag, value in zip(args, args[1:], strict=False) if flag == "--port"
            for name, port in [value.split("=", 1)]}


def healthcheck() -> tuple[dict[str, str], list[str]]:
    args = one("HEALTHCHECK").args
    options = dict(re.findall(r"--([\w-]+)=(\S+)", args))
    _, _, command = args.partition(" CMD ")
    return options, one("HEALTHCHECK").exec_form(command.strip())


# -- the reader ------------------------------------------------------------------------------------------------------
def test_the_reader_joins_continued_lines_and_skips_comments() -> None:
    parsed = instructions("# syntax=docker/dockerfile:1\nARG A=1\n\nRUN one \\\n    # note\n    two\nCMD [\"x\"]\n")
    assert [(i.keyword, i.args, i.line) for i in parsed] == [("ARG", "A=1", 2), ("RUN", "one two", 4), ("CMD", '["x"]', 7)]


# -- what the image is -----------------------------------------------------------------------------------------------
def test_the_base_image_is_pinned() -> None:
    parsed = dockerfile()
    froms = [i for i in parsed if i.keyword == "FROM"]
    assert len(froms) == 1
    args = {name: value for i in parsed[: parsed.index(froms[0])] if i.keyword == "ARG"
            for name, _, value in [i.args.partition("=")]}
    image = expand(froms[0].args.split()[0], args)
    name, _, digest = image.partition("@")
    repository, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    assert repository == "python", image
    assert digest.startswith("sha256:") or re.match(r"\d+\.\d+\.\d+-", tag), f"{image}: pin a full version or a digest"
    assert tag != "latest"


def test_it_runs_as_a_non_root_user_created_in_the_image() -> None:
    parsed = dockerfile()
    users = [i for i in parsed if i.keyword == "USER"]
    assert users, "no USER: the mocks would run as root"
    user = users[-1].args.split(":")[0]
    assert user not in ("root", "0")
    assert users[-1].line < one("ENTRYPOINT").line
    created = " ".join(i.args for i in parsed if i.keyword == "RUN")
    assert re.search(rf"useradd .*--uid {user}\b", created) or re.search(rf"useradd .*\b{user}\b", created)


def test_the_exposed_ports_are_the_ports_the_command_binds() -> None:
    exposed = {int(p.split("/")[0]) for p in one("EXPOSE").args.split()}
    assert exposed == set(cmd_ports().values())
    assert cmd_ports() == IMAGE_PORTS  # what harness.containers.MockContainer maps


def test_the_command_serves_every_partner_on_every_address() -> None:
    args = hih_arguments()
    assert args[:2] == ["mock", "serve"]
    assert args[args.index("--host") + 1] == "0.0.0.0"
    served = [value for flag, value in zip(args, args[1:], strict=False) if flag == "--interface"]
    assert served == ["insurance", "blood-center", "mch-platform", "lis", "pacs"]


def test_no_admin_token_is_baked_into_the_image() -> None:
    for i in dockerfile():
        if i.keyword in ("ENV", "ARG", "LABEL"):
            assert "HIH_ADMIN_TOKEN" not in i.args, i


def test_the_healthcheck_asks_the_admin_api_with_the_token() -> None:
    options, command = healthcheck()
    assert {"interval", "timeout", "retries"} <= set(options)
    assert command[:2] == ["python", "-c"]
    code = command[2]
    compile(code, "HEALTHCHECK", "exec")
    assert "HIH_HEALTHCHECK_URL" in code and "'Bearer ' + os.environ['HIH_ADMIN_TOKEN']" in code
    assert env()["HIH_HEALTHCHECK_URL"] == f"http://127.0.0.1:{cmd_ports()['admin']}/__hih/"


def test_the_contracts_are_where_the_image_says() -> None:
    copies = {i.args.split()[-1].rstrip("/"): i.args.split()[0] for i in dockerfile() if i.keyword == "COPY"}
    assert env()["HIH_CONTRACTS"] == "/opt/hih/contracts"
    assert copies["./contracts"] == "contracts"  # relative to WORKDIR /opt/hih


# -- the build context -----------------------------------------------------------------------------------------------
def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern that matches the path or one of its parents wins; ! re-includes."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        regex = "".join(".*" if tok == "**" else "[^/]*" if tok == "*" else "[^/]" if tok == "?" else re.escape(tok)
                        for tok in re.split(r"(\*\*|\*|\?)", body))
        regex = regex.replace(".*/", "(?:.*/)?")
        if any(re.fullmatch(regex, c) for c in candidates):
            result = not negate
    return result


def dockerignore() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_private() -> None:
    patterns = dockerignore()
    for i in dockerfile():
        if i.keyword == "COPY":
            for source in i.args.split()[:-1]:
                assert (ROOT / source).exists(), source
                assert not ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"
                for file in (ROOT / source).rglob("*.py") if (ROOT / source).is_dir() else []:
                    assert not ignored(file.relative_to(ROOT).as_posix(), patterns), file
    for private in (".git/config", ".venv/bin/python", "reports/latest/evidence.json", "tests/conftest.py",
                    "bench/RESULTS.md", "harness/__pycache__/cli.cpython-311.pyc", "training.sqlite",
                    "mocks/state.sqlite-wal"):
        assert ignored(private, patterns), private


# -- the command and the HEALTHCHECK, run for real outside a container ----------------------------------------------
def test_the_command_refuses_to_start_without_an_admin_token(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("HIH_ADMIN_TOKEN", raising=False)

    assert main(cmd()) == 2
    assert "set HIH_ADMIN_TOKEN" in capsys.readouterr().err


def run_healthcheck(url: str, token: str) -> subprocess.CompletedProcess[str]:
    _, command = healthcheck()
    environment = {"HIH_HEALTHCHECK_URL": url, "HIH_ADMIN_TOKEN": token, "PATH": "/usr/bin:/bin",
                   "HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}  # a proxy must not matter
    return subprocess.run([sys.executable, *command[1:]], env=environment, capture_output=True, text=True,
                          timeout=30, check=False)


def test_the_healthcheck_passes_with_the_token_and_fails_without(runtime: Runtime, mock: InsuranceMock) -> None:
    listener = runtime.serve_http(admin_app({"insurance": mock}, "s3cret-token"), "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listener.port}/__hih/"
    try:
        assert httpx.get(url, timeout=5).status_code == 401
        healthy = run_healthcheck(url, "s3cret-token")
        wrong = run_healthcheck(url, "not-the-token")
    finally:
        runtime.call(listener.stop())
    nobody = run_healthcheck(url, "s3cret-token")

    assert healthy.returncode == 0, healthy.stderr
    assert wrong.returncode != 0 and "401" in wrong.stderr
    assert nobody.returncode != 0
