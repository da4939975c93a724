"""The artefact scanner the masking tests rely on: it finds a mobile number wherever a reader would see one, and
not eleven digits that happen to sit inside a hex digest or be a step's duration in nanoseconds (both change every
run, so such a hit came and went)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.report.identifiers import unmasked

DIGEST = "a1b2c3d4e5f60718293a4b5c6d7e8f9a" + "13912345678" + "bcdef0123456789abcdef"


def test_a_mobile_number_beside_letters_or_punctuation_is_found(tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text("联系电话:13912345678; tel13912345678x", encoding="utf-8")
    assert unmasked(tmp_path) == ["note.txt: 13912345678"]


def test_digits_inside_a_hex_digest_are_no_mobile_number(tmp_path: Path) -> None:
    assert len(DIGEST) == 64
    (tmp_path / "signoff.sha256").write_text(f"{DIGEST}  signoff.pdf\n", encoding="utf-8")
    (tmp_path / "manifest.json").write_text(f'{{"sha256": "{DIGEST}"}}', encoding="utf-8")
    assert unmasked(tmp_path) == []
    (tmp_path / "leak.txt").write_text(f"{DIGEST} 13800138000", encoding="utf-8")
    assert unmasked(tmp_path) == ["leak.txt: 13800138000"]


def test_digits_inside_a_digest_the_pdf_wrapped_are_no_mobile_number(tmp_path: Path) -> None:
    """The sign-off PDF's text gives a 40-character git commit as two lines; a commit like `dca85c17496723099d58...`
    holds eleven digits that begin 17."""
    commit = "git commit dca85c17496723099d58dafb7a652\nc254cc3fb04\n"
    digest = "fe961de23e5e81\nb8c9ea6ef1b5d0801bacd449c50fe3b502f21\ndaaa13912345678\n"
    (tmp_path / "signoff.txt").write_text(commit + digest, encoding="utf-8")
    assert unmasked(tmp_path) == []
    (tmp_path / "leak.txt").write_text("c254cc3fb04\n13800138000\nabc", encoding="utf-8")  # a number on its own line
    assert unmasked(tmp_path) == ["leak.txt: 13800138000"]


def test_a_step_duration_in_nanoseconds_is_no_mobile_number(tmp_path: Path) -> None:
    """A step of 17.8 s on a loaded machine: cucumber.json says `"duration": 17812341673`."""
    step = '{"result": {"status": "failed", "duration": 17812341673}}'
    (tmp_path / "cucumber.json").write_text(f"[{step}]", encoding="utf-8")
    assert unmasked(tmp_path) == []
    (tmp_path / "cucumber.json").write_text(f'[{step}, {{"name": "手机 17812341673", "phone": "13800138000"}}]',
                                            encoding="utf-8")
    assert unmasked(tmp_path) == ["cucumber.json: 13800138000", "cucumber.json: 17812341673"]


def test_an_identifier_a_json_file_writes_with_escapes_is_found(tmp_path: Path) -> None:
    """Written with ASCII escapes (a name; a digit of text escaped inside a string; a line of JSON lines): what a
    reader of the decoded JSON sees is found in the file's text with its escapes read back."""
    (tmp_path / "evidence.json").write_text(
        json.dumps({"note": "患者 张三", "phone": "13800138000", "id": "\\u0031" + "1010519491231002X"}), encoding="utf-8")
    (tmp_path / "events.jsonl").write_text('{"a": 1}\n' + json.dumps({"who": "李秀英 13912345678"}) + "\n",
                                           encoding="utf-8")
    assert "张三" not in (tmp_path / "evidence.json").read_text(encoding="utf-8")
    assert unmasked(tmp_path) == ["events.jsonl (unescaped): 13912345678", "events.jsonl (unescaped): 李秀英",
                                  "events.jsonl: 13912345678", "evidence.json (unescaped): 11010519491231002X",
                                  "evidence.json (unescaped): 13800138000", "evidence.json (unescaped): 张三",
                                  "evidence.json: 13800138000"]


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_name_in_json_kept_as_a_string_inside_json_is_found(tmp_path: Path, depth: int) -> None:
    """A raw body (JSON written with ASCII escapes, as httpx sends it) kept as a string in a JSON artefact, at
    `depth` levels: its escapes carry one backslash more each level, and the name still reads back whole."""
    text = json.dumps({"psn_name": "张三", "memo": "李秀英"})
    for _ in range(depth):
        text = json.dumps({"body": text})
    (tmp_path / "evidence.json").write_text(text, encoding="utf-8")
    assert "\\\\u5f20" in text
    assert unmasked(tmp_path) == ["evidence.json (unescaped): 张三", "evidence.json (unescaped): 李秀英"]
