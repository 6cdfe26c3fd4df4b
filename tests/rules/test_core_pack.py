"""Every rule of the shipped pack passes its own positive and negative regression cases."""

from __future__ import annotations

import pytest

from pcapkit.rules import core_rules_dir, load_rules
from pcapkit.rules.regression import run_rule_tests

PACK = load_rules()


def test_every_core_rule_file_loads() -> None:
    """A rule file that fails to load is left out of PACK: without this its cases never run."""
    assert PACK.problems == []
    files = sorted(p.name for p in core_rules_dir().glob("*.yml"))
    assert sorted(rule.path.name for rule in PACK.rules) == files


@pytest.mark.parametrize("rule", PACK.rules, ids=lambda r: r.title)
def test_rule_regression_cases(rule) -> None:
    assert rule.tests, f"{rule.title} has no regression cases"
    assert any(case.expect > 0 for case in rule.tests), "needs a positive case"
    assert any(case.expect == 0 for case in rule.tests), "needs a negative case"
    for result in run_rule_tests([rule]):
        assert result.passed, str(result)
