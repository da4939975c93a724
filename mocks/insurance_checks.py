"""Checks the insurance platform makes of a request beyond its schema: the insured area against the person."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mocks.population import Person


def _psn_nos(node: Any, found: list[str]) -> list[str]:
    """Every `psn_no` string in a JSON document, in document order, appended to `found` (a plain recursion, not
    nested generators: this runs on every request; the depth is bounded by the contract's JSON limits)."""
    if type(node) is dict:
        for key, value in node.items():
            if key == "psn_no" and type(value) is str:
                found.append(value)
            elif type(value) is dict or type(value) is list:
                _psn_nos(value, found)
    elif type(node) is list:
        for value in node:
            if type(value) is dict or type(value) is list:
                _psn_nos(value, found)
    return found


def people_named(body: dict[str, Any]) -> list[str]:
    """The person numbers a request's input names, each once, in document order."""
    return list(dict.fromkeys(_psn_nos(body.get("input"), [])))


def insured_area_problem(body: dict[str, Any], people: Mapping[str, Person], named: list[str] | None = None) -> str | None:
    """Why the envelope's insuplc_admdvs does not fit the person the input names (None when it does).

    The platform routes a visit to the insured area's fund: a hospital that sends its own area (mdtrtarea_admvs)
    or a stale one for a patient insured elsewhere is refused, whatever the schema says. `named`: `people_named(body)`,
    when the caller has it already."""
    area = body.get("insuplc_admdvs")
    if not area:
        return None  # a missing area is the contract rule psn-no-needs-insuplc's finding
    for psn_no in people_named(body) if named is None else named:
        person = people.get(psn_no)
        if person is not None and person.insuplc_admdvs != area:
            return (f"参保地医保区划 insuplc_admdvs {area} 与人员 {psn_no} 的参保地 {person.insuplc_admdvs} 不符，"
                    "请按人员信息获取（1101）返回的参保地上传")
    return None
