"""A rule's regression cases: run the rule on each case's capture and compare the count.

Each rule lists cases under ``pcapkit.tests`` (a capture, optionally a snapshot, and how
many findings it must give: positive and negative). ``pcapkit rules test`` and the test
suite both run them through :func:`run_rule_tests`; captures shared by several cases are
opened once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pcapkit.errors import PcapkitError
from pcapkit.rules.engine import evaluate
from pcapkit.rules.load import Rule, RuleTest


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one regression case."""

    rule: Rule
    case: RuleTest
    found: int | None           # None when the case could not run
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.found == self.case.expect

    def __str__(self) -> str:
        inputs = ", ".join(str(p) for p in self.case.inputs)
        if self.error:
            return f"ERROR {self.rule.title} [{inputs}]: {self.error}"
        verdict = "PASS" if self.passed else "FAIL"
        return (f"{verdict} {self.rule.title} [{inputs}]: {self.found} finding(s), "
                f"expected {self.case.expect}")


def run_rule_tests(rules: Iterable[Rule]) -> list[CaseResult]:
    """Every regression case of every rule, in order."""
    import pcapkit

    captures: dict[tuple, object] = {}
    results = []
    for rule in rules:
        for case in rule.tests:
            missing = [p for p in (*case.inputs, *([case.snapshot] if case.snapshot else []))
                       if not p.exists()]
            if missing:
                results.append(CaseResult(rule, case, None, f"missing input {missing[0]}"))
                continue
            key = (case.inputs, case.snapshot)
            if key not in captures:
                captures[key] = pcapkit.open(list(case.inputs), snapshot=case.snapshot)
            try:
                found = len(evaluate(rule, captures[key]))
            except PcapkitError as exc:
                results.append(CaseResult(rule, case, None, str(exc)))
                continue
            results.append(CaseResult(rule, case, found))
    return results
