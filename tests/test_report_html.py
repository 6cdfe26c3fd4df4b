"""The HTML report: one self-contained page that headless Chromium renders with every
finding on it and nothing loaded from anywhere; hostile names stay text; the json, markdown
and html of one run hold the same findings.

Chromium is required (``.ci/run`` installs Debian's ``chromium``): when it is missing these
tests fail, they never skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

import pcapkit
from pcapkit.cli import main
from pcapkit.report import build_report, render
from pcapkit.report.html import CSP
from pcapkit.rules import load_rules, run_rules

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "fixtures" / "policy"
DNAT = ROOT / "fixtures" / "kernel-dnat"
HOSTILE = "<script>alert(1)</script>"


def chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(path).exists(), "chromium is missing: install Debian's chromium (.ci/run does)"
    return path


def open_in_chromium(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM Chromium built from ``page`` and its console lines (CSP violations, failed
    loads: a page without scripts has no other console output)."""
    result = subprocess.run(
        [chromium(), "--headless=new", "--disable-gpu", "--no-sandbox", "--no-first-run",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=2000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines()
               if "CONSOLE" in line or "net::ERR" in line or "Failed to load" in line]
    return result.stdout, console


def analysis(paths: list[Path], snapshot: Path) -> dict:
    capture = pcapkit.open(paths, snapshot=snapshot)
    pack = load_rules(())
    return build_report(capture, run_rules(capture, pack.rules, None), rules=len(pack.rules))


@pytest.fixture(scope="module")
def policy_report() -> dict:
    return analysis([POLICY / "kernel"], POLICY / "cluster.json")


def test_chromium_renders_every_finding_and_loads_nothing(tmp_path) -> None:
    page = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["analyze", str(POLICY / "kernel"), "--snapshot",
                                       str(POLICY / "cluster.json"), "--format", "html",
                                       "-o", str(page)])
    assert result.exit_code == 1, result.stderr  # high findings: --fail-on high
    html = page.read_text()
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"\ssrc\s*=", html), "the page loads something"
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    links = re.findall(r"<a [^>]*>", html)
    web = [a for a in links if re.search(r"href=\"(https?:)?//", a)]
    assert all(a.endswith(' rel="noopener noreferrer">') for a in web), web  # rule references
    assert [a for a in links if a not in web] and all(
        a.startswith('<a href="#') for a in links if a not in web)
    quoted = CSP.replace("'", "&#x27;")
    assert f'<meta http-equiv="Content-Security-Policy" content="{quoted}">' in html
    dom, console = open_in_chromium(page, tmp_path / "profile")
    assert console == [], console
    findings = json.loads(render(analysis([POLICY / "kernel"], POLICY / "cluster.json"),
                                 "json"))["findings"]
    assert len(findings) == 10
    for finding in findings:
        assert f'id="f-{finding["id"]}"' in dom, finding["title"]
        assert finding["title"] in dom
    assert dom.count('<article class="finding"') == len(findings)
    assert '<svg class="timeline"' in dom and '<svg class="graph"' in dom


def test_the_console_check_sees_a_blocked_fetch(tmp_path) -> None:
    """The check above can fail: a page with the report's CSP that tries to load an image
    from the network shows up in Chromium's console."""
    page = tmp_path / "fetching.html"
    page.write_text(f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
                    f'content="{CSP}"></head><body><p>x</p>'
                    '<img src="http://127.0.0.1:9/x.png"></body></html>')
    _, console = open_in_chromium(page, tmp_path / "profile")
    assert any("Content Security Policy" in line for line in console), console


def test_json_markdown_and_html_of_one_run_hold_the_same_findings(policy_report) -> None:
    ids = {f["id"] for f in json.loads(render(policy_report, "json"))["findings"]}
    assert len(ids) == 10
    markdown = render(policy_report, "markdown")
    html = render(policy_report, "html")
    text = render(policy_report, "text")
    assert set(re.findall(r"`([0-9a-f]{16})`", markdown.split("\n## ")[0])) == ids  # table
    assert set(re.findall(r"^## .*\n\n`([0-9a-f]{16})`", markdown, re.M)) == ids  # sections
    assert set(re.findall(r'<article class="finding" id="f-([0-9a-f]{16})"', html)) == ids
    assert set(re.findall(r'<a href="#f-([0-9a-f]{16})">', html.split('id="timeline"')[0])) \
        == ids  # the overview table links every finding
    assert set(re.findall(r"\[([0-9a-f]{16})\]$", text, re.M)) == ids
    for finding in policy_report["findings"]:
        assert _escaped(finding["summary"]) in html


def test_hostile_pod_names_from_the_cluster_stay_text(tmp_path) -> None:
    cluster = (POLICY / "cluster.json").read_text()
    assert "client-6c9f7b8d4-k2x7q" in cluster
    hostile = tmp_path / "cluster.json"
    hostile.write_text(cluster.replace("client-6c9f7b8d4-k2x7q", HOSTILE))
    report = analysis([POLICY / "kernel"], hostile)
    assert any(f["src"]["name"] == HOSTILE for f in report["findings"])
    page = tmp_path / "report.html"
    page.write_text(render(report, "html"))
    html = page.read_text()
    assert "<script" not in html and _escaped(HOSTILE) in html
    dom, console = open_in_chromium(page, tmp_path / "profile")
    assert "<script" not in dom and console == []
    markdown = render(report, "markdown")  # escaped for GitLab/GitHub too
    assert "<script" not in markdown and "&lt;script>" in markdown


def test_every_value_from_captures_and_cluster_is_escaped(policy_report) -> None:
    """Put hostile text in every string the page shows (finding fields, ends, evidence,
    details, graph nodes and edges, inputs): none of it comes out as markup."""
    report = json.loads(json.dumps(policy_report))
    bad = '"><img src=x onerror=alert(1)>' + HOSTILE
    for f in report["findings"]:
        for key in ("title", "summary", "category", "rule", "remediation", "protocol"):
            f[key] = f"{f[key]}{bad}"
        f["references"] = [bad, "javascript:alert(1)"]
        for end in (f["src"], f["dst"]):
            end.update(name=bad, workload=bad, namespace=bad, service=bad, node=bad)
        for item in f["evidence"]:
            item.update(file=bad, node=bad, interface=bad)
        f["details"] = {bad: bad, "list": [bad], "display_filters": {bad: bad}}
    for node in report["graph"]["nodes"]:
        node.update(id=node["id"] + bad, kind=bad, namespace=bad)
    for edge in report["graph"]["edges"]:
        edge.update(src=edge["src"] + bad, dst=edge["dst"] + bad, protocols=[bad])
    for item in report["inputs"]:
        item.update(file=bad, node=bad, errors=[bad])
    report["summary"]["note"] = bad
    html = render(report, "html")
    assert "<script" not in html and "<img" not in html and "onerror=alert" in html
    assert not re.search(r"<[^>]*\sonerror=", html)
    assert 'href="javascript:' not in html
    assert html.count(_escaped(HOSTILE)) > len(report["findings"]) * 5


def test_failing_edges_are_red_and_lead_to_their_finding() -> None:
    report = analysis([DNAT / "node1-any.pcap", DNAT / "node2-eth0.pcap"],
                      DNAT / "cluster.json")
    html = render(report, "html")
    graph = html[html.index('<svg class="graph"'):]
    graph = graph[:graph.index("</svg>")]
    failing = [e for e in report["graph"]["edges"] if e["failing"]]
    assert len(failing) == 2  # the lost DNS queries and the Service without endpoints
    assert graph.count('stroke="#d32f2f"') == len(failing)
    assert graph.count('stroke="#9aa5b1"') == len(report["graph"]["edges"]) - len(failing)
    for edge in failing:
        assert f'<a href="#f-{edge["findings"][0]}"><path' in graph
    timeline = html[html.index('<svg class="timeline"'):]
    timeline = timeline[:timeline.index("</svg>")]
    assert timeline.count('<a href="#f-') == len(report["findings"])
    assert timeline.count("<polyline") + timeline.count('<circle class="p50"') >= 1
    assert 'class="failed"' in timeline  # the unanswered queries' bucket


def _escaped(text: str) -> str:
    from html import escape

    return escape(text, quote=True)


def test_short_time_keeps_the_microsecond_and_parts_date_and_time() -> None:
    from pcapkit.report.html import short_time

    assert short_time("2024-05-01T10:00:03.123456789Z") == "2024-05-01 10:00:03.123456"
    assert short_time("2024-05-01T10:00:03Z") == "2024-05-01 10:00:03"
    assert short_time(None) == "-" and short_time("") == "-"

