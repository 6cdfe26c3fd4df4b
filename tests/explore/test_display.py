"""How Capture, Findings, a finding and an explanation show themselves: a short repr that
never starts a decode, and HTML that is well-formed, escaped, capped and self-contained."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from conftest import ROOT

import pcapkit
from pcapkit.explore import Findings, FindingView
from pcapkit.explore.html import MAX_ROWS, frame_table, scoped_style

VOID = {"br", "meta", "img", "hr", "input", "link", "wbr", "col", "area", "base", "source"}


class Checker(HTMLParser):
    """Fails on an end tag that closes anything but the innermost open element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()

    def handle_data(self, data) -> None:
        self.text.append(data)


def well_formed(html: str) -> Checker:
    checker = Checker()
    checker.feed(html)
    checker.close()
    assert not checker.open, f"unclosed: {checker.open}"
    assert "script" not in checker.tags and "link" not in checker.tags
    assert not re.search(r"\bsrc\s*=|url\(|@import", html), "fetches something"
    assert checker.tags[0] == "div" and checker.tags[1] == "style"
    return checker


def test_repr_of_an_undecoded_capture_decodes_nothing(fresh) -> None:
    text = repr(fresh)
    assert text.startswith("<pcapkit.Capture ") and text.endswith("not decoded yet>")
    assert "demo" in text
    assert not {"decoded", "inputs", "vantage", "findings"} & set(fresh.__dict__)


def test_repr_says_what_is_known(fresh) -> None:
    fresh.decoded  # noqa: B018
    assert "packets" in repr(fresh) and "flows" not in repr(fresh)
    fresh.findings  # noqa: B018
    text = repr(fresh)
    assert "nodes node1,node2" in text and "10 flows" in text
    assert "findings: 4 high" in text and "\n" not in text


def test_capture_html(demo) -> None:
    checker = well_formed(demo._repr_html_())
    text = " ".join(checker.text)
    assert "500" in text and "node1" in text and "DNS transactions" in text
    assert "4 finding(s): 4 high" in text


def test_findings_html_is_a_colored_table(demo) -> None:
    html = demo.findings._repr_html_()
    checker = well_formed(html)
    assert checker.tags.count("tr") == 1 + len(demo.findings)
    assert "background:#d32f2f" in html          # high, in the report's colour
    assert all(f.id in html for f in demo.findings)


def test_finding_card(demo) -> None:
    for view in demo.findings:
        html = view._repr_html_()
        checker = well_formed(html)
        text = " ".join(checker.text)
        assert view.summary in text and view.remediation in text
        assert view.display_filter in text                     # how to see it in Wireshark
        assert view.finding.evidence[0].file in text           # evidence rows


def test_a_notebook_finding_is_the_reports_card(demo) -> None:
    from pcapkit.report.html import finding_card

    for view in demo.findings:
        card = finding_card(view.finding.to_dict())
        assert card.startswith(f'<article class="finding" id="f-{view.id}"')
        assert card in view._repr_html_()

def test_explanation_html(demo) -> None:
    for view in demo.findings:
        well_formed(view.explain()._repr_html_())


def test_html_is_capped(demo) -> None:
    many = Findings([demo.findings[0]] * (MAX_ROWS + 7))
    html = many._repr_html_()
    checker = well_formed(html)
    assert checker.tags.count("tr") == 1 + MAX_ROWS
    assert f"{MAX_ROWS} of {MAX_ROWS + 7} findings shown" in html
    frame = pd.DataFrame({"n": range(MAX_ROWS * 3)})
    table = frame_table(frame, limit=5)
    assert table.count("<tr>") == 6 and f"5 of {MAX_ROWS * 3:,} rows shown" in table


def test_every_value_is_escaped(demo) -> None:
    hostile = "<script>alert('x')</script>"
    original = demo.findings[2].finding
    finding = dataclasses.replace(original, title=hostile, summary=hostile,
                                  src={**original.src, "name": hostile},
                                  details={**original.details, "reason": hostile})
    view = FindingView(finding, demo, None)
    for html in (view._repr_html_(), Findings([view])._repr_html_()):
        well_formed(html)
        assert hostile not in html and "&lt;script&gt;" in html


def test_style_is_scoped() -> None:
    style = scoped_style("body{color:red}table,td{border:0}")
    assert style == ".pcapkit{color:red}\n.pcapkit table,.pcapkit td{border:0}"
    for rule in scoped_style().splitlines():
        assert rule.startswith(".pcapkit"), rule


def test_figures_are_one_call(demo) -> None:
    from matplotlib.figure import Figure

    flow = int(demo.findings.filter(category="asymmetric-route")[0].ids["flows"][0])
    for figure in (demo.ladder(flow), demo.plot_dns(), demo.plot_graph(),
                   demo.plot_traffic(), demo.findings[2].ladder(), demo.findings[0].ladder()):
        assert isinstance(figure, Figure) and figure.axes


def test_no_ipython_for_the_library() -> None:
    import subprocess
    import sys

    code = ("import sys, pcapkit\ncap = pcapkit.open('fixtures/demo', snapshot="
            "'fixtures/demo/cluster.json')\ncap.findings._repr_html_(); cap._repr_html_()\n"
            "assert not [m for m in ('IPython', 'ipykernel', 'jupyter_client') "
            "if m in sys.modules]\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize("name", ["findings", "analyze", "filter", "graph", "packet",
                                  "dissect", "ladder", "plot_dns", "plot_graph",
                                  "plot_traffic", "evidence", "table"])
def test_capture_methods_have_docstrings(name) -> None:
    assert (getattr(pcapkit.Capture, name).__doc__ or "").strip()



def test_a_snapshot_only_finding(demo) -> None:
    """fixtures/policy: a NetworkPolicy mistake no traffic hit has rows, no packets."""
    policy = ROOT / "fixtures" / "policy"
    cap = pcapkit.open(policy / "kernel", snapshot=policy / "cluster.json")
    views = [f for f in cap.findings.filter(category="policy-conflict")
             if not f.details["evidence_total"]]
    assert views, "fixtures/policy lost its snapshot-only policy conflicts"
    for view in views:
        assert len(view.rows) == 1 and len(view.evidence) == 0
        assert view.explain().kind == "rows"
        well_formed(view._repr_html_())
        with pytest.raises(pcapkit.PcapkitError, match="no evidence packets to draw"):
            view.ladder()


def test_read_problems_are_shown(tmp_path) -> None:
    missing = tmp_path / "no-such-dir"
    cap = pcapkit.open(missing)
    assert repr(cap).endswith("not decoded yet>")
    checker = well_formed(cap._repr_html_())
    assert f"{missing}: file not found" in " ".join(checker.text)
    assert f"1 read problem(s): {missing}: file not found" in repr(cap)
    assert len(cap.findings) == 0 and cap.graph().number_of_nodes() == 0
