"""The text and markdown reports: findings grouped by severity, then category, each with
its ends, explanation, evidence location and Wireshark command; colour only when asked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import pcapkit
from pcapkit.errors import PcapkitError
from pcapkit.findings import SEVERITIES
from pcapkit.report import FORMATS, build_report, render
from pcapkit.report.common import endpoint_label, grouped, wireshark_command
from pcapkit.rules import load_rules, run_rules

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "fixtures" / "policy"


@pytest.fixture(scope="module")
def report() -> dict:
    capture = pcapkit.open(POLICY / "kernel", snapshot=POLICY / "cluster.json")
    pack = load_rules(())
    return build_report(capture, run_rules(capture, pack.rules, None), rules=len(pack.rules))


def _sections(text: str) -> list[tuple[str, str, str]]:
    """(severity, category, finding id) in the order the text lists them."""
    out, severity, category = [], None, None
    for line in text.splitlines():
        if m := re.match(r"^([A-Z]+) \(\d+\)$", line):
            severity = m.group(1).lower()
        elif m := re.match(r"^  (\S+) \(\d+\)$", line):
            category = m.group(1)
        elif m := re.match(r"^    .*\[([0-9a-f]{16})\]$", line):
            out.append((severity, category, m.group(1)))
    return out


def test_text_groups_findings_by_severity_then_category(report) -> None:
    text = render(report, "text")
    listed = _sections(text)
    by_id = {f["id"]: f for f in report["findings"]}
    assert sorted(i for _, _, i in listed) == sorted(by_id)  # every finding, once
    for severity, category, finding in listed:
        assert (by_id[finding]["severity"], by_id[finding]["category"]) == (severity, category)
    order = [(SEVERITIES.index(s), c) for s, c, _ in listed]
    assert order == sorted(order)
    medium = {c for s, c, _ in listed if s == "medium"}
    assert medium == {"policy-conflict", "unanswered-connection"}  # two categories, apart
    assert text.count("\n  policy-conflict (") == 2  # under medium and under low


def test_text_names_ends_evidence_and_wireshark_filter(report) -> None:
    text = render(report, "text")
    for f in report["findings"]:
        assert f["summary"] in text
        if f["evidence"]:
            assert wireshark_command(f["evidence"][0]["file"], f["display_filter"]) in text
            assert endpoint_label(f["src"]) in text and endpoint_label(f["dst"]) in text
    assert "Deployment shop/client, pod shop/client-6c9f7b8d4-k2x7q (10.244.1.10:" in text


def test_colour_only_when_asked(report) -> None:
    assert "\x1b[" not in render(report, "text")
    coloured = render(report, "text", color=True)
    assert "\x1b[31m\x1b[1m\nHIGH (3)" in coloured  # high in red, bold
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == render(report, "text")


def test_markdown_lists_every_finding_in_the_same_groups(report) -> None:
    markdown = render(report, "markdown")
    sections = re.findall(r"^## .* \((\w+), ([\w-]+)\)\n\n`([0-9a-f]{16})`", markdown, re.M)
    expected = [(s, c, f["id"]) for s, c, group in grouped(report["findings"]) for f in group]
    assert sections == expected
    assert "## Failing conversations" in markdown
    assert "wireshark -r " in markdown


def test_grouped_keeps_every_finding_once() -> None:
    findings = [{"id": str(i), "severity": s, "category": c, "first_seen": t}
                for i, (s, c, t) in enumerate([("low", "b", None), ("high", "z", "2"),
                                               ("low", "a", "1"), ("high", "z", "1"),
                                               ("bogus", "a", None)])]
    groups = grouped(findings)
    assert [(s, c, [f["id"] for f in g]) for s, c, g in groups] == [
        ("high", "z", ["3", "1"]), ("low", "a", ["2"]), ("low", "b", ["0"]),
        ("bogus", "a", ["4"])]


def test_every_format_renders_and_an_unknown_one_is_an_error(report) -> None:
    assert FORMATS == ("text", "json", "markdown", "html")
    for fmt in FORMATS:
        assert report["findings"][0]["id"] in render(report, fmt)
    with pytest.raises(PcapkitError, match="unknown report format 'pdf'"):
        render(report, "pdf")
