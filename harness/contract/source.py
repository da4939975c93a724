"""Read YAML and JSON contract files while keeping line numbers, so that problems point at `path:line`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.contract import parse_cache
from harness.contract.errors import ContractError, ContractProblem
from harness.contract.verdicts import text_digest


@dataclass
class SourceFile:
    """A parsed data file: plain Python data plus a map from JSON pointer to 1-based line.

    For JSON the map is built only when a problem needs a line (locating costs far more than parsing).
    """

    path: Path
    data: Any
    lines: dict[str, int] = field(default_factory=dict)
    text: str | None = None
    digest: str = ""
    """SHA-256 of the file's text (empty for data not read from a file): what harness.contract.verdicts keys on."""

    def line_of(self, pointer: str) -> int:
        """Line of the nearest located ancestor of `pointer` (0 when nothing is located)."""
        if self.text is not None and not self.lines:
            self.lines = _locate(self.path, self.text)
        probe = pointer
        while True:
            if probe in self.lines:
                return self.lines[probe]
            if not probe:
                return 0
            probe = probe.rsplit("/", 1)[0]

    def problem(self, pointer: str, message: str) -> ContractProblem:
        return ContractProblem(self.path, self.line_of(pointer), message)


def escape_pointer_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _plain(root: Any, pointer: str, lines: dict[str, int]) -> Any:
    """Turn ruamel's round-trip nodes into dicts/lists, recording where each key and item stands."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    def plain(node: Any, pointer: str) -> Any:
        if isinstance(node, CommentedMap):
            out: dict[str, Any] = {}
            for key, value in node.items():
                child = f"{pointer}/{escape_pointer_token(str(key))}"
                try:
                    lines[child] = node.lc.key(key)[0] + 1
                except (KeyError, TypeError):  # keys from merges carry no position
                    pass
                out[str(key)] = plain(value, child)
            return out
        if isinstance(node, CommentedSeq):
            items = []
            for index, value in enumerate(node):
                child = f"{pointer}/{index}"
                try:
                    lines[child] = node.lc.item(index)[0] + 1
                except (KeyError, TypeError):
                    pass
                items.append(plain(value, child))
            return items
        return node

    return plain(root, pointer)


def _locate(path: Path, text: str) -> dict[str, int]:
    """Line numbers for a JSON document, read through the YAML parser (JSON is YAML 1.2)."""
    from ruamel.yaml import YAML

    lines: dict[str, int] = {"": 1}
    try:
        _plain(YAML(typ="rt").load(text), "", lines)
    except Exception:  # noqa: BLE001 - locating is best effort; the strict JSON parse already succeeded
        pass
    return lines


def load_source(path: Path) -> SourceFile:
    """Parse a `.yaml`/`.yml`/`.json` file; a syntax error becomes a ContractError at its line. YAML parsed before
    from the same text comes from harness.contract.parse_cache."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError([ContractProblem(path, 0, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError([ContractProblem(path, 0, f"cannot read file: {exc}")]) from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ContractError([ContractProblem(path, exc.lineno, f"invalid JSON: {exc.msg}")]) from None
        return SourceFile(path, data, {}, text, text_digest(text))
    cached = parse_cache.get(text)
    if cached is not None:
        return SourceFile(path, cached[0], cached[1], digest=text_digest(text))
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    lines: dict[str, int] = {"": 1}
    try:
        node = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        reason = exc.problem or exc.context or "syntax error"
        raise ContractError([ContractProblem(path, line, f"invalid YAML: {reason}")]) from None
    except Exception as exc:  # noqa: BLE001 - ruamel raises several unrelated types for bad input
        raise ContractError([ContractProblem(path, 0, f"invalid YAML: {exc}")]) from None
    data = _plain(node, "", lines)
    parse_cache.put(text, data, lines)
    return SourceFile(path, data, lines, digest=text_digest(text))
