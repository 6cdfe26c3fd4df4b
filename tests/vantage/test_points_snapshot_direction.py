"""Capture points from the snapshot: direction decides, and a tie is not guessed."""

from __future__ import annotations

import shutil
from pathlib import Path

from pcapkit.cluster import load_snapshot
from pcapkit.decode import decode_files
from pcapkit.vantage import capture_points

ROOT = Path(__file__).resolve().parents[2]
KERNEL = ROOT / "fixtures" / "kernel"
SNAPSHOT = ROOT / "fixtures" / "cluster" / "flannel" / "snapshot-t2.json"


def test_direction_names_the_local_node_and_a_two_node_tie_stays_unknown(tmp_path: Path) -> None:
    # Directory and file names that name no node of the cluster.
    any_capture = tmp_path / "worker-a" / "any.pcap"
    nic_capture = tmp_path / "worker-b" / "eth0.pcap"
    for source, target in ((KERNEL / "node1-any.pcap", any_capture),
                           (KERNEL / "node2-eth0.pcap", nic_capture)):
        target.parent.mkdir()
        shutil.copy(source, target)
    decoded = decode_files([any_capture, nic_capture])
    points = capture_points(decoded, load_snapshot(SNAPSHOT)).set_index("file")
    # node1's -i any capture also holds ICMP errors from node2's flannel.1 address:
    # only the addresses packets leave from and arrive at count, so it is node1.
    assert points.loc[str(any_capture), "node"] == "node1"
    assert points.loc[str(any_capture), "node_source"] == "snapshot"
    # node2's NIC capture only shows traffic between node1 and node2, with no
    # direction: both underlay addresses are in every packet, so no guess.
    assert points.loc[str(nic_capture), "node_source"] == "unknown"


def test_node_lists_for_more_nodes_than_a_bitmask_holds() -> None:
    import numpy as np

    from pcapkit.vantage.build import _node_lists

    names = [f"node-{i:03d}" for i in range(100)]
    rng = np.random.default_rng(1)
    packet_id = rng.integers(0, 500, size=3000)
    node_codes = rng.integers(-1, 100, size=3000)
    got = _node_lists(packet_id, node_codes, names, 500)
    for p in range(500):
        seen = sorted({names[c] for c in node_codes[packet_id == p] if c >= 0})
        assert got.iloc[p] == ",".join(seen)
    # a small case agrees with the bitmask path
    small = ["b", "a", "c"]
    ids, codes = np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 2, -1, 0, 2])
    from pcapkit.vantage.build import _node_lists_many

    many = _node_lists_many(ids, codes, small, 3, {n: i for i, n in enumerate(sorted(small))})
    assert many.tolist() == _node_lists(ids, codes, small, 3).tolist() == ["a,b", "c", "b,c"]


def test_an_incident_directory_with_every_fixture(tmp_path: Path) -> None:
    """Some 140 captures of all kinds at once (more capture points than fit a bitmask)."""
    import pcapkit

    incident = pcapkit.open([ROOT / "fixtures"], snapshot=SNAPSHOT)
    assert len(incident.points) > 100
    assert incident.distinct["packet_id"].is_unique
    assert len(incident.flows) > 100 and len(incident.dns) > 100
    assert {e.file for e in incident.errors} >= {str(ROOT / "fixtures" / "public" /
                                                     "suricata-verify-fuzz-huge-caplen.pcap")}


def test_a_run_in_shares_decides_the_same_nodes(tmp_path: Path) -> None:
    # the vote is gathered batch by batch (counted rows) in a run in shares
    import pandas as pd

    import pcapkit
    from pcapkit.vantage.points import snapshot_vote, vote_rows

    for source, target in ((KERNEL / "node1-any.pcap", tmp_path / "worker-a" / "any.pcap"),
                           (KERNEL / "node2-eth0.pcap", tmp_path / "worker-b" / "eth0.pcap")):
        target.parent.mkdir()
        shutil.copy(source, target)
    one = pcapkit.open(tmp_path, snapshot=SNAPSHOT)
    two = pcapkit.open(tmp_path, snapshot=SNAPSHOT, shares=2, workers=1)
    pd.testing.assert_frame_equal(one.points, two.points)
    assert "snapshot" in set(two.points["node_source"].astype(str))
    packets = one.decoded.packets
    halves = pd.concat([vote_rows(packets.iloc[:100]), vote_rows(packets.iloc[100:])])
    cluster = one.cluster
    for file in one.points["file"].astype(str):
        assert snapshot_vote(halves, file, cluster) == snapshot_vote(packets, file, cluster)
