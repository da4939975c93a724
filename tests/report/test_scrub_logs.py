"""harness.report.writer.scrub_logs on cucumber.json: a file whose strings masking leaves as they are is kept byte for
byte (its own layout), any other is rewritten with every string masked, exactly as comparing the two encodings did."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.config import load_config
from harness.report.masking import Masker
from harness.report.writer import CUCUMBER_JSON, scrub_logs
from tests.report.maskers import new_masker
from tests.strategies import examples

IDENTIFIERS = st.sampled_from(["110105194912310029", "13812345678", "张三", "psn_no=4403001", "Given", "passed",
                               "features/insurance/a.feature", ""])
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=False),
                   IDENTIFIERS, st.text(max_size=12))
DOCUMENTS = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                         max_leaves=20)


def _masker() -> Masker:
    """The project's masker as it is built, a new one each call (tests/report/maskers.py)."""
    return new_masker(Masker.from_config, load_config().masking)


def _by_encodings(text: str, masker: Masker) -> str:
    """What the file became when the two encodings were compared (the reference)."""
    document = json.loads(text)
    masked = json.dumps(masker.strings(document))
    return masked if masked != json.dumps(document) else text


@settings(max_examples=examples(150), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=DOCUMENTS)
def test_cucumber_json_is_kept_or_rewritten_as_comparing_the_encodings_did(tmp_path: Path, document: Any) -> None:
    text = json.dumps(document, indent=1, ensure_ascii=False)  # a layout of its own, as pytest-bdd writes it
    path = tmp_path / CUCUMBER_JSON
    path.write_text(text, encoding="utf-8")
    scrub_logs(tmp_path, _masker())
    assert path.read_text(encoding="utf-8") == _by_encodings(text, _masker())


def test_an_identifier_is_masked_and_a_clean_file_kept(tmp_path: Path) -> None:
    path = tmp_path / CUCUMBER_JSON
    clean = '[ {"name": "结算", "elements": [{"steps": [{"name": "Given a visit", "duration": 1.5}]}]} ]'
    path.write_text(clean, encoding="utf-8")
    scrub_logs(tmp_path, _masker())
    assert path.read_text(encoding="utf-8") == clean, "kept as it was written"

    path.write_text('[{"name": "患者 110105194912310029", "nan": NaN}]', encoding="utf-8")
    scrub_logs(tmp_path, _masker())
    rewritten = json.loads(path.read_text(encoding="utf-8"))
    assert "110105194912310029" not in rewritten[0]["name"] and "*" in rewritten[0]["name"]
    assert math.isnan(rewritten[0]["nan"])
