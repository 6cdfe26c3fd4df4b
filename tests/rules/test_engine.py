"""Findings from rules: grouping, evidence from every capture point, filters, stable ids."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import pcapkit
from pcapkit.rules import load_rules, run_rules

ROOT = Path(__file__).resolve().parents[2]
DNAT = ROOT / "fixtures" / "kernel-dnat"
ANSWERED = """
title: Answered lookups
id: 7a1f0c52-0000-4000-8000-0000000000{n}
status: test
logsource: {{product: pcapkit, category: dns}}
detection:
  ok: {{status: answered, qtype: A}}
  condition: ok
fields: [resp_h, backend_ip]
level: low
pcapkit:
  category: test
  group_by: [{group}]
  summary: "{{count}} answers for {{qname}} from {{resp_h}}"
  remediation: None needed.
"""


@pytest.fixture(scope="module")
def incident() -> pcapkit.Capture:
    paths = [DNAT / "node1-any.pcap", DNAT / "node2-eth0.pcap"]
    assert all(p.exists() for p in paths)
    return pcapkit.open(paths, snapshot=DNAT / "cluster.json")


def findings(tmp_path: Path, capture: pcapkit.Capture, group: str, n: str = "01"):
    path = tmp_path / f"rule{n}.yml"
    path.write_text(ANSWERED.format(n=n, group=group))
    pack = load_rules([path], core=False)
    assert pack.problems == []
    return run_rules(capture, pack.rules)


def test_one_finding_per_group_with_counts_and_ends(tmp_path, incident) -> None:
    dns = incident.dns
    answered = dns[(dns["status"] == "answered") & (dns["qtype"] == "A")]
    found = findings(tmp_path, incident, "qname")
    assert len(found) == answered["qname"].nunique() > 0
    for finding in found:
        rows = answered[answered["qname"] == finding.details["qname"]]
        assert finding.count == len(rows)
        assert finding.src["name"] == rows["orig_pod"].iloc[0]        # cluster identity
        assert finding.src["ip"] == str(rows["orig_h"].iloc[0])
        assert finding.dst["service"] == rows["resp_service"].iloc[0]
        assert finding.protocol == "udp" and finding.port == 53
        assert finding.summary.startswith(f"{len(rows)} answers for {finding.details['qname']}")
        assert finding.first_seen <= finding.last_seen
        json.loads(finding.to_json())


def test_evidence_is_every_sighting_of_the_query_and_response(tmp_path, incident) -> None:
    dns = incident.dns
    found = findings(tmp_path, incident, "tx_id")
    assert len(found) == ((dns["status"] == "answered") & (dns["qtype"] == "A")).sum()
    finding = found[0]
    tx = dns[dns["tx_id"] == finding.details["tx_id"]].iloc[0]
    expected = incident.evidence(dns=[int(tx["tx_id"])])
    assert finding.details["evidence_total"] == len(expected)
    assert {(e.file, e.frame) for e in finding.evidence} == \
        set(zip(expected["file"].astype(str), expected["frame"].astype(int), strict=True))
    assert len({e.node for e in finding.evidence}) == 2  # seen on both nodes


def test_ids_are_stable_across_runs(tmp_path, incident) -> None:
    first = [f.id for f in findings(tmp_path, incident, "qname")]
    again = pcapkit.open(incident.paths, snapshot=DNAT / "cluster.json")
    assert [f.id for f in findings(tmp_path, again, "qname")] == first
    assert len(set(first)) == len(first)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_display_filter_selects_exactly_the_evidence_frames(tmp_path, incident) -> None:
    finding = findings(tmp_path, incident, "qname")[0]
    file = finding.evidence[0].file
    frames = sorted(e.frame for e in finding.evidence if e.file == file)
    out = subprocess.run(["tshark", "-r", file, "-Y", finding.display_filter, "-T", "fields",
                          "-e", "frame.number"], capture_output=True, text=True, check=True)
    assert [int(x) for x in out.stdout.split()] == frames


def test_event_count_correlation_keeps_only_dense_windows(tmp_path) -> None:
    base = """
title: One unanswered query
name: one_lost
id: 7a1f0c52-0000-4000-8000-000000000101
status: test
logsource: {product: pcapkit, category: dns}
detection: {lost: {status: unanswered}, condition: lost}
level: low
pcapkit: {category: test, summary: x, remediation: y}
---
title: Repeated loss
id: 7a1f0c52-0000-4000-8000-000000000102
status: test
correlation:
  type: event_count
  rules: [one_lost]
  group-by: [orig_h, qname]
  timespan: %s
  condition: {gte: 2}
level: high
pcapkit: {category: test, summary: "{count} lost for {qname}", remediation: y}
"""
    capture = pcapkit.open([ROOT / "fixtures" / "dnstx" / "retries.pcap"])
    lost = capture.dns[capture.dns["status"] == "unanswered"]
    assert len(lost) == 1  # one lost attempt: never two in any window
    for span, expected in (("1h", 0),):
        path = tmp_path / "corr.yml"
        path.write_text(base % span)
        pack = load_rules([path], core=False)
        assert pack.problems == []
        assert len(run_rules(capture, pack.rules)) == expected
    glibc = pcapkit.open([ROOT / "fixtures" / "dnstx" / "glibc-race.pcap"])
    spans = glibc.dns[glibc.dns["status"] == "unanswered"]
    path.write_text((base % "1h").replace("group-by: [orig_h, qname]", "group-by: [orig_h]"))
    assert len(run_rules(glibc, load_rules([path], core=False).rules)) == int(len(spans) >= 2)


def test_count_counts_distinct_values_and_rows_without_one_alone(tmp_path, incident) -> None:
    rule = ANSWERED.format(n="31", group="qtype").replace(
        "{status: answered, qtype: A}", "{qtype: A}").replace(
        "  remediation: None needed.", "  remediation: None needed.\n  count: %s")
    a = incident.dns[incident.dns["qtype"] == "A"]
    assert a["qname"].nunique() < len(a) and a["response_packet_id"].isna().any()
    for column, expected in (("qname", a["qname"].nunique()),
                             ("response_packet_id",  # each unanswered query its own
                              a["response_packet_id"].nunique() + a["response_packet_id"]
                              .isna().sum())):
        path = tmp_path / f"count-{column}.yml"
        path.write_text(rule % column)
        pack = load_rules([path], core=False)
        assert pack.problems == []
        [finding] = run_rules(incident, pack.rules)
        assert (finding.count, finding.details["rows"]) == (expected, len(a))


# -- time columns: ISO 8601 times with |gt |gte |lt |lte, exact to the nanosecond ----------

WINDOW = """
title: Flows in a window
id: 3c2b1a09-0000-4000-8000-000000000001
status: test
logsource: {{product: pcapkit, category: flows}}
detection:
  window: {{ts|gt: {since}, last_ts|lte: {until}}}
  condition: window
level: low
pcapkit:
  category: test
  group_by: [proto]
  summary: "{{count}} {{proto}} flows in the window"
  remediation: None needed.
"""


def test_a_rule_selects_the_flows_of_a_time_window(tmp_path, incident) -> None:
    flows = incident.flows
    starts = flows["ts"].sort_values()
    since, until = starts.iloc[0], flows["last_ts"].max()  # the first flow starts at since
    # since as the flow's own time (no zone: UTC), until with an offset, unquoted in YAML
    text = WINDOW.format(since=f"'{since.tz_localize(None).isoformat()}'",
                       until=until.tz_convert("Europe/Paris").isoformat())
    (tmp_path / "window.yml").write_text(text)
    pack = load_rules([tmp_path / "window.yml"], core=False)
    assert pack.problems == []
    found = run_rules(incident, pack.rules)
    expected = flows[(flows["ts"] > since) & (flows["last_ts"] <= until)]
    assert 0 < len(expected) < len(flows)  # the first flow is left out: ts|gt, not gte
    assert sum(f.count for f in found) == len(expected)
    assert {f.details["proto"]: f.count for f in found} == \
        expected.groupby("proto", observed=True).size().to_dict()
    assert min(pd.Timestamp(f.first_seen) for f in found) > since


def test_a_time_that_is_none_is_a_lint_problem(tmp_path) -> None:
    (tmp_path / "bad.yml").write_text(WINDOW.format(since="'last tuesday'", until="2026-11-27"))
    pack = load_rules([tmp_path / "bad.yml"], core=False)
    (problem,) = pack.problems
    assert pack.rules == [] and problem.field == "ts"
    assert "'last tuesday' is not a time" in str(problem)


TEMPORAL = """
title: An A query lost
name: lost_a
id: 7a1f0c52-0000-4000-8000-000000000201
status: test
logsource: {product: pcapkit, category: dns}
detection: {lost: {status: unanswered, qtype: A}, condition: lost}
level: low
pcapkit: {category: test, summary: x, remediation: y}
---
title: An AAAA query lost
name: lost_aaaa
id: 7a1f0c52-0000-4000-8000-000000000202
status: test
logsource: {product: pcapkit, category: dns}
detection: {lost: {status: unanswered, qtype: AAAA}, condition: lost}
level: low
pcapkit: {category: test, summary: x, remediation: y}
---
title: Both lost
id: 7a1f0c52-0000-4000-8000-000000000203
status: test
correlation:
  type: temporal
  rules: [lost_a, lost_aaaa]
  group-by: [orig_h]
  timespan: %s
level: high
pcapkit: {category: test, summary: "{count} lost for {orig_h}", remediation: y}
"""


@pytest.mark.parametrize(("text", "span"), [
    (TEMPORAL, "1s"), (TEMPORAL, "5s"), (TEMPORAL, "1h"),
    (TEMPORAL.replace("type: temporal", "type: event_count").replace(
        "rules: [lost_a, lost_aaaa]", "rules: [lost_a]").replace(
        "timespan: %s", "timespan: %s\n  condition: {gte: 2}").replace(
        "{status: unanswered, qtype: A}",
        "{status: [unanswered, unanswered_at_capture_end], qtype: A}"), "3s"),
])
def test_correlation_windows_of_all_groups_at_once_match_per_group(tmp_path, monkeypatch,
                                                                  incident, text, span):
    """The windows of every group found in one pass give the rows the per-group loop
    gives (the kernel-dnat incident: an A and an AAAA query lost 1 ms apart, both re-sent
    a second later and cut off by the capture's end)."""
    from pcapkit.rules import engine

    path = tmp_path / "corr.yml"
    path.write_text(text % span)
    pack = load_rules([path], core=False)
    assert pack.problems == []
    [rule] = pack.rules
    at_once = engine.matched_rows(rule, incident)
    monkeypatch.setattr(engine, "_window_ends", lambda *args: None)  # per group
    one_by_one = engine.matched_rows(rule, incident)
    assert at_once[0].index.tolist() == one_by_one[0].index.tolist()
    assert (at_once[1] == one_by_one[1]).all()
    if span != "1s":
        assert len(at_once[0]) >= 2  # the A and AAAA (or two A) losses inside one window
