"""Load rule packs: Sigma YAML -> pySigma -> rules checked against the table registry.

A rule file holds one Sigma rule, or a Sigma correlation rule with the rules it refers to
(YAML documents separated by ``---``). YAML is read by libyaml's safe loader (no Python
objects; PyYAML's pure-Python parser when libyaml is missing, and for the message of a broken
file), pySigma parses the documents and the condition grammar, and :mod:`pcapkit.rules.compile`
turns each detection into a mask function while checking every field and modifier against the
table the rule's ``logsource.category`` names. Nothing from a rule file is executed.

What Sigma has no field for sits under the namespaced custom attribute ``pcapkit`` (pySigma
keeps unknown top-level keys as ``custom_attributes``):

``category``     the finding category (``dns-timeout``, ``policy-drop`` ...), required
``summary``      a one-line template over the group's fields (``{count}``, ``{first_seen}``,
                 ``{last_seen}`` and any column of the table), required
``remediation``  what to do about it, required
``group_by``     columns whose values make one finding (default: one finding per row)
``evidence``     the id columns whose packets are the evidence (default: the table's own)
``count``        a column whose distinct values a finding counts (default: its rows), e.g.
                 ``retry_of``: a DNS question sent three times is one lost lookup
``tests``        regression cases: ``{input: [paths], snapshot: path, expect: count}``

Problems are collected, not raised one at a time, so ``pcapkit rules lint`` can list them
all; each names the file, the rule and the field, with a hint.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationConditionOperator, SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from pcapkit.rules.compile import (
    ConditionError,
    Mask,
    column_of,
    compile_condition,
    time_values,
)
from pcapkit.rules.regex import quiet_policy
from pcapkit.schema import TABLES, Table

#: Sigma levels, lowest first; a finding's severity is its rule's level
LEVELS = ("informational", "low", "medium", "high", "critical")
CORRELATION_TYPES = ("event_count", "value_count", "temporal")
_OPERATORS = {SigmaCorrelationConditionOperator.GT: "gt",
              SigmaCorrelationConditionOperator.GTE: "ge",
              SigmaCorrelationConditionOperator.LT: "lt",
              SigmaCorrelationConditionOperator.LTE: "le",
              SigmaCorrelationConditionOperator.EQ: "eq"}
_SUMMARY_EXTRAS = ("count", "rows", "first_seen", "last_seen")


@dataclass(frozen=True)
class Problem:
    """Something wrong with a rule file: where, what, and a hint."""

    file: str
    rule: str
    message: str
    field: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: {self.rule}" + (f": field {self.field!r}" if self.field else "")
        return f"{where}: {self.message}" + (f" ({self.hint})" if self.hint else "")


@dataclass(frozen=True)
class RuleTest:
    """A regression case: the finding count the rule must give on a capture."""

    inputs: tuple[Path, ...]
    expect: int
    snapshot: Path | None = None


@dataclass(frozen=True)
class Correlation:
    """A Sigma correlation over a base detection: per ``group_by`` and ``timespan`` window,
    the number of rows (event_count), of distinct ``value_field`` values (value_count) or of
    base rules that all matched (temporal) must satisfy ``op count``."""

    type: str
    group_by: tuple[str, ...]
    timespan_s: float
    op: str
    count: int
    value_field: str | None = None
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """A checked rule, ready to run: its Sigma metadata, the table it reads, its mask
    (``parts``: for a temporal correlation, the mask of each correlated detection)."""

    id: str
    title: str
    table: str
    level: str
    category: str
    summary: str
    remediation: str
    mask: Mask = field(repr=False, compare=False)
    description: str = ""
    status: str = ""
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    falsepositives: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    group_by: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    count: str | None = None
    correlation: Correlation | None = None
    parts: tuple[Mask, ...] = field(default=(), repr=False, compare=False)
    tests: tuple[RuleTest, ...] = ()
    path: Path | None = None


@dataclass
class RulePack:
    """The rules of some directories, and every problem found loading them."""

    rules: list[Rule] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def by_id(self) -> dict[str, Rule]:
        return {rule.id: rule for rule in self.rules}


def core_rules_dir() -> Path:
    """The shipped pack (package data, found through importlib.resources)."""
    return Path(str(resources.files("pcapkit.rules") / "core"))


def load_rules(paths: Iterable[str | Path] = (), *, core: bool = True) -> RulePack:
    """Every rule of the core pack (unless ``core=False``) and of ``paths`` (rule files or
    directories searched recursively for ``*.yml``/``*.yaml``)."""
    pack = RulePack()
    files = sorted(_rule_files(core_rules_dir())) if core else []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files += sorted(_rule_files(path))
        elif path.is_file():
            files.append(path)
        else:
            pack.problems.append(Problem(str(path), "-", "no such rule file or directory"))
    seen: dict[str, Path] = {}
    for file in files:
        for rule in _load_file(file, pack.problems):
            if rule.id in seen:
                pack.problems.append(Problem(str(file), rule.title, f"rule id {rule.id} is "
                                             f"already used by {seen[rule.id]}"))
                continue
            seen[rule.id] = file
            pack.rules.append(rule)
    return pack


def _rule_files(directory: Path) -> Iterator[Path]:
    for pattern in ("*.yml", "*.yaml"):
        yield from (p for p in directory.rglob(pattern) if p.is_file())


#: libyaml's parser with PyYAML's safe constructor: the same Python values as
#: ``yaml.safe_load_all``, parsed in C (the pure-Python scanner was most of the pack's load time)
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml_documents(text: str) -> list:
    """The file's non-empty YAML documents. A file libyaml rejects is parsed again by
    PyYAML's own parser, so a broken file reports PyYAML's message (with the offending
    line quoted) whichever parser is installed."""
    try:
        return [d for d in yaml.load_all(text, Loader=_FAST_LOADER) if d is not None]
    except yaml.YAMLError:
        if _FAST_LOADER is yaml.SafeLoader:
            raise
    return [d for d in yaml.safe_load_all(text) if d is not None]


def _load_file(path: Path, problems: list[Problem]) -> list[Rule]:
    try:
        documents = _yaml_documents(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(Problem(str(path), "-", f"not readable YAML: {exc}"))
        return []
    if not documents or not all(isinstance(d, dict) for d in documents):
        problems.append(Problem(str(path), "-", "a rule file holds YAML mappings (Sigma rules)"))
        return []
    times: dict[float, int] = {}  # every time the file's rules compare, exactly
    try:
        documents = [_with_time_values(d, times) for d in documents]
    except ConditionError as exc:
        problems.append(Problem(str(path), _title(documents[0]), str(exc), exc.field,
                                exc.hint))
        return []
    try:
        collection = SigmaCollection.from_dicts(documents, collect_errors=True,
                                                policy=quiet_policy())
        collection.resolve_rule_references()
    except Exception as exc:  # noqa: BLE001 - pySigma raises more than SigmaError on bad input
        problems.append(Problem(str(path), _title(documents[0]), f"not a valid Sigma rule: "
                                f"{exc}"))
        return []
    before = len(problems)
    bases = [r for r in collection.rules if isinstance(r, SigmaRule)]
    correlations = [r for r in collection.rules if isinstance(r, SigmaCorrelationRule)]
    for rule in collection.rules:
        for error in rule.errors:
            problems.append(Problem(str(path), rule.title or "-", str(error)))
    if len(problems) > before:
        return []
    if len(correlations) > 1 or (not correlations and len(bases) != 1):
        problems.append(Problem(str(path), _title(documents[0]), "one rule per file: a Sigma "
                                "rule, or one correlation rule with the rules it refers to"))
        return []
    if correlations:
        rule = _correlation_rule(path, correlations[0], bases, problems, times)
    else:
        rule = _detection_rule(path, bases[0], bases[0], problems, times=times)
    return [rule] if rule is not None and len(problems) == before else []


def _with_time_values(document: dict, times: dict[float, int]) -> dict:
    """The rule document with the times its detection compares with a time column as the
    numbers pySigma compares (:func:`pcapkit.rules.compile.time_values`); as it is when it
    names no table (the loader says so) or has no detection (a correlation)."""
    logsource, detection = document.get("logsource"), document.get("detection")
    table = TABLES.get(str(logsource.get("category") or "")) \
        if isinstance(logsource, dict) else None
    if table is None or not isinstance(detection, dict):
        return document
    return {**document, "detection": time_values(detection, table, times)[0]}


def _title(document: dict) -> str:
    return str(document.get("title") or document.get("id") or "-")


def _detection_rule(path: Path, sigma: SigmaRule, meta: SigmaRule | SigmaCorrelationRule,
                    problems: list[Problem], correlation: Correlation | None = None,
                    times: dict[float, int] | None = None) -> Rule | None:
    """The rule of one Sigma detection; ``meta`` gives the title, level and pcapkit block
    (the correlation rule itself, for a correlation); ``times``: the exact times the file
    compares (pcapkit.rules.compile.time_values)."""
    name = meta.title or str(meta.id)

    def problem(message: str, field_name: str | None = None, hint: str | None = None) -> None:
        problems.append(Problem(str(path), name, message, field_name, hint))

    before = len(problems)
    logsource = sigma.logsource
    if logsource.product != "pcapkit":
        problem(f"logsource.product is {logsource.product!r}, not 'pcapkit'")
        return None
    table = TABLES.get(logsource.category or "")
    if table is None:
        problem(f"logsource.category {logsource.category!r} is no pcapkit table",
                hint=f"tables: {', '.join(TABLES)}")
        return None
    try:
        conditions = [c.parse() for c in sigma.detection.parsed_condition]
        masks = [compile_condition(c, table, times) for c in conditions]
    except ConditionError as exc:
        problem(str(exc), exc.field, exc.hint)
        return None
    except SigmaError as exc:
        problem(f"bad detection: {exc}")
        return None
    mask = masks[0] if len(masks) == 1 else _any_of(masks)
    attrs = meta.custom_attributes.get("pcapkit")
    if not isinstance(attrs, dict):
        problem("no 'pcapkit:' block (category, summary, remediation)")
        return None
    level = meta.level.name.lower() if meta.level is not None else None
    if level not in LEVELS:
        problem("no level", hint=f"one of {', '.join(LEVELS)}")
    texts = {}
    for key in ("category", "summary", "remediation"):
        value = attrs.get(key)
        if not isinstance(value, str) or not value.strip():
            problem(f"pcapkit.{key} must be a non-empty string")
        texts[key] = value if isinstance(value, str) else ""
    unknown = set(attrs) - {"category", "summary", "remediation", "group_by", "evidence",
                            "count", "tests"}
    if unknown:
        problem(f"unknown pcapkit keys {sorted(unknown)}",
                hint="category, summary, remediation, group_by, evidence, count, tests")
    group_by = _columns(attrs.get("group_by", []), "group_by", table, problem)
    if correlation is not None:
        group_by = _columns(list(correlation.group_by), "group-by", table, problem)
        if correlation.value_field:
            _columns([correlation.value_field], "value_field", table, problem)
    evidence = _columns(attrs.get("evidence", list(table.evidence)), "evidence", table,
                        problem)
    for column in evidence:
        ids = column[:-1] if column in table and table[column].kind == "list" else column
        if ids != "flow_id" and not ids.endswith("packet_id"):
            problem("evidence columns are flow_id or *packet_id ids (a list column: "
                    "flow_ids or *packet_ids)", column)
    count = attrs.get("count")
    if count is not None and not isinstance(count, str):
        problem("pcapkit.count must be one column name", "count")
        count = None
    if count is not None:
        _columns([count], "count", table, problem)
    _check_summary(texts["summary"], table, problem)
    fields = _columns(list(meta.fields or []), "fields", table, problem)
    tests = _tests(attrs.get("tests", []), path, problem)
    if len(problems) > before:
        return None
    return Rule(
        id=str(meta.id), title=meta.title, table=table.name, level=level or "medium",
        category=texts["category"], summary=texts["summary"],
        remediation=texts["remediation"].strip(), mask=mask,
        description=(meta.description or "").strip(),
        status=meta.status.name.lower() if meta.status else "",
        references=tuple(str(r) for r in meta.references or ()),
        tags=tuple(str(t) for t in meta.tags or ()),
        falsepositives=tuple(str(f) for f in meta.falsepositives or ()),
        fields=fields, group_by=group_by, evidence=evidence, count=count,
        correlation=correlation,
        tests=tests, path=path)


def _correlation_rule(path: Path, sigma: SigmaCorrelationRule, bases: list[SigmaRule],
                      problems: list[Problem], times: dict[float, int]) -> Rule | None:
    name = sigma.title or str(sigma.id)
    kind = sigma.type.name.lower()
    if kind not in CORRELATION_TYPES:
        problems.append(Problem(str(path), name, f"correlation type {kind!r} is not supported",
                                hint=", ".join(CORRELATION_TYPES)))
        return None
    referenced = [ref.rule for ref in sigma.rules]
    if not referenced or not all(isinstance(r, SigmaRule) for r in referenced) or \
            any(r not in bases for r in referenced):
        problems.append(Problem(str(path), name, "a correlation refers to detection rules "
                                "in the same file"))
        return None
    if kind != "temporal" and len(referenced) != 1:
        problems.append(Problem(str(path), name, f"{kind} correlates one detection rule"))
        return None
    categories = {r.logsource.category for r in referenced}
    if len(categories) != 1:
        problems.append(Problem(str(path), name, "correlated rules must read one table"))
        return None
    condition = sigma.condition
    correlation = Correlation(
        type=kind, group_by=tuple(sigma.group_by or ()),
        timespan_s=float(sigma.timespan.seconds) if sigma.timespan else float("inf"),
        op=_OPERATORS.get(condition.op, "ge"), count=int(condition.count),
        value_field=getattr(condition, "fieldref", None),
        rules=tuple(str(r.id) for r in referenced))
    if kind == "value_count" and not correlation.value_field:
        problems.append(Problem(str(path), name, "value_count needs condition.field"))
        return None
    rules = [_detection_rule(path, base, sigma, problems, correlation, times)
             for base in referenced]
    if any(r is None for r in rules):
        return None
    if kind == "temporal":  # every referenced detection must match within the window
        return Rule(**{**rules[0].__dict__, "mask": _any_of([r.mask for r in rules]),
                       "parts": tuple(r.mask for r in rules)})
    return rules[0]


def _any_of(masks: list[Mask]) -> Mask:
    def mask(frame):
        out = masks[0](frame)
        for other in masks[1:]:
            out = out | other(frame)
        return out
    return mask


def _columns(value: Any, key: str, table: Table, problem) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problem(f"{key} must be a list of column names")
        return ()
    for name in value:
        try:
            column_of(table, name)
        except ConditionError as exc:
            problem(f"{key}: {exc}", name, exc.hint)
    return tuple(value)


def _check_summary(template: str, table: Table, problem) -> None:
    """Summary placeholders are plain names: a column of the table, count, first_seen or
    last_seen (no attribute or index access: the template is data, not code)."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        problem(f"bad summary template: {exc}", "summary")
        return
    for _, name, _, _ in parts:
        if name is None:
            continue
        if not name.isidentifier():
            problem(f"summary placeholder {{{name}}} must be a plain column name", "summary")
        elif name not in table and name not in _SUMMARY_EXTRAS:
            try:
                column_of(table, name)
            except ConditionError as exc:
                problem(f"summary placeholder: {exc}", name, exc.hint)


def _tests(value: Any, path: Path, problem) -> tuple[RuleTest, ...]:
    if not isinstance(value, list):
        problem("pcapkit.tests must be a list of {input, expect}")
        return ()
    out = []
    parents = path.resolve().parents if value else ()  # once per file, not per input
    for case in value:
        if not isinstance(case, dict) or "input" not in case or \
                not isinstance(case.get("expect"), int) or isinstance(case.get("expect"), bool):
            problem("each test is {input: path or [paths], expect: count, snapshot: path}")
            continue
        inputs = case["input"] if isinstance(case["input"], list) else [case["input"]]
        snapshot = case.get("snapshot")
        out.append(RuleTest(tuple(_relative(path, parents, p) for p in inputs),
                            case["expect"],
                            _relative(path, parents, snapshot) if snapshot else None))
    return tuple(out)


def _relative(rule_file: Path, parents: Sequence[Path], value: str) -> Path:
    """A test input path: relative to the repository (the directory holding ``rules/`` or
    ``pcapkit/``) when it starts with ``fixtures/``, else to the rule file (``parents``: those
    of the resolved rule file)."""
    path = Path(str(value))
    if path.is_absolute():
        return path
    for parent in parents:
        if (parent / path).exists():
            return parent / path
    return rule_file.parent / path
