"""``pcapkit rules list|lint|test`` over the core pack and a user's rules."""

from __future__ import annotations

from click.testing import CliRunner

from pcapkit.cli import main

BROKEN = """
title: Broken
id: 9e8d7c6b-0000-4000-8000-000000000001
status: test
logsource: {product: pcapkit, category: flows}
detection: {s: {conn_sate: S0}, condition: s}
level: high
pcapkit: {category: x, summary: y, remediation: z}
"""


def test_list_shows_the_core_pack() -> None:
    result = CliRunner().invoke(main, ["rules", "list"])
    assert result.exit_code == 0, result.output
    assert "dns-timeout" in result.output and "DNS queries never answered" in result.output


def test_lint_names_the_problem_and_exits_1(tmp_path) -> None:
    (tmp_path / "broken.yml").write_text(BROKEN)
    result = CliRunner().invoke(main, ["rules", "lint", str(tmp_path)])
    assert result.exit_code == 1
    assert "broken.yml: Broken: field 'conn_sate'" in result.output
    assert "did you mean conn_state" in result.output


def test_lint_of_the_core_pack_passes() -> None:
    from pcapkit.rules import core_rules_dir

    result = CliRunner().invoke(main, ["rules", "lint", str(core_rules_dir())])
    assert result.exit_code == 0, result.output


def test_test_runs_the_regression_cases() -> None:
    result = CliRunner().invoke(main, ["rules", "test"])
    assert result.exit_code == 0, result.output
    assert "PASS DNS queries never answered" in result.output
    assert not [line for line in result.output.splitlines() if line.startswith("FAIL")]


def test_test_fails_when_a_case_fails(tmp_path) -> None:
    rule = BROKEN.replace("conn_sate", "conn_state").replace(
        "remediation: z}", "remediation: z, tests: [{input: missing.pcap, expect: 1}]}")
    (tmp_path / "r.yml").write_text(rule)
    result = CliRunner().invoke(main, ["rules", "test", str(tmp_path)])
    assert result.exit_code == 1
    assert "ERROR Broken" in result.output and "missing input" in result.output


BAD_REGEX = BROKEN.replace("Broken", "Bad regex").replace(
    "000000000001", "000000000003").replace("{conn_sate: S0}", "{history|re: 'Sh(D'}")


def test_lint_of_a_bad_regex_says_it_once_and_nothing_else(tmp_path, capfd) -> None:
    """RE2 logs a bad pattern on the process's stderr itself (file descriptor 2, past
    click's capture): lint must leave only its own lines there."""
    import pytest

    (tmp_path / "bad.yml").write_text(BAD_REGEX)
    capfd.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["rules", "lint", str(tmp_path / "bad.yml")], standalone_mode=False)
    out, err = capfd.readouterr()
    assert exited.value.code == 1
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith(f"pcapkit: rule problem: {tmp_path / 'bad.yml'}: Bad regex: ")
    assert "'Sh(D'" in lines[0] and "missing )" in lines[0]
    assert lines[1] == "0 rule(s) OK, 1 problem(s)"
    assert out == ""
