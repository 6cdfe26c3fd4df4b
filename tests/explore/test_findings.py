"""Capture.findings / analyze, the Findings collection and one finding's view on the demo
incident: the same findings as ``pcapkit analyze``, every evidence sighting, the rows
behind each, and the reasoning of explain()."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CLUSTER, DEMO

import pcapkit
from pcapkit.cli import main
from pcapkit.evidence import sighted_frames
from pcapkit.explore import Findings, FindingView
from pcapkit.findings import Finding

FRONTEND, CHECKOUT = "Deployment shop/frontend", "Deployment shop/checkout"


def by_category(findings: Findings) -> dict[str, list[FindingView]]:
    out: dict[str, list[FindingView]] = {}
    for view in findings:
        out.setdefault(view.category, []).append(view)
    return out


def test_the_three_core_categories(demo) -> None:
    findings = demo.findings
    assert isinstance(findings, Findings)
    assert Counter(f.category for f in findings) == {"dns-timeout": 2, "policy-drop": 1,
                                                     "asymmetric-route": 1}
    assert {f.severity for f in findings} == {"high"}
    views = by_category(findings)
    assert {v.details["qtype"] for v in views["dns-timeout"]} == {"A", "AAAA"}
    drop, = views["policy-drop"]
    assert (drop.src["workload"], drop.dst["workload"], drop.port) == \
        (FRONTEND, "Deployment shop/db", 5432)
    asym, = views["asymmetric-route"]
    assert (asym.src["workload"], asym.dst["workload"]) == (CHECKOUT,
                                                            "Deployment shop/payments")
    assert findings.by_severity() == {"critical": 0, "high": 4, "medium": 0, "low": 0,
                                      "informational": 0}


def test_findings_are_what_the_cli_reports(demo) -> None:
    """One function makes both: the same ids, ends, counts and evidence."""
    result = CliRunner().invoke(main, ["analyze", str(DEMO), "--snapshot", str(CLUSTER),
                                       "--format", "json", "-q"])
    assert result.exit_code == 1, result.output  # high findings: --fail-on high
    report = json.loads(result.stdout)
    assert [f.to_dict() for f in demo.findings] == report["findings"]


def test_findings_are_computed_once(demo) -> None:
    assert demo.findings is demo.findings


def test_indexing_by_position_id_and_slice(demo) -> None:
    findings = demo.findings
    first = findings[0]
    assert findings[first.id] is first
    assert isinstance(findings[1:3], Findings) and len(findings[1:3]) == 2
    assert findings[-1] is list(findings)[-1]
    with pytest.raises(KeyError):
        findings["0000000000000000"]


def test_frame_view(demo) -> None:
    frame = demo.findings.frame
    assert list(frame.columns)[:4] == ["id", "severity", "category", "title"]
    assert frame["id"].tolist() == [f.id for f in demo.findings]
    assert isinstance(frame["first_seen"].dtype, pd.DatetimeTZDtype)
    assert frame["evidence_total"].tolist() == [f.details["evidence_total"]
                                               for f in demo.findings]
    assert frame.loc[frame["category"] == "policy-drop", "port"].tolist() == [5432]


def test_filter_by_category_severity_and_pod(demo) -> None:
    findings = demo.findings
    assert {f.category for f in findings.filter(category="dns-*")} == {"dns-timeout"}
    assert len(findings.filter(category=["policy-drop", "asymmetric-route"])) == 2
    assert len(findings.filter(severity="high")) == 4
    assert len(findings.filter(severity=["low", "medium"])) == 0
    db = findings.filter(pod="shop/db-*")
    assert [f.category for f in db] == ["policy-drop"]
    assert len(findings.filter(pod="frontend-*")) == 3          # no namespace: pod name
    assert len(findings.filter(pod="kube-system/*")) == 0      # kube-dns is a Service end
    assert len(findings.filter(category="dns-*", pod="shop/checkout-*")) == 0
    with pytest.raises(pcapkit.PcapkitError, match="severity: 'severe'"):
        findings.filter(severity="severe")
    with pytest.raises(pcapkit.PcapkitError, match="category"):
        findings.filter(category=3)


def test_evidence_is_every_sighting(demo) -> None:
    for view in demo.findings:
        evidence = view.evidence
        assert len(evidence) == view.details["evidence_total"] > len(view.finding.evidence) - 1
        cited = {(file, int(frame)) for file, frames in
                 sighted_frames(view.to_dict()).items() for frame in frames}
        assert set(zip(evidence["file"].astype(str), evidence["frame"].astype(int),
                       strict=True)) == cited
        assert {"node", "interface", "ts_corrected", "packet_id"} <= set(evidence.columns)


def test_rows_behind_each_finding(demo) -> None:
    views = by_category(demo.findings)
    for view in views["dns-timeout"]:
        rows = view.rows
        assert len(rows) == 2 and set(rows["status"]) == {"unanswered"}  # query and retry
        assert set(rows["qtype"]) == {view.details["qtype"]}
        assert view.ids["flows"].size == 0 and set(view.ids["packets"]) == set(
            rows["query_packet_id"]) | set(rows["nat_query_packet_id"])
    drop, = views["policy-drop"]
    assert drop.rows["verdict"].tolist() == ["denied"]
    assert drop.ids["flows"].tolist() == drop.rows["flow_id"].tolist()
    asym, = views["asymmetric-route"]
    assert asym.rows["asymmetric"].tolist() == [True]
    flow = int(asym.rows["flow_id"].iloc[0])
    assert demo.flows.set_index("flow_id").loc[flow, "resp_p"] == 8080


def test_explain_a_policy_drop(demo) -> None:
    drop, = by_category(demo.findings)["policy-drop"]
    why = drop.explain()
    assert why.kind == "policy" and why.verdict is not None and not why.verdict.allowed
    ingress = why.frame.set_index("direction").loc["ingress"]
    assert ingress["policies"] == "shop/db-ingress" and not ingress["allowed"]
    assert "app=checkout" in ingress["near_misses"]
    assert why.frame.set_index("direction").loc["egress", "allowed"]
    assert "near miss" in str(why) and "shop/db-ingress" in why.text


def test_explain_an_asymmetric_route(demo) -> None:
    asym, = by_category(demo.findings)["asymmetric-route"]
    why = asym.explain()
    assert why.kind == "paths"
    frame = why.frame.set_index("point")
    # the requests cross the tunnel, the replies come back bare on eth1: each direction
    # passes points the other never does
    assert frame.loc["node1:eth1", "orig -> resp sightings"] == 0
    assert frame.loc["node1:eth1", "resp -> orig sightings"] > 0
    assert frame.loc["node1:flannel.1", "orig -> resp sightings"] > 0
    assert frame.loc["node1:flannel.1", "resp -> orig sightings"] == 0
    assert frame["orig -> resp sightings"].sum() + frame["resp -> orig sightings"].sum() == \
        asym.details["evidence_total"]
    assert "encap_one_way" in why.text


def test_explain_others_shows_the_rows(demo) -> None:
    view = by_category(demo.findings)["dns-timeout"][0]
    why = view.explain()
    assert why.kind == "rows"
    assert why.frame["tx_id"].tolist() == view.rows["tx_id"].tolist()
    assert "qname" in why.shown and len(why.shown) < len(why.frame.columns)


def test_analyze_other_packs(demo, tmp_path) -> None:
    """Additional rules add findings; core=False runs only them; a broken rule is refused."""
    rule = tmp_path / "icmp.yml"
    rule.write_text("""\
title: Pings between pods
id: 5b1f0c8e-4a57-4d0a-9d1e-6f2e3c4b5a69
status: experimental
level: low
logsource: {product: pcapkit, category: flows}
detection:
  selection: {proto: icmp}
  condition: selection
pcapkit:
  category: ping
  summary: "{count} ping flow(s)"
  remediation: nothing to do
""")
    both = demo.analyze(rules=[rule])
    assert len(both) == len(demo.findings) + 1
    only = demo.analyze(rules=rule, core=False)
    assert [(f.category, f.severity) for f in only] == [("ping", "low")]
    assert len(only[0].rows) == 1 and only[0].rows["proto"].tolist() == ["icmp"]
    bad = tmp_path / "bad.yml"
    bad.write_text("title: broken\nlogsource: {product: pcapkit, category: nope}\n")
    with pytest.raises(pcapkit.PcapkitError, match="rule problems"):
        demo.analyze(rules=[bad])


def test_analyze_with_tuning(demo, tmp_path) -> None:
    tuning = tmp_path / "tuning.yml"
    tuning.write_text("disable: [8eddcea4-af7e-4cc0-8f80-0811971d2a35]\n")
    tuned = demo.analyze(tuning=tuning)
    assert "policy-drop" not in {f.category for f in tuned}
    assert len(tuned) == len(demo.findings) - 1


def test_repr_is_short(demo) -> None:
    text = repr(demo.findings)
    lines = text.splitlines()
    assert lines[0] == "<pcapkit.Findings 4: 4 high>" and len(lines) == 5
    assert repr(demo.findings[0]).startswith(f"<pcapkit finding {demo.findings[0].id} high")


def test_a_findings_view_keeps_the_finding_contract(demo) -> None:
    view = demo.findings[0]
    assert isinstance(view.finding, Finding)
    assert view.to_dict() == view.finding.to_dict()
    assert view.summary == view.finding.summary
    with pytest.raises(AttributeError):
        view.no_such_field  # noqa: B018
    assert np.issubdtype(view.ids["packets"].dtype, np.integer)
