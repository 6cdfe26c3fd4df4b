"""The HTML report's ladder diagrams: each finding's first evidence flow, drawn as inline
SVG inside its card (capped), cheap enough, escaped, and rendered by Chromium with nothing
loaded; without the capture (a report read back) the page has none."""

from __future__ import annotations

import re
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from demo_cases import DEMO, flow_of, only

import pcapkit
from pcapkit.cli import main
from pcapkit.plots.ladders import REPORT_LADDERS, finding_flows, ladder_layout, report_ladders
from pcapkit.report import build_report, render
from pcapkit.report.html import CSP
from pcapkit.report.svg import ladder_svg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the Chromium helper
from test_report_html import open_in_chromium  # noqa: E402


@pytest.fixture(scope="module")
def report(demo, demo_findings) -> dict:
    return build_report(demo, demo_findings)


def articles(page: str) -> dict[str, str]:
    """Finding id -> the HTML of its card."""
    return dict(re.findall(r'<article class="finding" id="f-([0-9a-f]+)".*?>(.*?)</article>',
                           page, re.S))


def test_every_finding_shows_the_ladder_of_its_first_evidence_flow(demo, demo_findings,
                                                                   report) -> None:
    page = render(report, "html", capture=demo)
    cards = articles(page)
    assert len(cards) == len(demo_findings) == 4
    for finding in demo_findings:
        first = finding.evidence[0]
        sighting = demo.sightings[(demo.sightings["file"] == first.file)
                                  & (demo.sightings["frame"] == first.frame)]
        packet = int(sighting["packet_id"].iloc[0])
        flow = int(demo.distinct.set_index("packet_id").loc[packet, "flow_id"])
        card = cards[finding.id]
        assert card.count('<svg class="ladder"') == 1, finding.title
        layout = ladder_layout(demo, flow)
        assert f"Ladder diagram of flow{'s' if len(layout.flows) > 1 else ''} " \
               f"{' and '.join(map(str, layout.flows))} across" in card
        svg = card[card.index('<svg class="ladder"'):card.index("</svg>", card.index(
            '<svg class="ladder"'))]
        assert svg.count("marker-end=") == len(layout.hops) - len(layout.packets)
        assert svg.count("<circle") == len(layout.hops)
        assert svg.count('class="missed"') == int(layout.packets["missed"].sum())
        for label in layout.lanes["interface"]:
            assert f">{label}</text>" in svg
    asymmetric = cards[only(demo_findings, "Asymmetric route").id]
    assert asymmetric.count('class="missed"') == 4            # the SYN-ACKs lost on eth1
    assert "the same packet after the Service NAT" in \
        cards[[f for f in demo_findings if "DNS" in f.title][0].id]
    # each ladder's arrow markers are its own
    ids = re.findall(r'<marker id="([^"]+)"', page)
    assert len(ids) == len(set(ids)) == 4 * 3 + 2


def test_finding_flows_follows_the_first_evidence_sighting(demo, demo_findings,
                                                           report) -> None:
    flows = finding_flows(demo, report["findings"])
    for finding, flow in zip(report["findings"], flows, strict=True):
        if "DNS" not in finding["title"]:
            assert flow == flow_of(demo, only(demo_findings, finding["title"]))
        else:   # the query as the client sent it: to the Service, before the DNAT
            assert demo.flows.set_index("flow_id").loc[flow, "nat_side"] == "service"
    bare = [{**f, "evidence": []} for f in report["findings"]]
    assert finding_flows(demo, bare) == [None] * len(bare)
    assert report_ladders(demo, bare) == {}


def test_ladders_are_capped_and_cheap(demo, report) -> None:
    many = [{**f, "id": f"{i:016x}"} for i, f in enumerate(report["findings"] * 3)]
    layouts = report_ladders(demo, many)
    assert len(layouts) == REPORT_LADDERS == 10
    assert list(layouts) == [f["id"] for f in many[:REPORT_LADDERS]]
    render(report, "html", capture=demo)  # warm (imports, tables)
    started = time.perf_counter()
    render(report, "html")
    plain = time.perf_counter() - started
    started = time.perf_counter()
    render(report, "html", capture=demo)
    assert time.perf_counter() - started - plain < 0.3
    page = render({**report, "findings": many}, "html", capture=demo)
    assert page.count('<svg class="ladder"') == REPORT_LADDERS
    assert f"Ladder diagrams are drawn for the first {REPORT_LADDERS} findings" in page


def test_without_the_capture_the_page_has_no_ladders(report) -> None:
    page = render(report, "html")
    assert '<svg class="ladder"' not in page and "Ladder diagram" not in page


def test_hostile_lane_and_end_names_stay_text(demo) -> None:
    layout = ladder_layout(demo, 7)
    hostile = "<script>alert(1)</script>"
    lanes = layout.lanes.assign(node=hostile, interface=hostile, role=hostile)
    packets = layout.packets.assign(label=hostile)
    svg = ladder_svg(type(layout)(**{**layout.__dict__, "lanes": lanes, "packets": packets,
                                     "title": hostile}), "k")
    assert "<script" not in svg and "&lt;script&gt;" in svg
    parser = HTMLParser()
    parser.feed(svg)
    parser.close()


def test_chromium_renders_the_demo_page_with_its_ladders_and_loads_nothing(tmp_path) -> None:
    page = tmp_path / "demo.html"
    result = CliRunner().invoke(main, ["analyze", str(DEMO), "--format", "html",
                                       "-o", str(page)])
    assert result.exit_code == 1, result.stderr   # four high findings
    html = page.read_text()
    assert html.count('<svg class="ladder"') == 4
    assert "<script" not in html and not re.search(r"\ssrc\s*=", html)
    assert not re.search(r"(href|xlink:href)=\"(https?:)?//[^\"]*\"(?![^>]*rel=)", html)
    assert CSP.replace("'", "&#x27;") in html
    dom, console = open_in_chromium(page, tmp_path / "profile")
    assert console == [], console
    assert dom.count('<svg class="ladder"') == 4
    assert pcapkit.__version__ in dom
