"""The HL7 profile differ (`hl7v2-mllp`): tiny hand-made contract pairs for each classification, both directions,
and the real LIS upgrade 2023.1 → 2024.1 through `hih contract diff`."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import main
from harness.contract.diff import Change, Classification, diff_contracts
from harness.contract.loader import ContractStore
from tests.conftest import CONTRACTS, ROOT

BREAKING, COMPATIBLE, INFO = Classification.BREAKING, Classification.COMPATIBLE, Classification.INFO

HL7: dict[str, Any] = {
    "versions": ["2.5.1"],
    "acknowledgement": {"mode": "original"},
    "charset": {"default": "UNICODE UTF-8", "accepted": ["UNICODE UTF-8", "GB 18030-2000"]},
    "segments": "profiles/segments.yaml",
}
SEGMENTS: dict[str, Any] = {
    "MSH": {"title": "Message header", "fields": [
        {"pos": 1, "name": "Field separator", "type": "ST", "usage": "R", "len": 1},
        {"pos": 2, "name": "Encoding characters", "type": "ST", "usage": "R", "len": 5},
        {"pos": 9, "name": "Message type", "type": "MSG", "usage": "R"},
        {"pos": 18, "name": "Character set", "type": "ID", "usage": "O", "len": 16},
    ]},
    "PID": {"title": "Patient identification", "fields": [
        {"pos": 3, "name": "Patient identifier list", "type": "CX", "usage": "R", "card": "1..*", "len": 250,
         "components": [{"pos": 1, "name": "ID number", "type": "ST", "usage": "R", "len": 20},
                        {"pos": 4, "name": "Assigning authority", "type": "HD", "usage": "O"}]},
        {"pos": 5, "name": "Patient name", "type": "XPN", "usage": "R", "len": 250},
        {"pos": 8, "name": "Sex", "type": "IS", "usage": "O", "len": 1, "table": "HL70001"},
        {"pos": 19, "name": "SSN", "type": "ST", "usage": "O", "len": 18},
    ]},
    "OBX": {"title": "Observation", "fields": [
        {"pos": 2, "name": "Value type", "type": "ID", "usage": "R", "len": 3},
        {"pos": 8, "name": "Abnormal flags", "type": "IS", "usage": "O", "card": "0..5", "len": 5},
        {"pos": 11, "name": "Observation result status", "type": "ID", "usage": "R", "len": 1, "table": "HL70085"},
    ]},
    "SPM": {"title": "Specimen", "fields": [{"pos": 2, "name": "Specimen ID", "type": "EIP", "usage": "R"}]},
    "NTE": {"title": "Notes", "fields": [{"pos": 3, "name": "Comment", "type": "FT", "usage": "O"}]},
}
TABLES = {
    "HL70001": {"title": "Sex", "values": {"F": "Female", "M": "Male", "U": "Unknown"}},
    "HL70085": {"title": "Result status", "values": {"P": "Preliminary", "F": "Final", "C": "Corrected", "X": "Cannot"}},
}


def profile(key: str, sequence: list[Any], segments: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"message": key, "structure": key.replace("^", "_"), "sequence": sequence, "segments": segments or {}}


SEQUENCE = ["MSH R 1..1", "PID R 1..1", "NTE O 0..*",
            {"group": "OBSERVATION", "usage": "O", "card": "0..*", "sequence": ["OBX R 1..1"]}]


def base() -> dict[str, Any]:
    """One message each way, sharing the segment library: ORU^R01 to the hospital, ADT^A01 from it."""
    return {
        "hl7": copy.deepcopy(HL7),
        "segments": copy.deepcopy(SEGMENTS),
        "tables": copy.deepcopy(TABLES),
        "messages": {
            "ADT^A01": {"name": "Admit", "direction": "from_hospital", "profile": "profiles/ADT_A01.yaml"},
            "ORU^R01": {"name": "Result", "direction": "to_hospital", "profile": "profiles/ORU_R01.yaml"},
        },
        "profiles": {
            "profiles/ADT_A01.yaml": profile("ADT^A01", copy.deepcopy(SEQUENCE)),
            "profiles/ORU_R01.yaml": profile("ORU^R01", copy.deepcopy(SEQUENCE)),
        },
    }


def write(root: Path, version: str, spec: dict[str, Any]) -> None:
    folder = root / "t" / version
    (folder / "profiles").mkdir(parents=True)
    contract = {"interface": "t", "version": version, "title": "test", "transport": "hl7v2-mllp",
                "hl7": spec["hl7"], "messages": spec["messages"], "code_tables": spec["tables"]}
    (folder / "contract.yaml").write_text(yaml.safe_dump(contract, allow_unicode=True), encoding="utf-8")
    (folder / "profiles" / "segments.yaml").write_text(yaml.safe_dump({"segments": spec["segments"]}), encoding="utf-8")
    for rel, data in spec["profiles"].items():
        (folder / rel).write_text(yaml.safe_dump(data), encoding="utf-8")


def diff(tmp_path: Path, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    write(tmp_path, "1", old)
    write(tmp_path, "2", new)
    store = ContractStore(tmp_path)
    return diff_contracts(store.load("t", "1"), store.load("t", "2")).changes


def at(changes: list[Change], location: str) -> list[Change]:
    return [c for c in changes if c.location == location]


def one(changes: list[Change], location: str) -> Change:
    found = at(changes, location)
    assert len(found) == 1, [(c.location, c.message) for c in changes]
    return found[0]


def field(spec: dict[str, Any], segment: str, pos: int) -> dict[str, Any]:
    return next(f for f in spec["segments"][segment]["fields"] if f["pos"] == pos)


def test_no_change_no_difference(tmp_path: Path) -> None:
    assert diff(tmp_path, base(), base()) == []


# -- fields and components: per direction -------------------------------------------------------------------------
def test_component_newly_required_breaks_the_sender_and_is_a_promise_to_the_reader(tmp_path: Path) -> None:
    new = base()
    field(new, "PID", 3)["components"][1]["usage"] = "R"
    changes = diff(tmp_path, base(), new)

    sent, read = one(changes, "ADT^A01 PID-3.4"), one(changes, "ORU^R01 PID-3.4")
    assert (sent.classification, sent.category, sent.side) == (BREAKING, "usage-changed", "request")
    assert "O → R" in sent.message and "the hospital sends it" in sent.message and "rejected" in sent.message
    assert (read.classification, read.side) == (COMPATIBLE, "response")
    assert "the hospital reads it" in read.message
    assert sent.targets[0].operation == "ADT^A01" and sent.targets[0].path == "PID-3.4"


def test_field_no_longer_required_breaks_the_reader(tmp_path: Path) -> None:
    new = base()
    field(new, "PID", 5)["usage"] = "RE"
    changes = diff(tmp_path, base(), new)

    assert one(changes, "ADT^A01 PID-5").classification is COMPATIBLE
    read = one(changes, "ORU^R01 PID-5")
    assert read.classification is BREAKING and "without the field" in read.message


def test_field_now_x(tmp_path: Path) -> None:
    new = base()
    field(new, "PID", 19).update(usage="X")
    field(new, "PID", 5).update(usage="X", card="0..0")
    changes = diff(tmp_path, base(), new)

    assert one(changes, "ADT^A01 PID-19").classification is BREAKING  # senders that fill it are rejected
    assert one(changes, "ORU^R01 PID-19").classification is COMPATIBLE  # it was optional: readers cope
    assert one(changes, "ORU^R01 PID-5").classification is BREAKING  # it was required: readers lose it


def test_length_shortened_and_lengthened(tmp_path: Path) -> None:
    new = base()
    field(new, "PID", 19)["len"] = 10
    field(new, "MSH", 18)["len"] = 40
    changes = diff(tmp_path, base(), new)

    assert [c.classification for c in at(changes, "ADT^A01 PID-19")] == [BREAKING]
    assert [c.classification for c in at(changes, "ORU^R01 PID-19")] == [COMPATIBLE]
    assert [c.classification for c in at(changes, "ADT^A01 MSH-18")] == [COMPATIBLE]
    longer = one(changes, "ORU^R01 MSH-18")
    assert (longer.classification, longer.category, longer.old, longer.new) == (BREAKING, "length-changed", 16, 40)


def test_datatype_changed_breaks_both(tmp_path: Path) -> None:
    new = base()
    field(new, "PID", 19)["type"] = "CX"
    changes = diff(tmp_path, base(), new)

    assert {c.classification for c in changes} == {BREAKING}
    assert {c.location for c in changes} == {"ADT^A01 PID-19", "ORU^R01 PID-19"}
    assert all(c.category == "type-changed" for c in changes)


def test_value_set_narrowed_and_widened(tmp_path: Path) -> None:
    new = base()
    field(new, "OBX", 11)["values"] = ["P", "F", "C"]
    changes = diff(tmp_path, base(), new)

    narrowed_sent, narrowed_read = one(changes, "ADT^A01 OBX-11"), one(changes, "ORU^R01 OBX-11")
    assert (narrowed_sent.classification, narrowed_sent.category) == (BREAKING, "values-removed")
    assert narrowed_sent.old == ["X"]
    assert narrowed_read.classification is COMPATIBLE and "subset" in narrowed_read.message

    changes = diff(tmp_path / "back", new, base())
    assert one(changes, "ADT^A01 OBX-11").classification is COMPATIBLE
    widened = one(changes, "ORU^R01 OBX-11")
    assert (widened.classification, widened.category, widened.new) == (BREAKING, "values-added", ["X"])


def test_a_whole_table_is_compared_once_with_its_bound_fields(tmp_path: Path) -> None:
    new = base()
    new["tables"]["HL70001"]["values"].pop("U")
    changes = diff(tmp_path, base(), new)

    table = one(changes, "contract.yaml /code_tables/HL70001/values")
    assert table.classification is BREAKING  # the hospital sends PID-8 in ADT^A01
    assert {(t.operation, t.side, t.path) for t in table.targets} == {
        ("ADT^A01", "request", "PID-8"), ("ORU^R01", "response", "PID-8")}
    assert not [c for c in changes if c.location.endswith("PID-8")]


def test_cardinality_of_a_field(tmp_path: Path) -> None:
    new = base()
    field(new, "OBX", 8)["card"] = "0..*"
    changes = diff(tmp_path, base(), new)

    assert one(changes, "ADT^A01 OBX-8").classification is COMPATIBLE
    more = one(changes, "ORU^R01 OBX-8")
    assert (more.classification, more.old, more.new) == (BREAKING, "0..5", "0..*")


def test_profile_override_counts_where_it_is_used(tmp_path: Path) -> None:
    new = base()
    new["profiles"]["profiles/ORU_R01.yaml"]["segments"] = {"OBX": {"fields": [{"pos": 11, "values": ["F"]}]}}
    changes = diff(tmp_path, base(), new)

    assert [c.location for c in changes] == ["ORU^R01 OBX-11"]
    assert changes[0].classification is COMPATIBLE


# -- segments ---------------------------------------------------------------------------------------------------
def test_segment_newly_required_and_added(tmp_path: Path) -> None:
    new = base()
    for rel in new["profiles"]:
        seq = new["profiles"][rel]["sequence"]
        seq[2] = "NTE R 1..*"
        seq.append({"group": "SPECIMEN", "usage": "R", "card": "1..*", "sequence": ["SPM R 1..1"]})
    changes = diff(tmp_path, base(), new)

    spm = one(changes, "ADT^A01 SPM")
    assert (spm.classification, spm.category, spm.new) == (BREAKING, "segment-added", "R 1..*")
    assert one(changes, "ORU^R01 SPM").classification is COMPATIBLE
    nte = one(changes, "ADT^A01 NTE")
    assert (nte.classification, nte.category) == (BREAKING, "usage-changed")
    assert one(changes, "ORU^R01 NTE").classification is COMPATIBLE


def test_optional_segment_added_is_compatible(tmp_path: Path) -> None:
    new = base()
    for rel in new["profiles"]:
        new["profiles"][rel]["sequence"].append("SPM O 0..1")
    changes = diff(tmp_path, base(), new)

    assert {c.classification for c in changes} == {COMPATIBLE}
    assert {c.location for c in changes} == {"ADT^A01 SPM", "ORU^R01 SPM"}


def test_segment_removed(tmp_path: Path) -> None:
    old, new = base(), base()
    for spec in (old, new):
        for rel in spec["profiles"]:
            spec["profiles"][rel]["sequence"].insert(2, "SPM RE 0..1")
    for rel in new["profiles"]:
        new["profiles"][rel]["sequence"].remove("SPM RE 0..1")
        new["profiles"][rel]["sequence"].remove("NTE O 0..*")
    changes = diff(tmp_path, old, new)

    assert one(changes, "ADT^A01 SPM").classification is BREAKING  # refused as an unexpected segment
    assert "unexpected segment" in one(changes, "ADT^A01 SPM").message
    assert one(changes, "ORU^R01 SPM").classification is BREAKING  # it was RE: readers counted on it
    assert one(changes, "ADT^A01 NTE").classification is BREAKING
    removed_optional = one(changes, "ORU^R01 NTE")
    assert (removed_optional.classification, removed_optional.category) == (COMPATIBLE, "segment-removed")


def test_group_cardinality_and_repeated_segments(tmp_path: Path) -> None:
    new = base()
    for rel in new["profiles"]:
        seq = new["profiles"][rel]["sequence"]
        seq[3]["card"] = "0..3"
        seq.append({"group": "SPECIMEN", "usage": "O", "card": "0..*", "sequence": ["SPM R 1..1", "OBX O 0..*"]})
    changes = diff(tmp_path, base(), new)

    assert one(changes, "ADT^A01 OBSERVATION/OBX").classification is BREAKING  # at most 3 now
    assert one(changes, "ORU^R01 OBSERVATION/OBX").classification is COMPATIBLE
    assert one(changes, "ORU^R01 SPECIMEN/OBX").category == "segment-added"


# -- messages and settings ----------------------------------------------------------------------------------------
def test_messages_removed_added_replaced_and_response(tmp_path: Path) -> None:
    old, new = base(), base()
    old["messages"]["ORM^O01"] = {"name": "Order", "direction": "from_hospital", "profile": "profiles/ORM_O01.yaml",
                                  "response": "ACK"}
    old["messages"]["ACK"] = {"name": "Ack", "direction": "both", "profile": "profiles/ACK.yaml"}
    old["profiles"]["profiles/ORM_O01.yaml"] = profile("ORM^O01", ["MSH R 1..1", "PID R 1..1"])
    old["profiles"]["profiles/ACK.yaml"] = profile("ACK", ["MSH R 1..1"])
    new["messages"]["OML^O21"] = {"name": "Order", "direction": "from_hospital", "profile": "profiles/OML_O21.yaml"}
    new["messages"]["ACK"] = old["messages"]["ACK"]
    new["profiles"]["profiles/OML_O21.yaml"] = profile("OML^O21", ["MSH R 1..1", "PID R 1..1", "SPM R 1..1"])
    new["profiles"]["profiles/ACK.yaml"] = old["profiles"]["profiles/ACK.yaml"]
    del new["messages"]["ORU^R01"]
    old["messages"]["ADT^A01"]["response"] = "ACK"
    changes = diff(tmp_path, old, new)

    orm = one(changes, "contract.yaml /messages/ORM^O01")
    assert (orm.classification, orm.category) == (BREAKING, "operation-removed")
    assert "no longer accepts it" in orm.message and "OML^O21" in orm.message
    oru = one(changes, "contract.yaml /messages/ORU^R01")
    assert oru.classification is BREAKING and "no longer sends it" in oru.message
    oml = one(changes, "contract.yaml /messages/OML^O21")
    assert (oml.classification, oml.category) == (COMPATIBLE, "operation-added")
    # the replacement's profile is compared with the one it replaces
    assert one(changes, "OML^O21 SPM").classification is BREAKING
    response = one(changes, "contract.yaml /messages/ADT^A01/response")
    assert (response.classification, response.category) == (BREAKING, "response-changed")
    assert len([c for c in changes if c.operation == "ORM^O01"]) == 1  # no duplicate from the common comparison


def test_direction_changed(tmp_path: Path) -> None:
    new = base()
    new["messages"]["ORU^R01"]["direction"] = "both"
    changes = diff(tmp_path, base(), new)

    change = one(changes, "contract.yaml /messages/ORU^R01/direction")
    assert (change.classification, change.category) == (BREAKING, "kind-changed")
    assert len(changes) == 1


def test_settings(tmp_path: Path) -> None:
    new = base()
    new["hl7"]["versions"] = ["2.5.1", "2.6"]
    new["hl7"]["charset"] = {"default": "GB 18030-2000", "accepted": ["GB 18030-2000"], "when_blank": "error"}
    new["hl7"]["acknowledgement"] = {"mode": "enhanced", "accept_ack": "AL", "application_ack": "NE"}
    field(new, "MSH", 18)["usage"] = "R"
    changes = diff(tmp_path, base(), new)
    by = {c.location: c for c in changes if c.location.startswith("contract.yaml /hl7")}

    assert by["contract.yaml /hl7/versions"].classification is COMPATIBLE
    assert by["contract.yaml /hl7/charset/default"].classification is BREAKING
    assert by["contract.yaml /hl7/charset/accepted"].classification is BREAKING
    assert "UNICODE UTF-8 no longer accepted" in by["contract.yaml /hl7/charset/accepted"].message
    assert by["contract.yaml /hl7/charset/when_blank"].classification is BREAKING
    assert by["contract.yaml /hl7/acknowledgement/mode"].classification is BREAKING
    assert one(changes, "ADT^A01 MSH-18").classification is BREAKING  # MSH-18 now required of the sender

    dropped = diff(tmp_path / "back", new, base())
    versions = one(dropped, "contract.yaml /hl7/versions")
    assert versions.classification is BREAKING and "2.6 no longer accepted" in versions.message


# -- the LIS upgrade ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lis() -> list[Change]:
    store = ContractStore(CONTRACTS)
    return diff_contracts(store.load("lis", "2023.1"), store.load("lis", "2024.1")).changes


@pytest.mark.parametrize(("location", "category"), [
    ("contract.yaml /hl7/versions", "hl7-changed"),
    ("contract.yaml /hl7/charset/default", "hl7-changed"),
    ("contract.yaml /hl7/charset/accepted", "hl7-changed"),
    ("contract.yaml /hl7/charset/when_blank", "hl7-changed"),
    ("contract.yaml /messages/ORM^O01", "operation-removed"),
    ("contract.yaml /messages/ORR^O02", "operation-removed"),
    ("ADT^A01/A04/A08 PID-3.4", "usage-changed"),
    ("ADT^A01/A04/A08 PID-3.5", "usage-changed"),
    ("ADT^A01/A04/A08 PV1-19", "usage-changed"),
    ("ADT^A01/A04/A08 PID-19", "usage-changed"),
    ("ADT^A01/A04/A08 MSH-9.3", "usage-changed"),
    ("OML^O21 SPM", "segment-added"),
    ("OML^O21 OBR-15", "usage-changed"),
    ("OML^O21 ORC-7", "usage-changed"),
    ("OML^O21 PV1-19", "usage-changed"),
    ("ORU^R01 OBX-2", "values-added"),
    ("ORU^R01 OBX-8", "cardinality-changed"),
])
def test_lis_upgrade_breaking_changes(lis: list[Change], location: str, category: str) -> None:
    assert any(c.classification is BREAKING and c.category == category for c in at(lis, location)), \
        [(c.classification.value, c.category, c.message) for c in at(lis, location)]


def test_lis_upgrade_details(lis: list[Change]) -> None:
    msh18 = {c.category: c for c in at(lis, "ADT^A01/A04/A08 MSH-18")}
    assert msh18["usage-changed"].classification is BREAKING
    assert msh18["values-removed"].old == ["GB 18030-2000"]
    # narrowed result statuses reach the hospital's reader: a subset of what it knew, so compatible
    obx11 = one(lis, "ORU^R01 OBX-11")
    assert (obx11.classification, obx11.category) == (COMPATIBLE, "values-removed")
    assert one(lis, "ORU^R01 OBR-25").classification is COMPATIBLE
    # the version table loses 2.3.1 in MSH-12.1, which the hospital sends
    table = [c for c in at(lis, "contract.yaml /code_tables/HL70104/values") if c.category == "code-values-removed"]
    assert table and table[0].classification is BREAKING and any(t.path == "MSH-12.1" for t in table[0].targets)
    assert one(lis, "contract.yaml /messages/OML^O21").classification is COMPATIBLE


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> tuple[int, str]:
    code = main(["contract", "diff", "lis", "2023.1", "2024.1", "--history", str(tmp_path / "none.sqlite"), *args])
    return code, capsys.readouterr().out


def test_cli_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out = run(capsys, tmp_path)

    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("lis 2023.1 → 2024.1 (hl7v2-mllp): ") and " breaking, " in lines[0]
    assert "note: OML^O21 replaces ORM^O01 (same name and direction)" in out
    if not (ROOT / "features" / "lis").is_dir():
        assert "note: no features for lis yet" in out
    breaking = out[out.index("BREAKING"):out.index("COMPATIBLE")]
    for location in ("contract.yaml /messages/ORM^O01", "OML^O21 SPM", "ADT^A01/A04/A08 PID-3.4",
                     "ADT^A01/A04/A08 PV1-19", "contract.yaml /hl7/charset/accepted", "contract.yaml /hl7/versions"):
        assert f"  {location}\n" in breaking
    assert "OML^O21 SPM\n    segment SPM (标本 Specimen) added, R 1..*: the hospital sends it:" in out


def test_cli_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out = run(capsys, tmp_path, "--format", "json", "--features", str(tmp_path / "features"))

    assert code == 1
    doc = json.loads(out)
    assert (doc["format"], doc["transport"], doc["breaking"]) == ("hih-contract-diff/1", "hl7v2-mllp", True)
    assert doc["impact"]["static"]["scenarios"] == 0
    spm = next(c for c in doc["changes"] if c["location"] == "OML^O21 SPM")
    assert spm == {**spm, "classification": "breaking", "category": "segment-added", "operation": "OML^O21",
                   "part": "profile", "pointer": "SPM", "side": "request", "new": "R 1..*", "impacted": []}
    assert doc["counts"]["breaking"] == sum(c["classification"] == "breaking" for c in doc["changes"])


def test_cli_same_version_exits_0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["contract", "diff", "lis", "2024.1", "2024.1", "--history", str(tmp_path / "none.sqlite")]) == 0
    assert "no change" in capsys.readouterr().out
