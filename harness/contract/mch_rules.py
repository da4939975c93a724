"""The maternal-child platform's record rules beyond the XSD: ID check characters, date order, report deadlines.

Both sides apply them: the platform (mock) refuses a record that breaks one, a hospital's connector checks before
sending. They run on records that are already valid against their XSD. Deadlines come from the contract's code
tables `report_deadline_days` and `report_event_element`, so a policy change is a contract edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lxml import etree

from harness.contract import xmlsafe
from harness.contract.findings import Finding, Severity
from harness.contract.identifiers import resident_id_problem
from harness.contract.model import Contract
from harness.contract.soap_validate import location_of

RESIDENT_ID_CARD = "01"
"""身份证件类别 01 居民身份证: the only type whose number has a GB 11643 check character."""
CORRECTION = "2"
RULE_CODES = {"id-check": "3001", "date-order": "3002", "future-date": "3002", "deadline": "3003"}
"""Rule -> the platform's record error code (contract code table `record_error`)."""

# (earlier element, later element, may they be equal) per record type
ORDER: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "DELIVERY": (("lastMenstrualPeriod", "deliveryDateTime", False),),
    "PRENATAL_FIRST": (("lastMenstrualPeriod", "visitDate", False), ("lastMenstrualPeriod", "expectedDeliveryDate", False),
                       ("motherBirthDate", "visitDate", False)),
    "HIGH_RISK": (("lastMenstrualPeriod", "assessmentDate", False),),
    "BIRTH_CERT_FIRST": (("birthDateTime", "issueDate", True),),
    "BIRTH_CERT_REISSUE": (("birthDate", "issueDate", True),),
    "BIRTH_CERT_REPLACE": (("birthDate", "issueDate", True),),
    "NEWBORN_SCREENING": (("birthDate", "sampleDate", True), ("sampleDate", "screeningDate", True)),
    "HEARING_SCREENING": (("birthDate", "screeningDate", True),),
    "POSTPARTUM_42D": (("deliveryDate", "checkDate", False),),
    "BIRTH_DEFECT": (("birthDate", "diagnosisDate", True),),
    "MATERNAL_DEATH": (("motherBirthDate", "deathDateTime", False), ("deliveryDate", "deathDateTime", True)),
}


@dataclass(frozen=True)
class Deadline:
    element: str
    days: int


def deadlines(contract: Contract) -> dict[str, Deadline]:
    """Record type -> the event element and the days allowed from it, read from the contract's code tables."""
    days = contract.code_tables.get("report_deadline_days")
    events = contract.code_tables.get("report_event_element")
    if days is None or events is None:
        return {}
    return {t: Deadline(events.values[t], int(d)) for t, d in days.values.items() if t in events.values}


# Elements whose local name holds IdCard, anywhere in the record: one walk in libxml2 (cheaper than a tag split per
# element in Python, and than testing the suffix in XPath); the few it finds are tested for the suffix in Python.
_ID_CARDS = etree.XPath("descendant-or-self::*[contains(local-name(), 'IdCard')]")


_XS = "{http://www.w3.org/2001/XMLSchema}"


def id_card_names(folder: Path) -> tuple[str, ...] | None:
    """The local names ending in IdCard that the schemas under a contract's `folder` declare (read once per contract,
    so that a record's ID cards are found by name: `record_rules(id_cards=...)`); None when a schema lets a record
    carry elements it does not declare (a wildcard), so that any element may be one."""
    names: set[str] = set()
    for path in sorted(folder.rglob("*.xsd")):
        schema = xmlsafe.parse_file(path).getroot()
        if next(schema.iter(f"{_XS}any"), None) is not None:
            return None
        names.update(n for e in schema.iter(f"{_XS}element") if (n := e.get("name", "")).endswith("IdCard"))
    return tuple(sorted(names))


def _id_cards(root: etree._Element, names: tuple[str, ...] | None = None) -> list[etree._Element]:
    """`root` and the elements under it whose local name ends in IdCard, in document order: with `names` (all such
    names the record's schema declares), by lxml's tag matching in C; without, by one XPath walk of every element."""
    if names is not None:
        return list(root.iter(*("{*}" + name for name in names))) if names else []
    return [e for e in _ID_CARDS(root) if e.tag.endswith("IdCard")]


def child_named(parent: etree._Element, name: str) -> etree._Element | None:
    """The first element child of `parent` with local name `name`, in any namespace or none: lxml's child iterator
    matching the name in C (`find` would go through ElementPath's selectors in Python first)."""
    return next(parent.iterchildren("{*}" + name), None)


def _date(element: etree._Element | None) -> date | None:
    text = (element.text or "").strip() if element is not None else ""
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def record_rules(record_type: str, root: etree._Element, today: date, limits: dict[str, Deadline],
                 prefix: str = "", id_cards: tuple[str, ...] | None = None) -> list[Finding]:
    """Findings (errors) for one XSD-valid record; locations as the validator's, after `prefix` (e.g. `payload#`).
    `id_cards`: `id_card_names` of the record's contract (None: every element is looked at)."""
    findings: list[Finding] = []
    for element in _id_cards(root, id_cards):
        name = element.tag.rpartition("}")[2]
        parent = element.getparent()
        id_type = child_named(parent, name[: -len("IdCard")] + "IdType") if parent is not None else None
        if id_type is None or (id_type.text or "").strip() == RESIDENT_ID_CARD:
            problem = resident_id_problem((element.text or "").strip())
            if problem:
                findings.append(Finding(Severity.ERROR, prefix + location_of(element), f"{name}: {problem}", "id-check"))
    for earlier, later, equal in ORDER.get(record_type, ()):
        first, second = child_named(root, earlier), child_named(root, later)
        a, b = _date(first), _date(second)
        if a is not None and b is not None and (a > b or (a == b and not equal)):
            assert second is not None
            findings.append(Finding(Severity.ERROR, prefix + location_of(second),
                                    f"{later} ({b}) must be {'on or ' if equal else ''}after {earlier} ({a})", "date-order"))
    limit = limits.get(record_type)
    if limit is not None:
        event_el = child_named(root, limit.element)
        event = _date(event_el)
        if event is not None and event_el is not None:
            if event > today:
                findings.append(Finding(Severity.ERROR, prefix + location_of(event_el),
                                        f"{limit.element} ({event}) is in the future", "future-date"))
            elif (today - event).days > limit.days and child_named(root, "lateReason") is None:
                findings.append(Finding(Severity.ERROR, prefix + location_of(root) + "/lateReason",
                                        f"reported {(today - event).days} days after {limit.element} (limit {limit.days}): "
                                        "lateReason is required", "deadline"))
    return findings
