"""Rotated captures (tcpdump -C/-G, editcap -c) of one interface are one capture point:
a segment sent again across the cut stays a retransmission."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.utils import rdpcap, wrpcap

import pcapkit
from pcapkit.vantage.points import rotation_stem

SOURCE = Path(__file__).resolve().parents[2] / "fixtures" / "flows" / \
    "tcp-data-retransmission.pcap"


def _split(directory: Path, names: list[str], cut: int, *, overlap: int = 0) -> None:
    """The source capture cut after frame ``cut`` into two files (``overlap`` frames in
    both, for two captures running at once)."""
    assert SOURCE.exists(), f"missing committed fixture {SOURCE}"
    frames = rdpcap(str(SOURCE))
    directory.mkdir(parents=True)
    wrpcap(str(directory / names[0]), frames[:cut + overlap])
    wrpcap(str(directory / names[1]), frames[cut:])


def _flow(path: Path):
    capture = pcapkit.open(path)
    flows = capture.flows
    assert len(flows) == 1
    return capture, flows.iloc[0]


@pytest.mark.parametrize("names", [
    ["eth0.pcap", "eth0.pcap1"],                                               # tcpdump -C
    ["eth0_00000_20240501100000.pcap", "eth0_00001_20240501100000.pcap"],      # editcap -c
    ["eth0-2024-05-01T10:00:00.pcap", "eth0-2024-05-01T10:00:05.pcap"],        # tcpdump -G
])
def test_rotated_files_are_one_capture_point(tmp_path, names):
    whole = _flow(SOURCE)[1]
    assert whole["orig_retrans"] == 2
    # frame 6 (the first retransmission, of frame 4) lands in the second file
    _split(tmp_path / "node1", names, cut=5)
    capture, flow = _flow(tmp_path / "node1")
    points = capture.points
    assert points["node"].astype(str).tolist() == ["node1", "node1"]
    assert points["stream"].nunique() == 1
    assert points["stream"].iloc[0] == points["file"].iloc[0]
    assert (flow["orig_retrans"], flow["orig_pkts"], flow["history"]) == \
        (whole["orig_retrans"], whole["orig_pkts"], whole["history"])
    assert capture.distinct["n_sightings"].max() == 1


def test_captures_running_at_once_stay_apart(tmp_path):
    # the two files share frames 6-7: two captures of one interface, not a rotation
    _split(tmp_path / "node1", ["eth0.pcap", "eth0.pcap1"], cut=5, overlap=2)
    capture, _ = _flow(tmp_path / "node1")
    assert capture.points["stream"].nunique() == 2
    assert capture.distinct["n_sightings"].max() == 2   # the shared frames: seen twice


def test_files_of_other_stems_or_nodes_are_not_joined(tmp_path):
    _split(tmp_path / "node1", ["eth0.pcap", "cni0.pcap"], cut=5)
    assert pcapkit.open(tmp_path / "node1").points["stream"].nunique() == 2


@pytest.mark.parametrize(("name", "stem"), [
    ("n/eth0.pcap", "n/eth0"), ("n/eth0.pcap12", "n/eth0"),
    ("n/eth0_00003_20240501100000.pcapng", "n/eth0"),
    ("n/tcpdump-node1-eth0-20240501T1000.pcap.gz", "n/tcpdump-node1-eth0"),
    ("n/ip-10-0-1-23.pcap", "n/ip-10-0-1-23"),       # an AWS node name keeps its digits
])
def test_rotation_stem(name, stem):
    assert rotation_stem(name) == stem
