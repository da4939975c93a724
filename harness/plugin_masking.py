"""The hih plugin's masking of what pytest reports about a scenario: node id, names, steps, failure text, output.

A scenario names patients in its own text as well as in its messages: step text (`假如 患者 "张三"，病历号
"MRN0001"`), outline examples (a `姓名` column) and so the outline's rendered name and its node id
(`test_x[\\u5f20\\u4e09-MRN0001]`). Before the first report of a scenario is written, the identifiers its text holds
are learnt: its example row by column name (`姓名`, `身份证号` ... the JSON field rules), and the arguments of every
step, parsed by the step definition that matches it (`name`, `mrn`, `certno` ...). The node id, names and steps
are masked with what this scenario alone holds (so they read the same in every run, whatever ran before), and the
failure text and captured output with everything the run has learnt. Shapes (resident ID, mobile numbers) are
masked everywhere regardless.

Uses pytest-bdd 9 internals (its step and scenario registries), hence its pin.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from harness.properties import KEY_PROPERTY
from harness.report.masking import GENERIC_NAMES, Masker

SCENARIO_PROPERTIES = ("hih_feature", "hih_scenario")
NODEID_PROPERTY = "hih_nodeid"
_SCOPED = pytest.StashKey[Masker]()
_CODE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.:^-]*")


def _example(item: pytest.Item) -> dict[str, str]:
    callspec = getattr(item, "callspec", None)
    example = callspec.params.get("_pytest_bdd_example") if callspec is not None else None
    return {str(k): str(v) for k, v in example.items()} if isinstance(example, dict) else {}


@dataclasses.dataclass(frozen=True)
class StepText:
    """A scenario's step as pytest-bdd renders it for an example row, reduced to what its arguments are parsed
    from: its type, its name and its data table's cells (`datatable.raw()`, as pytest-bdd's DataTable has it)."""

    type: str
    name: str
    rows: tuple[tuple[Any, ...], ...] | None

    @property
    def datatable(self) -> StepText | None:
        return self if self.rows is not None else None

    def raw(self) -> list[list[Any]]:
        return [list(row) for row in self.rows or ()]


def rendered_steps(template: Any, example: dict[str, str]) -> list[StepText]:
    """The steps (background first) of pytest-bdd's `template.render(example)`, without the deep copy of each data
    table it makes: at collection every scenario's steps are rendered once for its masker, before the first
    scenario runs (tests/test_plugin_masking_steps.py holds it to pytest-bdd's own rendering)."""
    from pytest_bdd.parser import render_string

    return [StepText(step.type, render_string(step.name, example),
                     tuple(tuple(render_string(cell.value, example) for cell in row.cells)
                           for row in step.datatable.rows) if step.datatable else None)
            for step in template.all_background_steps + template._steps]


def _rendered_steps(item: pytest.Item, example: dict[str, str]) -> list[Any]:
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    template = scenario_wrapper_template_registry.get(getattr(item, "obj", None))  # type: ignore[arg-type]
    if template is None:
        return []
    try:
        return rendered_steps(template, example)
    except Exception:  # noqa: BLE001 - a scenario pytest-bdd cannot render fails on its own; learn nothing
        return []


_ARGUMENTS = pytest.StashKey[dict[tuple[Any, ...], list[dict[str, Any]]]]()
"""Step arguments by step text, for one pytest session: most steps recur in many scenarios of a run, and each was
matched against every step definition of the run."""
ARGUMENTS_KEPT = 20_000


def _step_arguments(step: Any, cache: dict[tuple[Any, ...], list[dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    """What each step definition matching `step` would parse out of it (and its data table, row by row)."""
    from pytest_bdd.steps import step_function_context_registry

    table = step.datatable.raw() if step.datatable is not None else []
    # the number of definitions in the key: a module imported later adds some, and its steps are matched afresh
    key = (len(step_function_context_registry), step.type, step.name, tuple(tuple(row) for row in table))
    known = cache.get(key) if cache is not None else None
    if known is None:
        known = _parsed_arguments(step, _candidates(step, step_function_context_registry), table)
        if cache is not None and len(cache) < ARGUMENTS_KEPT:
            cache[key] = known
    return [dict(arguments) for arguments in known]


_QUANTIFIERS = frozenset("?*+{")
_REGEX_SPECIAL = frozenset(".^$*+?{}[]\\|()")


def literal_prefix(parser: Any) -> str:
    """Text every step that `parser` matches starts with (empty when none can be told): a cheap first test before
    the parser's own. Only caseless characters (Chinese, digits, punctuation), as a parser may ignore case."""
    from parse import PARSE_RE
    from pytest_bdd import parsers

    if isinstance(parser, parsers.string):
        text = parser.name
    elif isinstance(parser, parsers.parse):  # cfparse too: literal text, then the first field
        text = ""
        for part in PARSE_RE.split(parser.name):
            if part in ("{{", "}}"):
                text += part[0]
            elif part.startswith("{") and part.endswith("}"):
                break
            else:
                text += part
    elif isinstance(parser, parsers.re) and isinstance(parser.regex.pattern, str) \
            and not parser.regex.flags & re.VERBOSE and not _alternatives_outside_groups(parser.regex.pattern):
        source, text = parser.regex.pattern, ""
        for at, char in enumerate(source):
            if char in _REGEX_SPECIAL or source[at + 1:at + 2] in _QUANTIFIERS:
                break
            text += char
    else:
        return ""
    for at, char in enumerate(text):
        if char.lower() != char.upper():
            return text[:at]
    return text


def _alternatives_outside_groups(source: str) -> bool:
    """Whether a `|` of the expression stands outside every group (then no prefix holds for all it matches), or the
    expression is too odd to tell (an unclosed class or group)."""
    depth, at = 0, 0
    while at < len(source):
        char = source[at]
        if char == "\\":
            at += 2
            continue
        if char == "[":  # a class: up to its closing bracket (one first, or after ^, is a member)
            at += 2 if source[at + 1:at + 2] == "^" else 1
            at += 1 if source[at:at + 1] == "]" else 0
            while at < len(source) and source[at] != "]":
                at += 2 if source[at] == "\\" else 1
            if at >= len(source):
                return True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
        at += 1
    return depth != 0


_INDEX: dict[tuple[int, int], dict[str | None, tuple[tuple[Any, str], ...]]] = {}
"""Per registry (its id and size: step modules imported later add definitions) and step type: the definitions that
may match a step of that type, in the registry's order, each with its `literal_prefix`."""


def _candidates(step: Any, registry: Any) -> list[Any]:
    """The step definitions of `registry` that may match `step`, in the registry's order: those of its type whose
    literal prefix the step's text starts with (the others cannot match it, so the answer is the same)."""
    key = (id(registry), len(registry))
    index = _INDEX.get(key)
    if index is None:
        _INDEX.clear()
        index = _INDEX[key] = {None: tuple((c, literal_prefix(c.parser)) for c in list(registry.values()))}
    of_type = index.get(step.type)
    if of_type is None:
        of_type = index[step.type] = tuple((c, prefix) for c, prefix in index[None] if c.type in (None, step.type))
    name = step.name
    return [context for context, prefix in of_type if name.startswith(prefix)]


def _parsed_arguments(step: Any, contexts: Any, table: list[list[Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for context in list(contexts):
        if context.type not in (None, step.type):
            continue
        try:
            if context.parser.is_matching(step.name):
                found.append(dict(context.parser.parse_arguments(step.name) or {}))
        except Exception:  # noqa: BLE001, PERF203 - a parser that cannot read this step says nothing about it
            continue
    if len(table) > 1:
        header = [str(cell) for cell in table[0]]
        found.extend(dict(zip(header, row, strict=False)) for row in table[1:])
    return found


def _learnable(arguments: dict[str, Any]) -> dict[str, Any]:
    """Step arguments less the generic `name` ones that hold a word of code (`连接器报告错误 "{name}"` names an
    exception class, `错误指出字段 "{name}"` a field): a patient's name is not an identifier of a program."""
    return {k: v for k, v in arguments.items()
            if not (k.lower() in GENERIC_NAMES and isinstance(v, str) and _CODE_WORD.fullmatch(v))}


def scenario_masker(item: pytest.Item, masker: Masker) -> Masker:
    """The masker for what names this scenario: the run's rules, and the identifiers this scenario's own text
    holds (also taught to `masker`, so its messages and failures mask them too)."""
    scoped = item.stash.get(_SCOPED, None)
    if scoped is None:
        scoped = masker.scoped()
        example = _example(item)
        scoped.learn(example)
        cache = item.config.stash.setdefault(_ARGUMENTS, {})
        for step in _rendered_steps(item, example):
            for arguments in _step_arguments(step, cache):
                scoped.learn(_learnable(arguments))
        masker.remember(scoped.learned)
        item.stash[_SCOPED] = scoped
    return scoped


def has_scenario_masker(item: pytest.Item) -> bool:
    """`scenario_masker` of the item was made (at collection, in a run): asking for it again uses nothing else."""
    return _SCOPED in item.stash


def scoped_steps(steps: list[dict[str, Any]], scoped: Masker) -> list[dict[str, Any]]:
    """Steps' records (keyword, name, status, error) with their names masked by the scenario's own masker: the first
    of the two maskings of a step's text (then `steps_json`), done where the scenario's report is made."""
    return [{**step, "name": scoped.text(str(step.get("name", "")))} for step in steps]


def steps_json(steps: list[dict[str, Any]], masker: Masker) -> str:
    """`scoped_steps`' records masked by the run's masker (name and error), as the JSON the reports read. The two
    maskers learn nothing from each other here, so this may run after the scenario masker's later texts."""
    masked = []
    for step in steps:
        out = {**step, "name": masker.text(str(step["name"]))}
        if step.get("error"):
            out["error"] = masker.text(str(step["error"]))
        masked.append(out)
    return json.dumps(masked, ensure_ascii=False)


def mask_report(item: pytest.Item, report: pytest.TestReport, masker: Masker) -> None:
    """Everything of `report` that reaches junit.xml, pytest.log, cucumber.json and the run's events, masked."""
    scoped = scenario_masker(item, masker)
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            masker.learn(value)
    # pytest-xdist checks a worker's report against its item by node id: the masked one travels as a property and
    # replaces the node id on the controller (MaskedNodeids), before junit.xml, the log and the events see it
    report.user_properties = [(k, scoped.text(v) if k in SCENARIO_PROPERTIES and isinstance(v, str) else v)
                              for k, v in report.user_properties if k != NODEID_PROPERTY]
    report.user_properties.append((NODEID_PROPERTY, scoped.nodeid(report.nodeid)))
    if not any(k == KEY_PROPERTY for k, _ in report.user_properties):
        report.user_properties.append((KEY_PROPERTY, nodeid_key(report.nodeid)))
    if report.longrepr is not None and not report.passed:
        report.longrepr = scrub(report.longrepr, masker.text, set())
    report.sections = [(title, content if title.startswith("hih ") else masker.text(content))
                       for title, content in report.sections]
    _mask_cucumber(report, scoped)


@functools.lru_cache(maxsize=4096)  # asked for each report of each scenario
def nodeid_key(nodeid: str) -> str:
    """The key of the scenario whose real node id is `nodeid` (see KEY_PROPERTY)."""
    return hashlib.sha256(nodeid.encode("utf-8")).hexdigest()[:24]


class MaskedNodeids:
    """On the controller (or a run without workers): each scenario report takes its masked node id, first thing."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        masked = next((v for k, v in report.user_properties if k == NODEID_PROPERTY), None)
        if isinstance(masked, str) and masked != report.nodeid:
            path, line, _ = report.location
            report.nodeid = masked
            report.location = (path, line, masked.rpartition("::")[2])


def _mask_cucumber(report: pytest.TestReport, scoped: Masker) -> None:
    """pytest-bdd's scenario data for cucumber.json (the report's context, set when the report was made): masked on
    the call's report, the only one its cucumber writer reads; dropped from the set-up's and tear-down's, a copy of
    the whole scenario each that nothing would read (masking them was two thirds of this work between scenarios)."""
    from pytest_bdd import reporting

    context = reporting.test_report_context_registry.get(report)
    if context is None:
        return
    if report.when != "call":
        del reporting.test_report_context_registry[report]
        return
    context.scenario = scoped.strings(context.scenario)
    context.name = scoped.nodeid(context.name)


def mask_cucumber_data(data: dict[str, Any], scoped: Masker) -> dict[str, Any]:
    """The scenario data a worker sends the controller for cucumber.json, masked."""
    return {**data, "scenario": scoped.strings(data["scenario"]), "name": scoped.nodeid(str(data["name"]))}


def scrub(node: Any, mask: Callable[[str], str], seen: set[int]) -> Any:
    """Every string in pytest's failure representation (dataclasses, lists, tuples) masked in place."""
    if isinstance(node, str):
        return mask(node)
    if isinstance(node, tuple):
        return tuple(scrub(value, mask, seen) for value in node)
    if id(node) in seen:
        return node
    if isinstance(node, list):
        seen.add(id(node))
        node[:] = [scrub(value, mask, seen) for value in node]
    elif dataclasses.is_dataclass(node) and not isinstance(node, type) and hasattr(node, "__dict__"):
        seen.add(id(node))
        for name, value in list(vars(node).items()):
            setattr(node, name, scrub(value, mask, seen))
    return node
