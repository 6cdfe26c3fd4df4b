"""A run cut into shares analyses a share at a time: every derived table, the findings and
the whole report equal one pass's, while no process ever reads a whole per-packet table
(the run's whole-table reader is made to fail)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import pcapkit
from pcapkit.analyses import analyses
from pcapkit.analyses.context import merge_contexts, packet_context
from pcapkit.partition.run import PartitionedRun
from pcapkit.report import build_report
from pcapkit.rules import analyze_capture, checked_pack

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _open(name: str, **scale) -> pcapkit.Capture:
    path = FIXTURES / name
    assert path.exists(), f"missing committed fixture {path}"
    snapshot = path / "cluster.json"
    return pcapkit.open(path, snapshot=snapshot if snapshot.exists() else None, **scale)


def _report(capture: pcapkit.Capture) -> dict:
    pack = checked_pack()
    report = build_report(capture, analyze_capture(capture, pack.rules),
                          rules=len(pack.rules))
    report["summary"].pop("seconds")
    return json.loads(json.dumps(report, default=str))


@pytest.mark.parametrize(("name", "shares"), [
    ("demo", 3),              # policy drop, DNS timeouts, asymmetric route, tunnels
    ("overlay", 4),           # VXLAN/Geneve loss, MTU, tunnels between several nodes
    ("kernel-dnat", 3),       # a Service DNAT's two sides in two shares
    ("asymmetric", 2),        # every asymmetry at once: one-way points, split routing, TTLs
    ("paths", 2),             # next-hop MACs
    ("snat", 3),              # SNAT port reuse across the client's and node's flows
])
def test_shares_analyse_a_share_at_a_time(name, shares, monkeypatch):
    one = _open(name)
    expected_tables = {table: one.table(table) for table in sorted(analyses())}
    expected_report = _report(one)

    def whole_read(self):
        raise AssertionError("a whole per-packet table was read")

    monkeypatch.setattr(PartitionedRun, "_read_vantage", whole_read)
    two = _open(name, shares=shares, workers=2)
    try:
        assert two._run is not None and two._run.bounded
        for table, frame in expected_tables.items():
            pd.testing.assert_frame_equal(two.table(table), frame, obj=table,
                                          check_categorical=False)
        assert _report(two) == expected_report
        # the facts really came from the shares, one result per share holding packets
        assert 1 < len(two.facts("flow_paths")) <= shares
    finally:
        two.close()


def test_a_merged_context_is_the_whole_incidents():
    capture = _open("overlay")
    packets = capture.packets
    halves = [packets.iloc[: len(packets) // 2], packets.iloc[len(packets) // 2:]]
    whole, merged = packet_context(packets), merge_contexts([packet_context(h) for h in halves])
    pd.testing.assert_frame_equal(merged.windows, whole.windows)
    assert merged.end_ns == whole.end_ns and merged.used == whole.used
    assert merged.decap_nodes == whole.decap_nodes
    assert list(merged.too_big_ports) == list(whole.too_big_ports)
    pd.testing.assert_frame_equal(merged.addresses, whole.addresses.sort_values(
        ["file", "address"], ignore_index=True), check_dtype=False)
    for part in ("sent", "received"):
        pd.testing.assert_frame_equal(getattr(merged, part), getattr(whole, part).sort_values(
            ["node", "address"], ignore_index=True), check_dtype=False)
    pd.testing.assert_series_equal(merged.tunnel_rows, whole.tunnel_rows.sort_index())
    pd.testing.assert_series_equal(merged.present, whole.present.sort_index())
    assert len(whole.used) and len(whole.sent)  # the overlay has tunnels to own


def test_merge_nat_runs_read_whole_tables_and_say_so():
    # DNAT-linked flows folded into one row have their two sides in two shares: the
    # analyses then read the whole tables (same answers, not bounded)
    from pcapkit.flows import FlowOptions

    options = FlowOptions(merge_nat=True)
    one = _open("kernel-dnat", flow_options=options)
    two = _open("kernel-dnat", flow_options=options, shares=3, workers=1)
    try:
        assert not two._run.bounded
        pd.testing.assert_frame_equal(two.table("connection_attempts"),
                                      one.table("connection_attempts"),
                                      check_categorical=False)
    finally:
        two.close()


def test_the_dns_step_comes_after_the_analyses_facts(monkeypatch):
    """``analyze`` asks for flows, dns and the analyses at once: a run in shares builds
    its DNS transactions (the parent's largest step) after the facts tasks, so the two
    never hold their memory at the same time; the tables are one pass's all the same."""
    import pcapkit.partition.run as run_module

    steps = []
    dns, facts = run_module._dns, PartitionedRun.share_facts
    monkeypatch.setattr(run_module, "_dns", lambda *a, **k: steps.append("dns") or dns(*a, **k))
    monkeypatch.setattr(PartitionedRun, "share_facts",
                        lambda *a, **k: steps.append("facts") or facts(*a, **k))
    one = _open("demo")
    two = _open("demo", shares=3, workers=2)
    try:
        derived = sorted(analyses())
        two.compute(["flows", "dns", *derived])
        assert steps and steps[-1] == "dns" and steps.count("dns") == 1 and "facts" in steps
        assert not two._facts  # each analysis's facts went once its table was built
        pd.testing.assert_frame_equal(two.dns, one.dns, check_categorical=False)
        for table in derived:
            pd.testing.assert_frame_equal(two.table(table), one.table(table), obj=table,
                                          check_categorical=False)
    finally:
        two.close()


@pytest.mark.parametrize("table", ["dns", "dns_messages", "packets"])
def test_reading_a_closed_run_is_an_error_not_an_empty_table(table):
    from pcapkit.errors import PcapkitError

    capture = _open("demo", shares=3, workers=1)
    root = Path(capture._run.plan.root)
    capture.close()
    with pytest.raises(PcapkitError, match="closed"):
        capture.table(table)
    assert not root.exists()  # and the read made no empty directory again
