"""pcapkit's one RE2: quiet on stderr, its errors in text, pySigma's flags honoured."""

from __future__ import annotations

import re

import pytest
from sigma.exceptions import SigmaRegularExpressionError
from sigma.types import SigmaRegularExpression

from pcapkit.rules.regex import QuietRE2, RegexError, compile_re2, quiet_policy


def test_a_bad_pattern_is_a_text_error_and_nothing_on_stderr(capfd) -> None:
    capfd.readouterr()
    with pytest.raises(RegexError) as caught:
        compile_re2("(?<=a)b")
    assert str(caught.value) == "invalid perl operator: (?<="
    assert capfd.readouterr() == ("", "")


def test_case_and_pysigma_flags() -> None:
    assert compile_re2("shop").search("api.Shop.svc") is None
    assert compile_re2("shop", ignore_case=True).search("api.Shop.svc") is not None
    engine = QuietRE2()
    assert engine.compile("^b", re.MULTILINE).search("a\nb") is not None
    assert engine.compile("^b").search("a\nb") is None
    assert engine.compile("a.b", re.DOTALL).search("a\nb") is not None
    assert engine.error is RegexError


def test_pysigma_reports_a_bad_regex_in_text_under_the_quiet_policy(capfd) -> None:
    capfd.readouterr()
    with pytest.raises(SigmaRegularExpressionError) as caught:
        SigmaRegularExpression("foo(bar", policy=quiet_policy())
    assert str(caught.value).startswith(
        "Regular expression 'foo(bar' is invalid: missing ): foo(bar")
    assert "b'" not in str(caught.value)
    assert capfd.readouterr().err == ""
