"""Capture points from the snapshot: direction decides, and a tie is not guessed."""

from __future__ import annotations

import shutil
from pathlib import Path

from pcapkit.api import decode_files
from pcapkit.cluster import load_snapshot
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
