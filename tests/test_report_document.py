"""The report document's DNS timeline and workload graph: counted from the tables (checked
against independent pandas counts), bounded in size, following docs/report.schema.json."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest

import pcapkit
from pcapkit.report import build_report
from pcapkit.report.graph import MAX_EDGES, talk_graph
from pcapkit.report.timeline import FAILED, MAX_BUCKETS, WIDTHS, bucket_width, dns_timeline
from pcapkit.rules import load_rules, run_rules

ROOT = Path(__file__).resolve().parent.parent
DNAT = ROOT / "fixtures" / "kernel-dnat"
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())


@pytest.fixture(scope="module")
def dnat() -> tuple[pcapkit.Capture, dict]:
    capture = pcapkit.open([DNAT / "node1-any.pcap", DNAT / "node2-eth0.pcap"],
                           snapshot=DNAT / "cluster.json")
    pack = load_rules(())
    report = build_report(capture, run_rules(capture, pack.rules, None), rules=len(pack.rules))
    return capture, report


def test_report_with_timeline_and_graph_follows_the_schema(dnat) -> None:
    _, report = dnat
    jsonschema.validate(json.loads(json.dumps(report)), SCHEMA)
    assert report["timeline"]["dns"] and report["graph"]["edges"]


def test_dns_timeline_counts_what_the_dns_table_holds(dnat) -> None:
    capture, report = dnat
    dns = capture.dns
    timeline = report["timeline"]
    buckets = timeline["dns"]
    assert timeline["dns_transactions"] == len(dns) == 8
    assert sum(b["queries"] for b in buckets) == dns["query_ts"].notna().sum()
    assert sum(b["failed"] for b in buckets) == dns["status"].isin(FAILED).sum() == 2
    assert sum(b["answered"] for b in buckets) == dns["latency_s"].notna().sum() == 4
    width = pd.Timedelta(seconds=timeline["bucket_seconds"])
    bucket_of = dns["query_ts"].dt.floor(width)
    for b in buckets:
        rows = dns[bucket_of == pd.Timestamp(b["start"])]
        assert b["queries"] == len(rows)
        latency = rows["latency_s"].dropna() * 1e3
        if len(latency):
            assert b["p50_ms"] == pytest.approx(latency.median(), abs=1e-3)
            assert b["max_ms"] == pytest.approx(latency.max(), abs=1e-3)
        else:
            assert b["p50_ms"] is None and b["max_ms"] is None


def test_dns_timeline_is_bounded_however_long_the_capture() -> None:
    rng = np.random.default_rng(5)
    n = 50_000
    start = pd.Timestamp("2026-01-01", tz="UTC")
    query = start + pd.to_timedelta(np.sort(rng.uniform(0, 10 * 3600, n)), unit="s")
    latency = rng.exponential(0.02, n)
    latency[::50] = np.nan
    dns = pd.DataFrame({"query_ts": query,
                        "response_ts": query + pd.to_timedelta(np.nan_to_num(latency), unit="s"),
                        "latency_s": latency,
                        "status": np.where(np.isnan(latency), "unanswered", "answered")})
    timeline = dns_timeline(dns)
    assert len(timeline["dns"]) <= MAX_BUCKETS and timeline["bucket_seconds"] == 600
    assert sum(b["queries"] for b in timeline["dns"]) == n
    assert sum(b["failed"] for b in timeline["dns"]) == np.isnan(latency).sum()
    # the captures' span widens the buckets: a whole day in at most MAX_BUCKETS
    assert dns_timeline(dns, 86400.0)["bucket_seconds"] == 900


@pytest.mark.parametrize("span", [0.0, 0.05, 1.0, 119.0, 3600.0, 86400.0, 30 * 86400.0])
def test_bucket_width_keeps_the_bucket_count(span) -> None:
    width = bucket_width(span)
    assert width in WIDTHS and span / width < MAX_BUCKETS - 1
    smaller = WIDTHS.index(width) - 1
    assert smaller < 0 or span / WIDTHS[smaller] >= MAX_BUCKETS - 1  # the smallest that fits


def test_graph_edges_carry_flows_failures_and_findings(dnat) -> None:
    capture, report = dnat
    flows = capture.flows
    pairs = flows.groupby([flows["orig_identity"].astype(str),
                           flows["resp_identity"].astype(str)]).size()
    edges = {(e["src"], e["dst"]): e for e in report["graph"]["edges"]}
    assert {k: e["flows"] for k, e in edges.items()} == pairs.to_dict()
    assert report["graph"]["edges_total"] == len(pairs)
    refused = edges["Pod shop/client-6c9f7b8d4-k2x7q", "shop/checkout"]
    no_endpoints = [f["id"] for f in report["findings"] if f["category"] == "service-no-endpoints"]
    assert refused["failed"] == 1 and refused["findings"] == no_endpoints and refused["failing"]
    assert refused["protocols"] == ["tcp"] and refused["ports"] == [80]
    dns = edges["Pod shop/client-6c9f7b8d4-k2x7q", "kube-system/kube-dns"]
    timeouts = {f["id"] for f in report["findings"] if f["category"] == "dns-timeout"}
    assert set(dns["findings"]) == timeouts and dns["failing"]
    assert [e["failing"] for e in report["graph"]["edges"]] == [True, True, False, False, False,
                                                                False]  # failing first
    kinds = {n["id"]: n["kind"] for n in report["graph"]["nodes"]}
    assert kinds["kube-system/kube-dns"] == "service" and kinds[
        "Pod shop/client-6c9f7b8d4-k2x7q"] == "pod"
    assert set(kinds) == {end for e in edges for end in e}


def _flows(src: list[str], dst: list[str], ports: list[int]) -> pd.DataFrame:
    n = len(src)
    return pd.DataFrame({"orig_identity": pd.array(src, dtype="string"),
                         "resp_identity": pd.array(dst, dtype="string"),
                         "orig_h": pd.Categorical(["10.0.0.1"] * n),
                         "resp_h": pd.Categorical(["10.0.0.2"] * n),
                         "proto": pd.Categorical(["tcp"] * n),
                         "resp_p": pd.array(ports, dtype="UInt16")})


def test_graph_keeps_failing_edges_then_the_busiest_up_to_the_limit() -> None:
    src = [f"client-{i}" for i in range(200) for _ in range(i % 7 + 1)]
    flows = pd.concat([_flows(src, ["api"] * len(src), [8080] * len(src)),
                       _flows(["client-3", "client-4"], ["db", "syslog"], [5432, 514])],
                      ignore_index=True)
    attempts = flows.tail(2).assign(reply_expected=pd.array([True, False], dtype="boolean"))
    finding = {"id": "0123456789abcdef", "details": {"orig_identity": "client-9"},
               "src": {}, "dst": {"workload": "cache", "kind": "service", "namespace": "shop"}}
    graph = talk_graph(flows, attempts, [finding])
    assert len(graph["edges"]) == MAX_EDGES and graph["edges_total"] == 203
    assert graph["failing_total"] == 2
    first, second = graph["edges"][:2]
    assert (first["src"], first["dst"], first["flows"], first["findings"]) == \
        ("client-9", "cache", 0, ["0123456789abcdef"])  # a finding with no flow still shows
    assert (second["src"], second["dst"], second["failed"]) == ("client-3", "db", 1)
    rest = graph["edges"][2:]
    assert not any(e["failing"] for e in rest)  # one-way syslog is no failure
    busiest = sorted([i % 7 + 1 for i in range(200)] + [1], reverse=True)  # + syslog
    assert [e["flows"] for e in rest] == busiest[:MAX_EDGES - 2]
    assert {"id": "cache", "kind": "service", "namespace": "shop"} in graph["nodes"]
    jsonschema.validate({"graph": graph}, {"$defs": SCHEMA["$defs"], "type": "object",
                                          "properties": {"graph": SCHEMA["properties"]["graph"]}})


def test_graph_ports_are_the_most_used_first() -> None:
    ports = [443] * 5 + [80] * 3 + [8080] * 3 + [1, 2, 3, 4]
    graph = talk_graph(_flows(["a"] * len(ports), ["b"] * len(ports), ports), None, [])
    assert graph["edges"][0]["ports"] == [443, 80, 8080, 1, 2]


def test_empty_tables_give_empty_sections() -> None:
    graph = talk_graph(_flows([], [], []), None, [])
    assert graph == {"nodes": [], "edges": [], "edges_total": 0, "failing_total": 0}
    empty = pd.DataFrame({"query_ts": pd.Series([], dtype="datetime64[ns, UTC]"),
                          "response_ts": pd.Series([], dtype="datetime64[ns, UTC]"),
                          "latency_s": pd.Series([], dtype=float),
                          "status": pd.Series([], dtype=object)})
    assert dns_timeline(empty) == {"bucket_seconds": None, "dns_transactions": 0, "dns": []}


def test_a_capture_without_a_snapshot_graphs_addresses() -> None:
    capture = pcapkit.open(ROOT / "fixtures" / "dnstx" / "answered.pcap")
    report = build_report(capture, [])
    jsonschema.validate(json.loads(json.dumps(report)), SCHEMA)
    (edge,) = report["graph"]["edges"]
    assert (edge["src"], edge["dst"], edge["ports"], edge["failing"]) == \
        ("10.244.1.10", "10.96.0.10", [53], False)
