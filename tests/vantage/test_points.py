"""Capture points: which node each file was captured on, and which source decided."""

from __future__ import annotations

import pandas as pd
import pytest
from vantage_cases import KERNEL, VANTAGE, scenario, table

from pcapkit.decode import decode_files
from pcapkit.errors import PcapkitError
from pcapkit.vantage import capture_points, node_from_file_stem


def _by_file(points: pd.DataFrame) -> dict[str, tuple[str, str]]:
    return {f.split("/")[-1] if "/" in f else f: (n, s) for f, n, s in
            zip(points["file"], points["node"], points["node_source"], strict=True)}


def test_sibling_directories_name_the_nodes():
    points = capture_points(scenario("skew"))
    assert list(points["node"]) == ["node-a", "node-b"]
    assert set(points["node_source"]) == {"directory"}
    assert list(points.columns[:3]) == ["file", "node", "node_source"]


def test_file_names_name_the_nodes_when_the_directory_is_shared():
    decoded = decode_files([KERNEL / "node1-any.pcap", KERNEL / "node2-eth0.pcap"])
    assert _by_file(capture_points(decoded)) == {
        "node1-any.pcap": ("node1", "filename"), "node2-eth0.pcap": ("node2", "filename")}


def test_file_names_are_matched_against_snapshot_node_names(flannel_cluster):
    decoded = decode_files([KERNEL / "node1-multi.pcapng", KERNEL / "node2-eth0.pcap"])
    points = capture_points(decoded, flannel_cluster)
    assert _by_file(points) == {"node1-multi.pcapng": ("node1", "filename"),
                                "node2-eth0.pcap": ("node2", "filename")}


@pytest.mark.parametrize(("stem", "node"), [
    ("node1", "node1"),
    ("node1-eth0", "node1"),
    ("tcpdump-worker-3-any-20240501T101500Z", "worker-3"),
    ("ip-10-0-1-5.ec2.internal_ens5", "ip-10-0-1-5.ec2.internal"),
    ("kind-worker2-flannel.1", "kind-worker2"),
    ("gke-prod-pool-1-abc123-cni0-1714557600", "gke-prod-pool-1-abc123"),
    ("capture", None),
    ("tcpdump-any", None),
    ("eth0", None),
    ("trace-01", None),
    ("node1-any-snap96", "node1"),      # a snaplen variant of the same node's capture
    ("worker-3_part2", "worker-3"),     # a rotated part
])
def test_node_from_file_stem(stem, node):
    assert node_from_file_stem(stem) == node


def test_pcapng_interface_description_tag():
    points = capture_points(scenario("pcapng"))
    row = points.iloc[0]
    assert (row["node"], row["node_source"]) == ("worker-7", "pcapng")
    assert "node=worker-7" in row["node_evidence"]


def test_snapshot_address_decides_a_generically_named_file(flannel_cluster):
    decoded = scenario("snapshot")
    assert capture_points(decoded).iloc[0]["node_source"] == "unknown"
    row = capture_points(decoded, flannel_cluster).iloc[0]
    assert (row["node"], row["node_source"]) == ("node2", "snapshot")
    assert "192.168.100.12" in row["node_evidence"]


def test_snapshot_tie_is_broken_by_packet_direction(flannel_cluster):
    # Two nodes talking only to each other: both addresses are in every packet; the SLL
    # packet type says which one is local (outgoing packets come from it).
    rows = [dict(file="pcaps/x.pcap", frame=i + 1, ts=i, pkt_type=kind, src=s, dst=d)
            for i, (kind, s, d) in enumerate([
                ("outgoing", "192.168.100.11", "192.168.100.12"),
                ("host", "192.168.100.12", "192.168.100.11"),
                ("outgoing", "192.168.100.11", "192.168.100.12")])]
    row = capture_points(table(rows), flannel_cluster).iloc[0]
    assert (row["node"], row["node_source"]) == ("node1", "snapshot")
    without_direction = [dict(r, pkt_type=None) for r in rows[:2]]
    row = capture_points(table(without_direction), flannel_cluster).iloc[0]
    assert row["node_source"] == "unknown"


def test_user_mapping_wins_over_everything():
    decoded = scenario("skew")
    points = capture_points(decoded, nodes={"*/node-a/eth0.pcap": "sender",
                                            str(VANTAGE / "skew/node-b/eth0.pcap"): "receiver"})
    assert list(points["node"]) == ["sender", "receiver"]
    assert set(points["node_source"]) == {"user"}


def test_user_mapping_that_matches_no_file_is_a_clear_error():
    with pytest.raises(PcapkitError, match="nothere.pcap"):
        capture_points(scenario("skew"), nodes={"nothere.pcap": "x"})
    with pytest.raises(PcapkitError, match="non-empty"):
        capture_points(scenario("skew"), nodes={"eth0.pcap": ""})


def test_undecided_files_stay_separate_vantage_points():
    rows = [dict(file="captures/capture.pcap", frame=1, ts=0.0),
            dict(file="tmp/dump.pcap", frame=1, ts=0.0)]
    points = capture_points(table(rows))
    assert list(points["node_source"]) == ["unknown", "unknown"]
    assert list(points["node"]) == ["unknown:capture.pcap", "unknown:dump.pcap"]
    single = capture_points(table(rows[:1]))
    assert list(single["node"]) == ["unknown"]


def test_directory_must_name_a_snapshot_node_when_a_cluster_is_given(flannel_cluster):
    points = capture_points(scenario("skew"), flannel_cluster)
    # node-a / node-b are not nodes of the flannel snapshot, and the files say nothing else.
    assert set(points["node_source"]) == {"unknown"}


def test_directory_counts_for_files_named_after_an_interface():
    rows = [dict(file="incident/worker-1/any.pcap", frame=1, ts=0.0),
            dict(file="incident/worker-1/eth0.pcap", frame=1, ts=0.0),
            dict(file="downloads/trace-01.pcap", frame=1, ts=0.0)]
    points = capture_points(table(rows))
    assert list(points["node"])[:2] == ["worker-1", "worker-1"]
    # a rotated trace with no node in its name is not guessed from its number
    assert list(points["node_source"]) == ["directory", "directory", "unknown"]
