"""A partitioned vantage run gives the same tables as one pass over the whole incident."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pcapkit
from pcapkit.partition import build_sightings_partitioned, partition_of
from pcapkit.vantage import build_sightings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
# several nodes, tunnels, snaplen-cut ICMP errors (kernel), clocks seconds apart (skew)
INCIDENTS = ["demo", "kernel", "overlay", "vantage/skew", "vantage/lost", "kernel-dnat"]


@pytest.fixture(scope="module", params=INCIDENTS)
def incident(request):
    path = FIXTURES / request.param
    assert path.is_dir(), f"missing committed fixture {path}"
    capture = pcapkit.open(path)
    return capture.decoded, capture.points


@pytest.mark.parametrize("shares", [1, 3, 8])
def test_same_tables_as_one_pass(incident, shares):
    decoded, points = incident
    one = build_sightings(decoded, points)
    merged, parts = build_sightings_partitioned(decoded, points, shares)
    assert len(parts) == shares
    for name in ("packets", "sightings", "distinct", "clock_offsets"):
        pd.testing.assert_frame_equal(getattr(one, name), getattr(merged, name), obj=name)


def test_shares_hold_whole_packets(incident):
    decoded, points = incident
    packets = build_sightings(decoded, points).packets
    share = partition_of(packets, 5)
    if packets["src"].nunique() > 3:
        assert len(np.unique(share)) > 1, "many addresses should spread over several shares"
    per_packet = pd.Series(share).groupby(packets["packet_id"].to_numpy()).nunique()
    assert per_packet.max() == 1


def test_both_directions_share_a_partition():
    frame = pd.DataFrame({"src": pd.Categorical(["10.0.0.1", "10.0.0.2", "10.0.0.1", None]),
                          "dst": pd.Categorical(["10.0.0.2", "10.0.0.1", "10.0.0.3", None]),
                          "proto": pd.array([6, 6, 6, pd.NA], dtype="UInt8")})
    share = partition_of(frame, 1024)
    assert share[0] == share[1]
    assert share[3] == 0                      # not IP
    assert partition_of(frame, 1).tolist() == [0, 0, 0, 0]
