"""Grouping sightings into packets: time proximity, one sighting per vantage key."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pcapkit.vantage.grouping import fingerprint_order, group_sightings, resorted

SECOND = 1_000_000_000


def _groups(hashes, ts_s, keys, window_s=1.0, eligible=None):
    hashes = np.asarray(hashes, dtype=np.uint64)
    eligible = np.ones(len(hashes), bool) if eligible is None else np.asarray(eligible)
    ts = (np.asarray(ts_s, dtype=float) * SECOND).astype(np.int64)
    out = group_sightings(hashes, eligible, ts, np.asarray(keys, dtype=np.int64),
                          int(window_s * SECOND))
    # canonical labels: first appearance order
    _, canonical = np.unique(out, return_inverse=True)
    first = {}
    return [first.setdefault(int(g), len(first)) for g in canonical]


def test_same_fingerprint_on_different_vantage_keys_within_window_is_one_packet():
    assert _groups([5, 5, 5, 5], [0, 1e-5, 2e-5, 3e-4], [0, 1, 2, 3]) == [0, 0, 0, 0]


def test_sightings_farther_apart_than_the_window_are_different_packets():
    assert _groups([5, 5], [0, 1.5], [0, 1]) == [0, 1]


def test_different_fingerprints_are_never_merged():
    assert _groups([5, 6], [0, 0], [0, 1]) == [0, 1]


def test_same_vantage_key_is_never_merged():
    # A real duplicate on the wire: identical packet twice on one interface, 20 us apart.
    assert _groups([5, 5], [0, 2e-5], [3, 3]) == [0, 1]


def test_retransmission_starts_a_new_packet_that_later_sightings_join():
    # Original seen on vantage 0 only (lost before vantage 1); the byte-identical
    # retransmission 200 ms later is seen on both: vantage 1's sighting belongs to it.
    assert _groups([9, 9, 9], [0.0, 0.2, 0.20012], [0, 0, 1]) == [0, 1, 1]


def test_retransmission_seen_everywhere_twice_gives_two_packets_of_four():
    ts = [0, 2e-6, 9e-6, 12e-6, 1.0, 1.000002, 1.000009, 1.000012]
    keys = [0, 1, 2, 3] * 2
    assert _groups([1] * 8, ts, keys) == [0, 0, 0, 0, 1, 1, 1, 1]


def test_rows_without_fingerprint_each_stand_alone():
    assert _groups([1, 1, 1], [0, 0, 0], [0, 1, 2], eligible=[False, False, True]) == [0, 1, 2]


def test_empty_input():
    assert _groups([], [], []) == []


def _attach(groups, ip, truncated, completeness, ts_s, keys, usable=None):
    from pcapkit.vantage.grouping import attach_truncated

    n = len(groups)
    return attach_truncated(
        np.asarray(groups, np.int64), np.asarray(ip, np.uint64),
        np.ones(n, bool) if usable is None else np.asarray(usable),
        np.asarray(truncated, bool), np.asarray(completeness, np.int64),
        (np.asarray(ts_s, float) * SECOND).astype(np.int64), np.asarray(keys, np.int64),
        SECOND).tolist()


def test_cut_copy_joins_the_unique_fuller_packet():
    # group 0: whole copies on keys 0, 1; group 1: a cut copy on key 2, same IP fields
    assert _attach([0, 0, 1], [7, 7, 7], [False, False, True], [12, 12, 7],
                   [0, 1e-5, 2e-5], [0, 1, 2]) == [0, 0, 0]


def test_cut_copy_stays_apart_when_ambiguous_or_conflicting():
    # two fuller candidates with the same IP-level fields: ambiguous
    assert _attach([0, 1, 2], [7, 7, 7], [False, False, True], [12, 12, 7],
                   [0, 1e-3, 2e-3], [0, 1, 2]) == [0, 1, 2]
    # the cut copy's vantage key is already in the candidate: a different packet
    assert _attach([0, 1], [7, 7], [False, True], [12, 7], [0, 1e-3], [0, 0]) == [0, 1]
    # without an IP id (usable False) nothing is attached
    assert _attach([0, 1], [7, 7], [False, True], [12, 7], [0, 1e-3], [0, 1],
                   usable=[False, False]) == [0, 1]
    # too far apart in time
    assert _attach([0, 1], [7, 7], [False, True], [12, 7], [0, 5.0], [0, 1]) == [0, 1]


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 6), st.integers(-3, 3),
                          st.booleans()), max_size=40))
def test_a_sort_by_other_times_resorted_is_the_sort_by_these_times(rows):
    # the grouping pass starts from the clock pass's order (raw times) and corrects it
    hashes = np.array([r[0] for r in rows], dtype=np.uint64)
    raw = np.array([r[1] for r in rows], dtype=np.int64)
    corrected = raw + np.array([r[2] for r in rows], dtype=np.int64)  # ties and swaps
    eligible = np.array([r[3] for r in rows], dtype=bool)
    reused = resorted(fingerprint_order(hashes, eligible, raw), hashes, corrected)
    assert reused.tolist() == fingerprint_order(hashes, eligible, corrected).tolist()
    keys = np.arange(len(rows), dtype=np.int64) % 2
    assert group_sightings(hashes, eligible, corrected, keys, 2,
                           fingerprint_order(hashes, eligible, raw)).tolist() == \
        group_sightings(hashes, eligible, corrected, keys, 2).tolist()
