"""Tunnel delivery per node pair (tunnel_pairs) on real kernel captures and crafted ones,
and the decoder's outer UDP checksum check."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from scapy.all import IP, UDP, Ether, rdpcap, wrpcap
from scapy.layers.vxlan import VXLAN

import pcapkit
from pcapkit.schema import table
from pcapkit.schema.convert import mismatches

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "overlay"
SNAPSHOT = FIXTURES / "cluster.json"


def pairs(scenario: str, snapshot: Path | None = SNAPSHOT, files: list[Path] | None = None):
    directory = FIXTURES / scenario
    assert directory.is_dir(), f"missing fixture {directory}"
    capture = pcapkit.open(files or [directory], snapshot=snapshot)
    frame = capture.table("tunnel_pairs")
    assert mismatches(frame, table("tunnel_pairs")) == []
    return frame.set_index(["src_node", "dst_node"])


def test_underlay_loss_is_one_pair_one_direction() -> None:
    frame = pairs("loss")
    assert len(frame) == 6  # every ordered pair of the three-node mesh
    lossy = frame.loc[("node1", "node3")]
    assert lossy["verdict"] == "lossy"
    assert lossy["lost"] > 5 and 0.1 < lossy["loss_rate"] < 0.6  # nft drops 25%
    assert lossy["lost"] + lossy["delivered"] == lossy["sent"]
    assert lossy["lost_flows"] >= 2
    assert len(lossy["evidence_packet_ids"]) == min(20, lossy["lost"])
    assert (frame.drop(("node1", "node3"))["verdict"] == "healthy").all()
    assert frame.loc[("node3", "node1"), "lost"] == 0  # the way back is not dropped


def test_nodes_come_from_the_captures_without_a_snapshot() -> None:
    with_snapshot, without = pairs("loss"), pairs("loss", snapshot=None)
    assert list(without.index) == list(with_snapshot.index)
    assert (without["lost"] == with_snapshot["lost"]).all()


def test_healthy_twin_delivers_everything() -> None:
    frame = pairs("healthy")
    assert len(frame) == 6
    assert (frame["verdict"] == "healthy").all() and (frame["lost"] == 0).all()
    assert (frame["sent"] > 0).all()


def test_blocked_tunnel_port_reaches_the_nic_and_is_never_decapsulated() -> None:
    frame = pairs("blocked")
    blocked = frame.loc[("node1", "node3")]
    assert blocked["verdict"] == "blocked"
    assert blocked["undecapsulated"] == blocked["sent"] > 0  # on node3's eth0, never flannel.1
    assert blocked["lost"] == 0 and blocked["loss_rate"] == 1.0
    assert blocked["icmp_unreachable"] > 0  # node3's reject, quoting UDP 8472
    assert (frame.drop(("node1", "node3"))["verdict"] == "healthy").all()


def test_only_packets_sent_while_the_receiver_captured_count(tmp_path: Path) -> None:
    """node3's capture starts half-way: what node1 sent before is not lost."""
    late = tmp_path / "node3-eth0.pcap"
    records = rdpcap(str(FIXTURES / "loss" / "node3-eth0.pcap"))
    wrpcap(str(late), records[len(records) // 2:])
    files = [FIXTURES / "loss" / "node1-eth0.pcap", FIXTURES / "loss" / "node2-eth0.pcap", late]
    full, cut = pairs("loss"), pairs("loss", files=files)
    for pair in (("node1", "node3"), ("node2", "node3")):
        assert 0 < cut.loc[pair, "sent"] < full.loc[pair, "sent"]
    assert cut.loc[("node2", "node3"), "lost"] == 0
    assert cut.loc[("node1", "node3"), "lost"] <= full.loc[("node1", "node3"), "lost"]


def test_a_receiver_that_did_not_capture_gives_no_pair() -> None:
    frame = pairs("loss", files=[FIXTURES / "loss" / "node1-eth0.pcap"])
    assert frame.empty


def test_bad_outer_checksum_dropped_by_the_receiver() -> None:
    bad = pairs("bad-checksum", snapshot=None).loc[("node1", "node2")]
    assert bad["verdict"] == "bad-checksum"
    assert bad["bad_checksums"] == 4 and bad["undecapsulated"] == 3  # 1 sent before node2
    offload = pairs("offload-checksum", snapshot=None).loc[("node1", "node2")]
    assert offload["verdict"] == "healthy" and offload["bad_checksums"] == 0


def test_empty_capture_gives_the_declared_empty_table(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pcap"
    wrpcap(str(empty), [])
    frame = pcapkit.open([empty]).table("tunnel_pairs")
    assert frame.empty and mismatches(frame, table("tunnel_pairs")) == []


def _vxlan(chksum: int | None, payload: bytes = b"x") -> Ether:
    inner = Ether() / IP(src="10.244.1.10", dst="10.244.2.10") / UDP(sport=1, dport=2) / payload
    frame = Ether(bytes(Ether() / IP(src="192.168.100.11", dst="192.168.100.12") /
                        UDP(sport=40000, dport=8472) / VXLAN(vni=1) / inner))
    if chksum is not None:
        frame[UDP].chksum = chksum
    return Ether(bytes(frame))


def test_outer_checksum_column_agrees_with_tshark(tmp_path: Path) -> None:
    good = _vxlan(None, b"odd")  # odd length: the last byte is padded
    frames = [good, _vxlan(good[UDP].chksum ^ 0x0101, b"odd"), _vxlan(0), _vxlan(None, b"ab")]
    path = tmp_path / "checksums.pcap"
    wrpcap(str(path), frames)
    column = pcapkit.decode_files([path]).packets["outer_udp_checksum_ok"]
    assert column.tolist() == [True, False, pd.NA, True]
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed (apt-get install tshark)")
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-d", "udp.port==8472,vxlan",
                          "-o", "udp.check_checksum:TRUE", "-T", "fields",
                          "-e", "udp.checksum.status"], capture_output=True, text=True,
                         check=True).stdout.split()
    outer = [line.split(",")[0] for line in out]  # the outer UDP header comes first
    assert outer == ["1", "0", "3", "1"]  # good, bad, not present, good


def test_geneve_overlays_of_antrea_and_ovn() -> None:
    """Crafted Geneve (this kernel has none): Antrea's VNI 0 losing every fourth data
    segment node1 -> node2, and OVN-Kubernetes' Geneve with its metadata option, healthy."""
    lossy = pairs("geneve-antrea-loss")
    forward, back = lossy.loc[("node1", "node2")], lossy.loc[("node2", "node1")]
    assert (forward["tunnel"], forward["tunnel_port"], forward["vni"]) == ("geneve", 6081, 0)
    # 6 connections x 8 segments, every fourth from the second lost: 12 of 72 packets sent
    assert forward["verdict"] == "lossy" and forward["lost"] == 12
    assert forward["lost"] + forward["delivered"] == forward["sent"]
    assert forward["sent"] > 70 and forward["lost_flows"] == 6   # the last few: capture end
    assert back["verdict"] == "healthy" and back["lost"] == 0
    healthy = pairs("geneve-ovn-healthy")
    assert set(healthy["verdict"]) == {"healthy"} and set(healthy["vni"]) == {5}
    assert (healthy["lost"] == 0).all()


def test_geneve_fixtures_are_what_their_generator_writes() -> None:
    check = subprocess.run(["python3", str(FIXTURES / "make_crafted_geneve.py"), "--check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
