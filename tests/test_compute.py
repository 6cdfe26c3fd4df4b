"""``Capture.compute``: tables built side by side on several processes equal the tables
read one by one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import pcapkit
import pcapkit.engines.forked as forked
from pcapkit.analyses import analyses, analysis_groups

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
INCIDENTS = [("kernel-dnat", "cluster.json"), ("demo", "cluster.json"), ("dnstx", None),
             ("paths", None), ("policy", "cluster.json")]


def _tables(capture: pcapkit.Capture) -> dict[str, pd.DataFrame]:
    return {name: capture.table(name).reset_index(drop=True)
            for name in ["flows", "dns", "distinct", *sorted(analyses())]}


@pytest.mark.skipif(not forked.can_fork(), reason="this platform cannot fork")
@pytest.mark.parametrize(("directory", "snapshot"), INCIDENTS)
def test_tables_built_side_by_side_equal_those_read_in_turn(directory, snapshot, monkeypatch):
    path = FIXTURES / directory
    assert path.is_dir(), f"missing fixture {path}"
    snap = path / snapshot if snapshot else None
    one = _tables(pcapkit.open([path], snapshot=snap, workers=1))
    monkeypatch.setattr(forked, "MIN_SHARE", 1)  # a small incident split all the same
    forks = []
    real = forked._fork
    monkeypatch.setattr(forked, "_fork", lambda *a: forks.append(1) or real(*a))
    capture = pcapkit.open([path], snapshot=snap, workers=2)
    capture.compute(["flows", "dns", *sorted(analyses())])
    assert len(forks) >= 2  # the flows beside DNS, then the analyses
    spread = _tables(capture)
    assert len(one["flows"]) and len(one["dns"]) + len(one["flow_paths"])
    for name, table in one.items():
        pd.testing.assert_frame_equal(table, spread[name], obj=f"{directory}: {name}")


def test_analyses_that_read_another_run_with_it():
    groups = analysis_groups(sorted(analyses()))
    assert sorted(n for g in groups for n in g) == sorted(analyses())
    together = next(g for g in groups if "policy_conflicts" in g)
    assert together.index("connection_attempts") < together.index("policy_conflicts")
    assert analysis_groups(["policy_conflicts"]) == [["connection_attempts", "policy_conflicts"]]


def test_a_large_incident_assembles_its_flows_in_shares_with_the_same_tables(monkeypatch):
    import pcapkit.partition.flows as partition_flows
    from pcapkit.flows import assemble_flows

    path = FIXTURES / "kernel-dnat"
    capture = pcapkit.open([path], snapshot=path / "cluster.json", workers=1)
    whole = assemble_flows(capture.vantage.distinct, capture.sightings, cluster=capture.cluster)
    monkeypatch.setattr(partition_flows, "FLOW_SHARE_ROWS", 5)  # this small one is large now
    cut = []
    real = partition_flows.assemble_flows_partitioned
    monkeypatch.setattr(partition_flows, "assemble_flows_partitioned",
                        lambda *a, **k: cut.append(a[2]) or real(*a, **k))
    flows, ids = capture._flows
    assert cut and cut[0] >= 2
    pd.testing.assert_frame_equal(whole[0], flows)
    pd.testing.assert_series_equal(whole[1], ids)


@pytest.mark.skipif(not forked.can_fork(), reason="this platform cannot fork")
def test_only_the_tables_asked_for_are_built(monkeypatch):
    monkeypatch.setattr(forked, "MIN_SHARE", 1)
    path = FIXTURES / "dnstx"
    capture = pcapkit.open([path], workers=2)
    capture.compute(["flows"])
    assert "_flows" in capture.__dict__
    assert "dns" not in capture.__dict__ and "context" not in capture.__dict__
    capture.compute(["dns"])
    assert "dns" in capture.__dict__ and not capture._derived
    pd.testing.assert_frame_equal(capture.dns, pcapkit.open([path], workers=1).dns)


@pytest.mark.skipif(not forked.can_fork(), reason="this platform cannot fork")
def test_analyze_on_two_processes_reports_what_one_reports(monkeypatch, tmp_path):
    """The whole command, its stages spread (a split threshold of one packet) against
    ``--jobs 1``: the same report, finding for finding."""
    import json

    from click.testing import CliRunner

    from pcapkit.cli import main

    monkeypatch.setattr(forked, "MIN_SHARE", 1)
    forks = []
    real = forked._fork
    monkeypatch.setattr(forked, "_fork", lambda *a: forks.append(1) or real(*a))
    reports = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"report-{jobs}.json"
        result = CliRunner().invoke(main, ["analyze", str(FIXTURES / "demo"), "--format",
                                           "json", "-o", str(out), "--jobs", jobs, "-q"])
        assert result.exit_code in (0, 1), result.output
        report = json.loads(out.read_text())
        report["summary"].pop("seconds")
        reports[jobs] = report
        assert bool(forks) == (jobs == "2")  # decode, flows and DNS, analyses: forked
    assert reports["1"]["findings"], "the demo incident has findings"
    assert reports["1"] == reports["2"]
