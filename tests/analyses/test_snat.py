"""snat_conflicts on the kernel SNAT captures: held SYNs and stale tuples, linked to their
pods, IP-only from the uplink alone, and the healthy twin's traps (many masqueraded
connections, a pod reusing its own port after the server's TIME_WAIT) left alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import pcapkit
from pcapkit.schema.convert import mismatches
from pcapkit.schema.snat import SNAT_CONFLICTS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SNAT = FIXTURES / "snat"
CLUSTER = SNAT / "cluster.json"
NODE_IP, SERVER = "192.168.100.11", "192.168.100.50"
PODS = {"10.244.1.10": "shop/orders-worker-6d8f7c9b5-k2m4p",
        "10.244.1.11": "shop/orders-worker-6d8f7c9b5-x7q9r",
        "10.244.1.12": "shop/billing-exporter-59c7d8f6b4-t3v8w"}


def capture(*names: str, snapshot: Path | None = None) -> pcapkit.Capture:
    paths = [SNAT / name for name in names]
    missing = [p for p in [*paths, *([snapshot] if snapshot else [])] if not p.exists()]
    assert not missing, f"committed fixture missing: {missing}"
    return pcapkit.open(paths, snapshot=snapshot)


def conflicts(*names: str, snapshot: Path | None = None) -> pd.DataFrame:
    table = capture(*names, snapshot=snapshot).table("snat_conflicts")
    assert mismatches(table, SNAT_CONFLICTS) == []
    return table


@pytest.fixture(scope="module")
def reuse() -> pd.DataFrame:
    return conflicts("reuse/node1-any.pcap", snapshot=CLUSTER)


def test_time_wait_reuse_is_linked_to_its_pods(reuse) -> None:
    """Phase 1: eight GETs through two ports; five SYNs landed on a tuple the server still
    held (SYN, bare ACK, reset, SYN again), each named by its pod and the pod before it."""
    stale = reuse[reuse["kind"] == "stale_tuple"]
    assert len(stale) == 5
    assert set(stale["resp_p"]) == {8080} and set(stale["resp_h"].astype(str)) == {SERVER}
    assert set(stale["orig_h"].astype(str)) == {NODE_IP}
    assert set(stale["orig_p"]) <= {40000, 40001}
    assert stale["snat_seen"].all() and stale["completed"].all()
    assert (stale["syn_sends"] == 2).all() and (stale["connect_delay_s"] < 0.1).all()
    for _, row in stale.iterrows():
        assert row["client"] == PODS[str(row["client_h"])]
        assert row["previous_client"] in PODS.values() and row["previous_client"] != row["client"]
        assert 1.0 < row["previous_gap_s"] < 60  # closed, within the server's TIME_WAIT
        assert row["flow_id"] in row["flow_ids"] and row["previous_flow_id"] in row["flow_ids"]
        assert row["client_identity"].startswith("Deployment shop/")
        assert "with an ACK for an older connection" in row["reason"]
    assert set(stale["clients"]) == {",".join(sorted(PODS.values()))}


def test_held_syns_waited_for_a_tuple(reuse) -> None:
    """Phases 2 and 3: three pods, two ports: five connections whose first SYN never left
    the node, sent again a second later, while other connections held the tuples."""
    held = reuse[reuse["kind"] == "held_at_snat"]
    assert len(held) == 5
    assert set(held["resp_p"]) == {9000} and held["snat_seen"].all()
    assert (held["connect_delay_s"] >= 0.9).all() and (held["syn_sends"] >= 2).all()
    assert (held["holders"] + held["held_recent"] >= 1).all()
    assert (held["holders"] >= 1).all()  # the connections open when the SYN was held
    assert set(held["node"]) == {"node1"}
    assert all("was held at node1" in reason for reason in held["reason"])


def test_uplink_alone_reports_the_stale_tuples_ip_only() -> None:
    table = conflicts("reuse/node1-eth0.pcap")
    assert list(table["kind"]) == ["stale_tuple"] * 5  # nothing says a SYN was held
    assert not table["snat_seen"].any()
    assert set(table["client_h"].astype(str)) == set(table["orig_h"].astype(str)) == {NODE_IP}


@pytest.mark.parametrize("name", ["healthy/node1-any.pcap", "healthy/node1-eth0.pcap"])
def test_healthy_masquerade_and_a_late_port_reuse_are_no_conflict(name) -> None:
    cap = capture(name)
    assert len(cap.table("snat_conflicts")) == 0
    flows = cap.flows
    assert (flows["proto"] == "tcp").sum() >= 40  # many masqueraded connections
    again = flows[(flows["orig_p"] == 45000) & (flows["resp_p"] == 8080)
                  & (flows["orig_h"].astype(str) == NODE_IP)]
    assert len(again) == 2  # the pod's own port kept by masquerade, reused 62 s later
    gap = again["ts"].max() - again["last_ts"].min()
    assert gap.total_seconds() > 60


def test_a_syn_answered_by_a_stale_ack_is_no_unanswered_attempt() -> None:
    attempts = capture("reuse/node1-any.pcap").table("connection_attempts")
    assert len(attempts) == 0


def test_committed_snapshot_matches_its_generator() -> None:
    done = subprocess.run([sys.executable, str(SNAT / "make_cluster_json.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_connections_whose_sequence_numbers_agree_by_chance_are_not_linked(tmp_path) -> None:
    """A pod's unanswered SYNs and, 4 s after its last one, another client's connection
    with the same initial sequence number to the same server, while a third connection
    from that client is open: nothing says the pod's SYN was translated (its SYNs stopped
    before the other one started), so no conflict."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import PcapWriter

    server, node = "192.0.2.5", "192.168.100.11"
    frames = [(0.0, IP(src=node, dst=server) / TCP(sport=40001, dport=443, flags="S", seq=5)),
              (0.001, IP(src=server, dst=node) / TCP(sport=443, dport=40001, flags="SA",
                                                      seq=9, ack=6)),
              (0.002, IP(src=node, dst=server) / TCP(sport=40001, dport=443, flags="A", seq=6,
                                                      ack=10))]
    for when in (0.5, 1.5):  # the pod's SYN, re-sent, never answered
        frames.append((when, IP(src="10.244.1.10", dst=server) / TCP(
            sport=51000, dport=443, flags="S", seq=777)))
    frames += [(5.5, IP(src=node, dst=server) / TCP(sport=40000, dport=443, flags="S",
                                                     seq=777)),
               (5.501, IP(src=server, dst=node) / TCP(sport=443, dport=40000, flags="SA",
                                                       seq=50, ack=778)),
               (6.0, IP(src=node, dst=server) / TCP(sport=40001, dport=443, flags="FA", seq=6,
                                                     ack=10))]
    path = tmp_path / "chance.pcap"
    writer = PcapWriter(str(path), linktype=1, sync=True)
    for when, packet in frames:
        frame = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / packet
        frame.time = 1_764_000_000 + when
        writer.write(frame)
    writer.close()
    assert len(pcapkit.open([path]).table("snat_conflicts")) == 0
