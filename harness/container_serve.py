"""The mocks' image's entry point: `hih mock serve` for the partners chosen by arguments or by HIH_INTERFACES, each
on the image's fixed port, bound to every address of the container.

    docker run ... hih-mocks                          every partner
    docker run ... hih-mocks blood-center lis         those two
    docker run ... -e HIH_INTERFACES=pacs hih-mocks   chosen by the environment
    docker run ... hih-mocks blood-center --state /var/lib/hih/state.sqlite --allow-host training.example

Names come first; everything from the first option on goes to `hih mock serve` as it is (a `--port NAME=PORT` or
`--host` given there replaces the image's). `HIH_STATE=FILE` adds `--state FILE`. A name the image does not serve
stops it with one line and exit code 2, like every usage error of hih.
"""

from __future__ import annotations

import os
import sys

from harness.containers import IMAGE_PORTS

ADMIN = "admin"
PARTNERS = tuple(name for name in IMAGE_PORTS if name != ADMIN)
INTERFACES_ENV = "HIH_INTERFACES"
STATE_ENV = "HIH_STATE"


class ChoiceError(ValueError):
    """A partner the image does not serve."""


def chosen(names: list[str], environ: dict[str, str]) -> list[str]:
    """The partners to serve: the names given, else HIH_INTERFACES (comma or space separated), else all of them."""
    wanted = names or environ.get(INTERFACES_ENV, "").replace(",", " ").split()
    if not wanted or wanted == ["all"]:
        return list(PARTNERS)
    unknown = [name for name in wanted if name not in PARTNERS]
    if unknown:
        source = "" if names else f" (from {INTERFACES_ENV})"
        raise ChoiceError(f"the image serves no {unknown[0]!r}{source}; it serves {', '.join(PARTNERS)} (or all)")
    return list(dict.fromkeys(wanted))


def _given_ports(options: list[str]) -> set[str]:
    names = set()
    for index, option in enumerate(options):
        value = option.removeprefix("--port=") if option.startswith("--port=") else (
            options[index + 1] if option == "--port" and index + 1 < len(options) else None)
        if value is not None:
            names.add(value.partition("=")[0].strip())
    return names


def serve_arguments(argv: list[str], environ: dict[str, str]) -> list[str]:
    """The `hih` arguments for the image's command line `argv` (without the program name)."""
    split = next((n for n, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, options = argv[:split], argv[split:]
    partners = chosen(names, environ)
    given = _given_ports(options)
    arguments = ["mock", "serve"]
    if not any(o == "--host" or o.startswith("--host=") for o in options):
        arguments += ["--host", "0.0.0.0"]
    for name in partners:
        arguments += ["--interface", name]
    for name in [*partners, ADMIN]:
        if name not in given:
            arguments += ["--port", f"{name}={IMAGE_PORTS[name]}"]
    if environ.get(STATE_ENV) and not any(o == "--state" or o.startswith("--state=") for o in options):
        arguments += ["--state", environ[STATE_ENV]]
    return arguments + options


def main(argv: list[str] | None = None) -> int:
    from harness.cli import main as hih

    try:
        arguments = serve_arguments(sys.argv[1:] if argv is None else argv, dict(os.environ))
    except ChoiceError as exc:
        sys.stderr.write(f"hih: error: {exc}\n")
        return 2
    return hih(arguments)


if __name__ == "__main__":  # pragma: no cover - the image's ENTRYPOINT
    sys.exit(main())
