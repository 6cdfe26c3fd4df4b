"""Every rule of the shipped pack passes its own positive and negative regression cases."""

from __future__ import annotations

import pytest

from pcapkit.rules import load_rules
from pcapkit.rules.regression import run_rule_tests

PACK = load_rules()


@pytest.mark.parametrize("rule", PACK.rules, ids=lambda r: r.title)
def test_rule_regression_cases(rule) -> None:
    assert rule.tests, f"{rule.title} has no regression cases"
    assert any(case.expect > 0 for case in rule.tests), "needs a positive case"
    assert any(case.expect == 0 for case in rule.tests), "needs a negative case"
    for result in run_rule_tests([rule]):
        assert result.passed, str(result)
