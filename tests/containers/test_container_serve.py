"""The image's entry point without Docker: which partners it serves (arguments, HIH_INTERFACES, all), on which ports,
what the caller's own options replace; a name it does not serve is one line and exit 2; and the entry point run for
real as a process, serving two partners on every address behind the admin token until SIGTERM."""

from __future__ import annotations

import os
import signal
import sys

import httpx
import pytest

from harness.container_serve import main, serve_arguments
from harness.containers import IMAGE_PORTS
from tests.conftest import ROOT
from tests.served import running


def served(arguments: list[str]) -> tuple[list[str], dict[str, str]]:
    pairs = list(zip(arguments, arguments[1:], strict=False))
    names = [value for flag, value in pairs if flag == "--interface"]
    ports = dict(value.split("=", 1) for flag, value in pairs if flag == "--port")
    return names, ports


def test_without_a_choice_every_partner_is_served_on_its_port() -> None:
    arguments = serve_arguments([], {})
    names, ports = served(arguments)
    assert arguments[:4] == ["mock", "serve", "--host", "0.0.0.0"]
    assert names == ["insurance", "blood-center", "mch-platform", "lis", "pacs"]
    assert ports == {name: str(port) for name, port in IMAGE_PORTS.items()}
    assert served(serve_arguments(["all"], {}))[0] == names


def test_partners_are_chosen_by_arguments_before_the_environment() -> None:
    assert served(serve_arguments(["blood-center", "lis"], {"HIH_INTERFACES": "pacs"})) == (
        ["blood-center", "lis"], {"blood-center": "8082", "lis": "2575", "admin": "8081"})
    assert served(serve_arguments([], {"HIH_INTERFACES": "pacs, mch-platform"}))[0] == ["pacs", "mch-platform"]


def test_the_callers_options_pass_through_and_replace_the_images() -> None:
    options = ["--port", "blood-center=9000", "--host=127.0.0.1", "--allow-host", "training.example"]
    arguments = serve_arguments(["blood-center", *options], {"HIH_STATE": "/var/lib/hih/state.sqlite"})
    assert arguments[-5:] == options and "0.0.0.0" not in arguments
    assert arguments.count("--port") == 2 and "blood-center=8082" not in arguments
    assert arguments[arguments.index("--state") + 1] == "/var/lib/hih/state.sqlite"
    assert serve_arguments(["--state", "mine.sqlite"], {"HIH_STATE": "x"}).count("--state") == 1


@pytest.mark.parametrize(("argv", "environ", "said"), [
    (["radiology"], {}, "the image serves no 'radiology'; it serves insurance, blood-center, mch-platform, lis, pacs (or all)"),
    ([], {"HIH_INTERFACES": "lis,ris"}, "the image serves no 'ris' (from HIH_INTERFACES)"),
])
def test_a_partner_the_image_does_not_serve_is_one_line(argv: list[str], environ: dict[str, str], said: str,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("hih: error: ") and said in error and error.count("\n") == 1


def test_the_entry_point_serves_the_chosen_partners_until_sigterm() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIH_")}
    env.update(HIH_ADMIN_TOKEN="container-token", HIH_INTERFACES="blood-center,lis")
    command = [sys.executable, "-m", "harness.container_serve", "--port", "blood-center=0", "--port", "lis=0",
               "--port", "admin=0"]
    with running(command, env, ROOT) as (process, banner):
        assert {label.split(" ")[0] for label in banner} == {"blood-center", "lis", "admin"}
        assert banner["blood-center"].startswith("http://0.0.0.0:") and banner["lis"].startswith("mllp://0.0.0.0:")
        assert banner["blood-center console"].endswith("/console/ (token required)")
        admin = banner["admin"].replace("0.0.0.0", "127.0.0.1")
        assert httpx.get(admin, timeout=5, trust_env=False).status_code == 401
        wsdl = banner["blood-center wsdl"].replace("0.0.0.0", "127.0.0.1")
        assert httpx.get(wsdl, timeout=5, trust_env=False).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
