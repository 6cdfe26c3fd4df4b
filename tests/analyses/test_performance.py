"""Path performance per node pair and workload pair (path_performance): kernel captures of
a three-node VXLAN mesh (healthy, 25% underlay loss node1 -> node3, a slow consumer) and
crafted captures (an RTT outlier, a slow tail, and the traps that must stay quiet)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scapy.utils import wrpcap

import pcapkit
from pcapkit.analyses.performance import MIN_FLOWS, _others_median
from pcapkit.schema import table
from pcapkit.schema.convert import mismatches

ROOT = Path(__file__).resolve().parents[2] / "fixtures"
OVERLAY = ROOT / "overlay"
CRAFTED = ROOT / "throughput"
SNAPSHOT = OVERLAY / "cluster.json"
FRONTEND = "Pod shop/frontend-6c9f7b8d4-k2x7q"
CHECKOUT = "Pod shop/checkout-8f6d5c4b3-zq9w1"
REPORTS = "Pod shop/reports-5b8c7d6f9-r3p0t"


def performance(path: Path, snapshot: Path | None = SNAPSHOT) -> pd.DataFrame:
    assert path.exists(), f"missing fixture {path}"
    frame = pcapkit.open(path, snapshot=snapshot).table("path_performance")
    assert mismatches(frame, table("path_performance")) == []
    return frame


def nodes(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["level"] == "node_pair"].set_index(["orig_node", "resp_node"])


def workloads(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["level"] == "workload_pair"].set_index(["orig_workload",
                                                                "resp_workload"])


@pytest.mark.parametrize("snapshot", [SNAPSHOT, None], ids=["snapshot", "captures"])
def test_underlay_loss_flags_the_lossy_node_pair_only(snapshot) -> None:
    frame = performance(OVERLAY / "loss", snapshot)
    pairs = nodes(frame)
    assert len(pairs) == 6  # every ordered pair of the mesh, nodes known either way
    lossy = pairs.loc[("node1", "node3")]
    assert lossy["retrans_outlier"] and lossy["outlier"]
    assert lossy["retrans_rate"] >= 0.05 and lossy["retrans_flows"] >= 2
    assert lossy["retrans_norm"] == 0
    assert lossy["reason"].startswith("retransmits 20.0% of segments (2 of 6 flows hit)")
    assert not pairs.drop(("node1", "node3"))["outlier"].any()
    assert not lossy["rtt_outlier"] and not lossy["zero_window_outlier"]
    flows = pcapkit.open(OVERLAY / "loss", snapshot=snapshot).flows.set_index("flow_id")
    cited = flows.loc[lossy["flow_ids"]]
    assert (cited["orig_retrans"].iloc[:2] > 0).all()  # the retransmitting flows first
    assert (cited["orig_h"] == "10.244.1.10").all() and (cited["resp_h"] == "10.244.3.10").all()


def test_a_workload_pair_on_a_flagged_path_is_reported_as_the_path() -> None:
    pairs = workloads(performance(OVERLAY / "loss"))
    assert not pairs["outlier"].any()
    same = pairs.loc[(FRONTEND, CHECKOUT)]
    assert same["retransmitted"] == 3
    assert "reported on the node pairs" in same["reason"]


def test_a_retransmitted_syn_ack_gives_no_rtt_sample() -> None:
    # node1's replies to node3 cross the lossy direction: three SYN-ACKs were lost and
    # re-sent a second later; those handshakes are left out (Karn), not counted as slow
    pair = nodes(performance(OVERLAY / "loss")).loc[("node3", "node1")]
    assert pair["measured_flows"] == 6 and pair["rtt_flows"] == 3
    assert pair["rtt_median"] < 0.001 and not pair["rtt_outlier"]


@pytest.mark.parametrize("snapshot", [SNAPSHOT, None], ids=["snapshot", "captures"])
def test_healthy_mesh_has_no_outlier(snapshot) -> None:
    frame = performance(OVERLAY / "healthy", snapshot)
    assert len(nodes(frame)) == 6
    assert len(workloads(frame)) == (6 if snapshot else 0)  # no snapshot: no workloads
    assert not frame["outlier"].any()
    assert (frame["reason"] == "in line with the other pairs").all()
    assert (frame["peers"] == 5).all() and (frame["retransmitted"] == 0).all()


def test_the_slow_consumer_is_its_workload_pairs() -> None:
    frame = performance(OVERLAY / "stall")
    slow = workloads(frame)
    stalled = slow[slow["zero_window_outlier"]]
    assert sorted(stalled.index) == [(CHECKOUT, REPORTS), (FRONTEND, REPORTS)]
    assert (stalled["zero_window_flows"] == 6).all()
    assert (stalled["zero_window_resp_flows"] == 6).all()  # the responder's window
    assert stalled["reason"].str.contains("the responder's receive window closed").all()
    # the node pairs carrying them are not flagged again, and the window probes sent into
    # the closed window are not retransmissions
    assert not nodes(frame)["outlier"].any()
    assert nodes(frame).loc[("node1", "node2"), "zero_window_flows"] == 6
    assert not frame["retrans_outlier"].any() and not frame["rtt_outlier"].any()


def test_without_workloads_the_stall_is_the_node_pairs() -> None:
    pairs = nodes(performance(OVERLAY / "stall", snapshot=None))
    flagged = pairs[pairs["outlier"]]
    assert sorted(flagged.index) == [("node1", "node2"), ("node3", "node2")]
    assert flagged["zero_window_outlier"].all()
    assert (flagged["zero_window_share"] == 0.5).all()


def test_a_slow_path_is_a_latency_outlier() -> None:
    frame = performance(CRAFTED / "rtt-outlier.pcap")
    pair = nodes(frame).loc[("node1", "node3")]
    assert pair["rtt_outlier"] and not pair["retrans_outlier"]
    assert pair["rtt_median"] == pytest.approx(0.025, abs=0.0005)
    assert pair["rtt_norm"] < 0.0005 and pair["slow_flows"] == 8
    assert pair["reason"].startswith("handshake RTT median 25.0 ms")
    assert nodes(frame)["rtt_outlier"].sum() == 1
    assert not workloads(frame)["outlier"].any()  # the path's problem, reported there


def test_a_slow_tail_is_a_latency_outlier() -> None:
    pair = nodes(performance(CRAFTED / "rtt-tail.pcap")).loc[("node1", "node3")]
    assert pair["rtt_median"] < 0.001 and pair["rtt_p90"] > 0.01
    assert pair["rtt_spread"] > 0.01 and pair["slow_flows"] == 3
    assert pair["rtt_outlier"]


@pytest.mark.parametrize("name", ["retrans-outlier.pcap", "retrans-mild.pcap"])
def test_crafted_retransmissions(name) -> None:
    pair = nodes(performance(CRAFTED / name)).loc[("node1", "node3")]
    assert pair["retrans_outlier"]
    assert pair["retrans_rate"] == pytest.approx(8 / 72 if "outlier" in name else 2 / 66)


@pytest.mark.parametrize("name", ["one-slow-flow.pcap", "three-flows.pcap",
                                  "mid-flow-retrans.pcap"])
def test_traps_stay_quiet(name) -> None:
    frame = performance(CRAFTED / name)
    assert not frame["outlier"].any()
    pairs = nodes(frame)
    if name == "one-slow-flow.pcap":  # one slow flow, and one flow retransmitting
        assert pairs.loc[("node1", "node3"), "slow_flows"] == 1
        assert pairs.loc[("node2", "node4"), "retrans_flows"] == 1
        assert pairs.loc[("node2", "node4"), "retrans_rate"] > 0.03
    elif name == "three-flows.pcap":
        pair = pairs.loc[("node1", "node3")]
        assert pair["measured_flows"] == 3 < MIN_FLOWS and pair["retrans_rate"] > 0.2
        assert pair["reason"] == "3 measured flows, fewer than 5: not compared"
        assert (pairs.drop(("node1", "node3"))["peers"] == 4).all()  # not a peer either
    else:  # running before the capture: no handshake, retransmissions not counted
        pair = pairs.loc[("node1", "node3")]
        assert pair["flows"] == 8 and pair["measured_flows"] == 0
        assert pair["retransmitted"] == 0 and pair["rtt_flows"] == 0


def test_a_pair_with_no_peers_is_never_an_outlier(tmp_path) -> None:
    crafted = _crafted_module()
    slow = [p for i in range(8) for p in crafted.connection(
        crafted.START + i, crafted.FRONTEND, crafted.CHECKOUT, 40000 + i, 0.030, 2)]
    wrpcap(str(tmp_path / "alone.pcap"), [crafted.snap(p) for p in slow])
    frame = performance(tmp_path / "alone.pcap")
    assert list(frame["pair"]) == ["node1 -> node3", f"{FRONTEND} -> {CHECKOUT}"]
    assert (frame["peers"] == 0).all() and not frame["outlier"].any()
    assert (frame["reason"] == "no other pair with enough measured flows to compare "
            "with").all()


def test_one_capture_point_names_no_far_node() -> None:
    # without a snapshot, one capture saw both ends first: neither end's node is known
    assert performance(CRAFTED / "retrans-outlier.pcap", snapshot=None).empty
    pair = performance(ROOT / "kernel", snapshot=None)  # two nodes, three flows
    assert list(pair["pair"]) == ["node1 -> node2"]
    assert pair["reason"].iloc[0] == "3 measured flows, fewer than 5: not compared"


def test_others_median_leaves_each_row_out() -> None:
    values = np.array([0.0, 0.0, 0.0, 0.3, 5.0, np.nan])
    eligible = np.array([True, True, True, True, False, True])
    out = _others_median(values, eligible)
    assert list(out[:4]) == [0.0, 0.0, 0.0, 0.0]
    assert out[4] == 0.0  # outside the pool: the median of all of it
    assert np.isnan(_others_median(np.array([1.0]), np.array([True])))[0]
    assert list(_others_median(np.array([1.0, 3.0]), np.array([True, True]))) == [3.0, 1.0]
    assert _others_median(np.array([1.0, 2.0, 4.0]), np.ones(3, bool))[0] == 3.0


def _crafted_module():
    spec = importlib.util.spec_from_file_location("make_crafted", CRAFTED / "make_crafted.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_crafted_fixtures_are_current(tmp_path) -> None:
    _crafted_module().main(["make_crafted.py", str(tmp_path)])
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in CRAFTED.glob("*.pcap"))
    for name in written:
        assert (tmp_path / name).read_bytes() == (CRAFTED / name).read_bytes(), name
