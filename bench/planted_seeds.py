#!/usr/bin/env python3
"""How many examples a property test needs to find a planted bug: the evidence a test's `max_examples` rests on.

  .venv/bin/python bench/planted_seeds.py --plant NAME [--max N] [--seeds 20] [--seed0 1] TEST ...
  .venv/bin/python bench/planted_seeds.py --list

A plant (PLANTS below) recompiles one function of hih with a piece of its source replaced, also where the module's
dispatch tables hold it, or runs a module constant's statement again so replaced (a pattern, a bound): the mistake the test exists to catch (a bound moved by one, a shortcut's condition cut
short, a remembered answer reused). pytest runs TEST in one process with this file as a plugin: each `@given` test
runs once per seed (seed0, seed0 + 1, ...) with `max_examples` N (default: the test's own), the example database
off and the generate phase only (no shrinking), and the index of the first valid example that failed is recorded
(an assumption or an overrun is not a failure). Prints, per test: in how many seeds the bug was found and the first
failing example of each. Not part of the suite; run with no plant (`--plant none`) to check that the test passes
unplanted.

  .venv/bin/python bench/planted_seeds.py --plant NAME --corpus MODULE:FUNCTION [--seeds 20] [--seed0 1] TEST ...

An oracle test that is not Hypothesis, looping over a seeded corpus (`FUNCTION(count, seed=...)` yielding texts, e.g.
tests.contracts.hl7.fuzz:mutants), runs once per seed with the corpus drawn from that seed instead of the test's own;
what is recorded is the index (from 1) of the first text of the corpus that the failure's message quotes (its
carriage returns as newlines, or the whole message found in it): how far into the corpus the bug was found.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

# name: (module, function, Class.method or module constant, source text, its replacement)
PLANTS: dict[str, tuple[str, str, str, str]] = {
    "mask-quote": ("harness.report.masking", "Masker._pairs_in_text", """'"' in text or "'" in text""",
                   """'"' in text"""),
    "mask-lt": ("harness.report.masking", "Masker._pairs_in_text", '"<" in text or "&lt;" in text', '"<" in text'),
    "mask-long-stale": ("harness.report.masking", "Masker._mask", "self._long_seen.clear()", "pass"),
    "encode-shape-count": ("mocks.transport.soap_encode", "ReplyEncoder.build", "key = tuple(shape)",
                           "key = (len(shape), sum(shape) > 0)"),
    "json-small": ("harness.report.json_text", "alike", "_SMALLEST_ALIKE <= abs(item)", "1e-5 <= abs(item)"),
    "json-inf": ("harness.report.json_text", "alike", "_SMALLEST_ALIKE <= abs(item) < math.inf",
                 "_SMALLEST_ALIKE <= abs(item)"),
    "evidence-reused": ("harness.run.evidence_json", "EvidenceJson.text",
                        "known is not None and known[0] is exchanges", "known is not None"),
    "collector-ascii": ("harness.run.collector", "Collector._emit",
                        "line = (f'{json.dumps(event, ensure_ascii=False)[:-1]}", "line = (f'{json.dumps(event)[:-1]}"),
    "fields-beyond": ("harness.contract.hl7.validator", "ProfileValidator._quiet_fields",
                      "if count > limit and plan.sdef.limit:", "if False:"),
    "fields-missing": ("harness.contract.hl7.validator", "ProfileValidator._quiet_fields",
                       "(pos >= count or not fields[pos])", "(pos < count and not fields[pos])"),
    "head-msh16": ("harness.contract.hl7.message", "Message.head", "not (blank(15) and blank(16))", "not blank(15)"),
    "head-strip": ("harness.contract.hl7.message", "Message.head", "control.strip(), first(12, 0)",
                   "control, first(12, 0)"),
    "head-repetition": ("harness.contract.hl7.message", "Message.head",
                        "if rep in value:\n                value = value.split(rep, 1)[0]\n            if comp",
                        "if comp"),
    "events-first-byte": ("harness.run.events", "EventReader.feed", 'end = chunk.find(b"\\n", start)',
                          'end = chunk.find(b"\\n", start + 1) if start else chunk.find(b"\\n", 1)'),
    "cents-bool": ("harness.contract.rules", "cents", "if type(value) is int:", "if isinstance(value, int):"),
    "cents-bound": ("harness.contract.rules", "cents", "-_CENTS_BOUND < value * 100 < _CENTS_BOUND",
                    "-(2.0 ** 60) < value * 100 < 2.0 ** 60"),
    "cents-half": ("harness.contract.rules", "cents", "if scaled / 100 == value:",
                   "if abs(scaled / 100 - value) <= 0.005:"),
    "sum-part-as-zero": ("harness.contract.rules", "_sum", "if None not in whole and whole[0] == sum(whole[1:]):",
                         "if whole[0] is not None and whole[0] == sum(w or 0 for w in whole[1:]):"),
    "evict-hard-bound": ("mocks.state", "Store._evict", "while len(rows) > 2 * bound.limit:",
                         "while len(rows) > 2 * bound.limit + 1:"),
    "depth-count": ("harness.contract.xmlsafe", "_may_be_deeper", 'return raw.count(b"<") > 2 * levels',
                    'return raw.count(b"<") > 2 * levels + 1'),
    "depth-xpath": ("harness.contract.xmlsafe", "_deeper_than", "'/*' * (levels + 1)", "'/*' * (levels + 2)"),
    "shape-id-letter": ("harness.report.masking", "_RESIDENT_ID", "(?<![0-9A-Za-z]\\d)", "(?<![0-9]\\d)"),
    "shape-landline-dash": ("harness.report.masking", "_LANDLINE", "(?<![\\d-]0)", "(?<!\\d0)"),
    "shape-needs-eight": ("harness.report.masking", "_LANDLINE_NEEDS", r'"-\d{7}"', r'"-\d{8}"'),
    "walk-leaf-first": ("harness.report.masking", "Masker._json_child",
                        "if matcher.matches(path):\n            return self._mask_all(node)\n        if isinstance(node, str):\n            return self.text(node)",
                        "if isinstance(node, str):\n            return self.text(node)\n        if matcher.matches(path):\n            return self._mask_all(node)"),
    "walk-list-leaf": ("harness.report.masking", "Masker._json_child", "isinstance(node, dict | list)",
                       "isinstance(node, dict)"),
    "matcher-full-kept": ("harness.report.masking", "PathMatcher.matches", "return self._full.match(joined) is not None",
                          "return self._by_last.setdefault(last, self._full.match(joined) is not None)"),
    "identify-not-object": ("mocks.insurance", "InsuranceMock.identify", "except (ValueError, AttributeError):",
                            "except ValueError:"),
    "request-not-object": ("harness.contract.http_json", "HttpJsonValidator.validate_request",
                           "if not isinstance(body, dict):\n            return", "if body is None:\n            return"),
    "text-length-by-one": ("harness.contract.hl7.segment_regex", "_Builder.leaf",
                           'return f"(?:{leaf}{{1,{length}}}+|', 'return f"(?:{leaf}{{1,{length + 1}}}+|'),
    "tight-min-floor": ("harness.contract.json_schemas", "tightened", "out[key] = math.ceil(value)",
                        "out[key] = math.floor(value)"),
    "tight-max-ceil": ("harness.contract.json_schemas", "tightened", "out[key] = math.floor(value)",
                       "out[key] = math.ceil(value)"),
    "contains-dict-only": ("harness.contract.rules", "_contains_key", "isinstance(child, (dict, list))",
                           "isinstance(child, dict)"),
    "required-empty": ("harness.contract.rules", "_required_when_present", "in (_MISSING, None, \"\")",
                       "in (_MISSING, None)"),
    "typed-as-st": ("harness.contract.hl7.segment_regex", "_Builder.typed", "[self.value(f, dtype)]",
                    "[self.value(f, 'ST')]"),
    "build-pad-empty": ("connectors.hl7_build", "segment", "range(1, max(written, default=0) + 1)",
                        "range(1, max(values, default=0) + 1)"),
    "build-rep-dropped": ("connectors.hl7_build", "segment", "and reps[0]}", "and reps[0] and len(reps) < 3}"),
    "ack-key-charset": ("harness.contract.hl7.mllp_ack", "AckBuilder._header_line", "o[17], o[18])", "o[17])"),
    "ack-msa-code": ("harness.contract.hl7.mllp_ack", "AckBuilder.complete_text", "fields[1] = fields[1] or code",
                     "fields[1] = code"),
    "ack-first-err": ("harness.contract.hl7.mllp_ack", "AckBuilder.complete_text", "_error_codes(errs, DEFAULT)",
                      "_error_codes(errs[:1], DEFAULT)"),
    "components-all-reps": ("mocks.hl7_partner", "components", "value = value.split(seps.repetition, 1)[0]",
                            "value = value.replace(seps.repetition, seps.component)"),
    "part-escaped": ("mocks.hl7_partner", "part", "if seps.escape in value else", "if seps.escape * 2 in value else"),
    "whole-escaped": ("mocks.hl7_partner", "whole", "if seps.escape in value else", "if seps.escape * 2 in value else"),
    "patient-key-seps": ("mocks.hl7_partner", "patient_of", "key = texts if seps is DEFAULT else (*texts, seps)",
                         "key = texts"),
    "bags-hour-kept": ("mocks.blood_center.inventory", "seed_bags", "now.replace(hour=0, minute=0",
                       "now.replace(minute=0"),
    "bags-first-day": ("mocks.blood_center.inventory", "seed_bags", "_bags(today, today.tzinfo, seed)",
                       "_bags(*seed_bags.__dict__.setdefault('first', (today, today.tzinfo)), seed)"),
}
# two changes together: a reopened row kept in the finished index, and evicted without asking whether it is finished
PAIRS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "evict-reopened": (("mocks.state", "Store._index", "        else:\n            bound.done.pop(key, None)\n", ""),
                       ("mocks.state", "Store._evict", "if value is not _ABSENT and finished(value):",
                        "if value is not _ABSENT:")),
}


def plant(module: str, qualname: str, old: str, new: str) -> None:
    """Recompile `qualname` of `module` with `old` replaced by `new` in its source."""
    mod = importlib.import_module(module)
    if qualname in _assignments(mod):  # a module constant (a compiled pattern, a bound): its statement run again
        statement = _assignments(mod)[qualname]
        if statement.count(old) != 1:
            raise SystemExit(f"plant: {old!r} is not in {qualname} exactly once")
        exec(compile(statement.replace(old, new), f"<plant {qualname}>", "exec"), mod.__dict__)  # noqa: S102
        return
    owner: Any = mod
    name = qualname
    if "." in qualname:
        owner_name, name = qualname.split(".")
        owner = getattr(mod, owner_name)
    function = inspect.unwrap(getattr(owner, name))
    source = inspect.getsource(function)
    if source.count(old) != 1:
        raise SystemExit(f"plant: {old!r} is not in {qualname} exactly once")
    namespace: dict[str, Any] = {}
    lines = textwrap.dedent(source.replace(old, new)).splitlines(keepends=True)
    code = "".join(line for line in lines if not line.lstrip().startswith("@cache"))  # the plain function
    exec(compile(code, f"<plant {qualname}>", "exec"), mod.__dict__, namespace)  # noqa: S102  # a bench's own text
    old_function = getattr(owner, name)
    setattr(owner, name, namespace[name])
    for table in [v for v in vars(mod).values() if type(v) is dict]:  # a dispatch table holding the function
        for key, value in table.items():
            if value is old_function:
                table[key] = namespace[name]


def _assignments(mod: Any) -> dict[str, str]:
    """The source of each `NAME = ...` (or annotated) statement at the top level of `mod`, by NAME."""
    source = inspect.getsource(mod)
    found: dict[str, str] = {}
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for target in targets:
            if isinstance(target, ast.Name):
                found[target.id] = ast.get_source_segment(source, node) or ""
    return found


_state: dict[str, Any] = {"n": 0, "first": None, "seed": 0, "texts": []}


def pytest_configure(config: pytest.Config) -> None:
    name = os.environ.get("PLANTED_SEEDS_PLANT", "none")
    for change in PAIRS.get(name, (PLANTS[name],) if name in PLANTS else ()):
        plant(*change)
    if os.environ.get("PLANTED_SEEDS_CORPUS"):
        module, function = os.environ["PLANTED_SEEDS_CORPUS"].split(":")
        mod = importlib.import_module(module)
        setattr(mod, function, _recorded(getattr(mod, function)))


def _recorded(corpus: Callable[..., Any]) -> Callable[..., Any]:
    """`corpus` drawn from the seed of this run, every text it yields kept in order."""
    def drawn(count: int, seed: int = 0) -> Generator[str, None, None]:
        for text in corpus(count, seed=_state["seed"]):
            _state["texts"].append(text)
            yield text
    return drawn


def _quoted(failure: BaseException) -> int | None:
    """The index (from 1) of the first corpus text the failure's message quotes."""
    message = str(failure)
    for index, text in enumerate(_state["texts"], 1):
        shown = text.replace("\r", "\n")
        if (shown in message) or (len(message) > 20 and message.split("\n")[0] in text):
            return index
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    from hypothesis import Phase, settings

    count = int(os.environ.get("PLANTED_SEEDS_MAX", "0"))
    for item in items:
        test = getattr(item, "obj", None)
        handle = getattr(test, "hypothesis", None)
        if handle is None or getattr(test, "_planted_seeds", False):
            continue
        test._planted_seeds = True  # type: ignore[union-attr]
        handle.inner_test = _counting(handle.inner_test)
        changes: dict[str, Any] = {"database": None, "phases": (Phase.generate,)}
        if count:
            changes["max_examples"] = count
        test._hypothesis_internal_use_settings = settings(test._hypothesis_internal_use_settings, **changes)  # type: ignore[union-attr]


def _counting(inner: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        _state["n"] += 1
        try:
            return inner(*args, **kwargs)
        except BaseException as exc:
            if type(exc).__module__.startswith("hypothesis"):  # an assumption not met, an overrun: not an example
                _state["n"] -= 1
            elif _state["first"] is None:
                _state["first"] = _state["n"]
            raise
    return counted


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    test = getattr(item, "obj", None)
    if os.environ.get("PLANTED_SEEDS_CORPUS"):
        seed0, seeds = int(os.environ["PLANTED_SEEDS_SEED0"]), int(os.environ["PLANTED_SEEDS_COUNT"])
        for seed in range(seed0, seed0 + seeds):
            _state.update(seed=seed, texts=[])
            first = None
            try:
                item.runtest()
            except BaseException as exc:
                first = _quoted(exc) or -1  # failed, quoting no text of the corpus
            with open(os.environ["PLANTED_SEEDS_OUT"], "a", encoding="utf-8") as out:
                out.write(json.dumps({"id": item.nodeid, "seed": seed, "first": first}) + "\n")
        return None
    if getattr(test, "hypothesis", None) is not None:
        seed0, seeds = int(os.environ["PLANTED_SEEDS_SEED0"]), int(os.environ["PLANTED_SEEDS_COUNT"])
        for seed in range(seed0, seed0 + seeds):
            test._hypothesis_internal_use_seed = seed  # type: ignore[union-attr]  # what @seed(...) sets
            _state.update(n=0, first=None)
            try:
                item.runtest()
            except BaseException:  # noqa: S110  # the failure is what is counted
                pass
            with open(os.environ["PLANTED_SEEDS_OUT"], "a", encoding="utf-8") as out:
                out.write(json.dumps({"id": item.nodeid, "seed": seed, "first": _state["first"]}) + "\n")
        return None
    return (yield)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plant", default="none", help="a name of --list, or none")
    parser.add_argument("--max", type=int, default=0, help="max_examples (default: each test's own)")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--seed0", type=int, default=1)
    parser.add_argument("--corpus", default="", help="MODULE:FUNCTION, a seeded corpus an oracle test loops over")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("tests", nargs="*")
    args = parser.parse_args()
    if args.list:
        for name, (module, qualname, _, _) in sorted(PLANTS.items()):
            print(f"{name:20} {module}.{qualname}")
        for name, changes in sorted(PAIRS.items()):
            print(f"{name:20} " + ", ".join(f"{m}.{q}" for m, q, _, _ in changes))
        return 0
    if args.plant != "none" and args.plant not in PLANTS and args.plant not in PAIRS:
        parser.error(f"unknown plant {args.plant!r} (--list)")
    with tempfile.TemporaryDirectory(prefix="hih-planted-") as scratch:
        out = Path(scratch) / "seeds.jsonl"
        out.touch()
        env = {**os.environ, "PLANTED_SEEDS_PLANT": args.plant, "PLANTED_SEEDS_MAX": str(args.max),
               "PLANTED_SEEDS_SEED0": str(args.seed0), "PLANTED_SEEDS_COUNT": str(args.seeds),
               "PLANTED_SEEDS_OUT": str(out), "PLANTED_SEEDS_CORPUS": args.corpus, "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT)])}
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "planted_seeds", "-p", "no:randomly",
                               "-p", "no:xdist", "-p", "no:cacheprovider", *args.tests],
                              cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=3600)
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    if not rows:  # a plant whose text the code no longer holds, a test not found: say so rather than print nothing
        print((done.stdout + done.stderr).strip()[-2000:], file=sys.stderr)
        return 1
    by_test: dict[str, list[int | None]] = {}
    for row in rows:
        by_test.setdefault(row["id"], []).append(row["first"])
    for nodeid, firsts in by_test.items():
        found = [f for f in firsts if f is not None]
        print(f"{nodeid}\n  plant {args.plant}, max_examples {args.max or 'own'}, seeds {args.seed0}-"
              f"{args.seed0 + args.seeds - 1}: found in {len(found)} of {len(firsts)}; first failing example "
              f"{firsts}; most {max(found) if found else '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
