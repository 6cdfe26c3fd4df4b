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


def _fingerprint_quantile(path: Path, q: float) -> int:
    """The fingerprint below which a share ``q`` of the incident's IP rows fall."""
    from pcapkit.vantage.fingerprint import packet_fingerprints

    hashes, eligible = packet_fingerprints(pcapkit.open(path).decoded.packets)
    return int(np.quantile(hashes[eligible].astype(np.float64), q))


@pytest.mark.parametrize(("name", "quantile", "whole_pass"), [
    ("vantage/skew", 0.7, False),  # the rows below the threshold hold the first bursts
    ("demo", 0.7, False),
    ("vantage/skew", 0.0, True),   # too few below it: every row is searched
])
def test_the_clock_sample_gives_the_offsets_of_every_row(name, quantile, whole_pass,
                                                          monkeypatch):
    import pcapkit.partition.run as run_module

    path = FIXTURES / name
    assert path.is_dir(), f"missing committed fixture {path}"
    files = sorted(str(p) for p in path.rglob("*.pcap*"))
    limit = 3  # bursts kept: fewer than the fixture has, so which are first matters
    whole = run_module.run_partitioned(files, 3, clock_limit=limit, clock_sample=None)
    searched = []
    task = run_module.candidates_task

    def spy(plan, incident, below, share):
        searched.append(below)
        return task(plan, incident, below, share)

    monkeypatch.setattr(run_module, "candidates_task", spy)
    below = _fingerprint_quantile(path, quantile)
    sampled = run_module.run_partitioned(files, 3, clock_limit=limit, clock_sample=below)
    assert list(dict.fromkeys(searched)) == ([below, None] if whole_pass else [below])
    pd.testing.assert_frame_equal(whole.clock_offsets, sampled.clock_offsets)
    assert (whole.clock_offsets["samples"] > 0).any(), "the offsets must be measured"
    for name in ("packets", "sightings", "distinct"):
        pd.testing.assert_frame_equal(getattr(whole.vantage(), name),
                                      getattr(sampled.vantage(), name), obj=name)


def test_the_clock_sample_is_taken_only_from_a_large_incident():
    from pcapkit.partition.run import SAMPLE_MARGIN, clock_sample_below

    assert clock_sample_below(1_000_000) is None
    below = clock_sample_below(20_000_000)
    assert 0 < below / 2 ** 64 < 0.5
    assert below / 2 ** 64 * 20_000_000 == pytest.approx(SAMPLE_MARGIN * 200_000)


@pytest.mark.parametrize("window", [1, 7, 1 << 20])
def test_packets_are_numbered_a_window_at_a_time_as_in_one_sort(tmp_path, window):
    from pcapkit.partition.run import number_shares
    from pcapkit.partition.store import PartStore

    rng = np.random.default_rng(5)
    store = PartStore(tmp_path / "store")
    keys = []
    for share, n in enumerate([40, 0, 25, 60]):
        # first times with ties inside and across shares; rows unique incident-wide
        first_ns = np.sort(rng.integers(0, 30, n)) * 1_000
        first_row = np.zeros(n, np.int64)
        for t in np.unique(first_ns):  # a share's keys come sorted by (time, row)
            at = np.flatnonzero(first_ns == t)
            first_row[at] = np.sort(rng.choice(10_000, len(at), replace=False)) * 4 + share
        store.write_array("keys", share, "first_ns", first_ns)
        store.write_array("keys", share, "first_row", first_row)
        keys.append((first_ns, first_row))
    number_shares(store, len(keys), window=window)
    first_ns = np.concatenate([k[0] for k in keys])
    first_row = np.concatenate([k[1] for k in keys])
    expected = np.empty(len(first_ns), np.int64)
    expected[np.lexsort((first_row, first_ns))] = np.arange(len(first_ns))
    got = np.concatenate([store.read_array("ids", s, "ids") for s in range(len(keys))])
    assert got.tolist() == expected.tolist()


@pytest.mark.parametrize("group", [1, 3, 7])
def test_clock_candidates_folded_a_few_shares_at_a_time_are_the_first_bursts(group):
    # clock_offsets folds the shares' candidates a few at a time: whichever grouping,
    # the rows kept are those of the first bursts of all, in share order
    from pcapkit.partition.run import first_bursts

    rng = np.random.default_rng(7)
    frames = [pd.DataFrame({"burst_hash": rng.integers(0, 50, 40).astype(np.uint64),
                            "burst_ns": rng.integers(0, 5, 40), "node": s})
              for s in range(7)]
    limit = 30
    kept = None
    for start in range(0, len(frames), group):
        kept = first_bursts([kept, *frames[start:start + group]], limit)
    whole = first_bursts(frames, limit)
    pd.testing.assert_frame_equal(kept, whole)
    bursts = whole[["burst_hash", "burst_ns"]].drop_duplicates()
    assert len(bursts) == limit
    every = pd.concat(frames)[["burst_hash", "burst_ns"]].drop_duplicates()
    first = every.sort_values(["burst_hash", "burst_ns"]).head(limit)
    assert set(map(tuple, bursts.to_numpy())) == set(map(tuple, first.to_numpy()))
