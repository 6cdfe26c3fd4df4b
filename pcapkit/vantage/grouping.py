"""Group sightings into packets: same fingerprint, close in time, one sighting per vantage.

Rows are sorted by (fingerprint, time). A run of equal fingerprints whose consecutive
sightings are at most ``window`` apart is a *burst*. A burst in which every vantage key
(file, interface, ifindex, direction) appears at most once is one packet. A burst in which a
key repeats holds several packets (a retransmission, or a duplicate on the wire): it is cut,
in time order, at every sighting whose key was already seen since the last cut, so a
retransmission starts a new packet and the sightings after it on other vantage points join
the retransmission rather than the original. That keeps a packet lost after the sender's
capture apart from its retransmission seen on both nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Bursts:
    """Sorted view of the eligible rows and their bursts."""

    order: np.ndarray        # row numbers of eligible rows, sorted by (fingerprint, time)
    burst: np.ndarray        # burst number per sorted position
    start: np.ndarray        # True where a burst starts
    previous: np.ndarray     # sorted position of the previous same-key sighting in the burst, -1
    repeated: np.ndarray     # True per sorted position when its burst has a repeated key


def fingerprint_order(hashes: np.ndarray, eligible: np.ndarray, ts_ns: np.ndarray) -> np.ndarray:
    """The eligible rows sorted by (fingerprint, time, row)."""
    rows = np.flatnonzero(eligible)
    return rows[np.lexsort((ts_ns[rows], hashes[rows]))]  # stable: ties keep row order


def resorted(order: np.ndarray, hashes: np.ndarray, ts_ns: np.ndarray) -> np.ndarray:
    """``order`` (rows sorted by fingerprint, e.g. by another clock's times) sorted by
    (fingerprint, ``ts_ns``, row): only the runs of one fingerprint that these times put
    out of order are sorted again, so the second grouping pass (corrected times) reuses
    the first pass's sort of a million fingerprints instead of repeating it."""
    h, t = hashes[order], ts_ns[order]
    same = h[1:] == h[:-1]
    wrong = same & ((t[1:] < t[:-1]) | ((t[1:] == t[:-1]) & (order[1:] < order[:-1])))
    if not wrong.any():
        return order
    run = np.cumsum(np.r_[True, ~same]) - 1
    redo = np.zeros(int(run[-1]) + 1, dtype=bool)
    redo[run[1:][wrong]] = True
    at = np.flatnonzero(redo[run])
    out = order.copy()
    out[at] = order[at[np.lexsort((order[at], t[at], run[at]))]]
    return out


def find_bursts(hashes: np.ndarray, eligible: np.ndarray, ts_ns: np.ndarray,
                keys: np.ndarray, window_ns: int,
                by_fingerprint: np.ndarray | None = None) -> Bursts:
    """Bursts of equal fingerprints no more than ``window_ns`` apart, and repeated keys.
    ``by_fingerprint``: the eligible rows already sorted by fingerprint (:func:`resorted`
    finishes the sort by time); None: sorted here."""
    order = fingerprint_order(hashes, eligible, ts_ns) if by_fingerprint is None \
        else resorted(by_fingerprint, hashes, ts_ns)
    h, t, k = hashes[order], ts_ns[order], keys[order]
    m = len(order)
    start = np.ones(m, dtype=bool)
    if m > 1:
        start[1:] = (h[1:] != h[:-1]) | ((t[1:] - t[:-1]) > window_ns)
    burst = np.cumsum(start) - 1
    previous = np.full(m, -1, dtype=np.int64)
    repeated = np.zeros(m, dtype=bool)
    if m > 1:
        span = np.int64(k.max()) + 1 if m else np.int64(1)
        pair = burst.astype(np.int64) * span + k
        by_pair = np.argsort(pair, kind="stable")
        paired = pair[by_pair]
        same = paired[1:] == paired[:-1]
        later = by_pair[1:][same]
        previous[later] = by_pair[:-1][same]
        if len(later):
            marked = np.zeros(int(burst[-1]) + 1, dtype=bool)
            marked[burst[later]] = True
            repeated = marked[burst]
    return Bursts(order=order, burst=burst, start=start, previous=previous, repeated=repeated)


def group_sightings(hashes: np.ndarray, eligible: np.ndarray, ts_ns: np.ndarray,
                    keys: np.ndarray, window_ns: int,
                    by_fingerprint: np.ndarray | None = None) -> np.ndarray:
    """A group number per row (int64): rows with the same number are one packet.

    Rows that are not ``eligible`` (no fingerprint) each get a group of their own.
    ``by_fingerprint`` as for :func:`find_bursts`.
    """
    n = len(hashes)
    b = find_bursts(hashes, eligible, ts_ns, keys, window_ns, by_fingerprint)
    start = b.start.copy()
    _cut_repeats(start, b, keys[b.order])
    groups = np.empty(n, dtype=np.int64)
    labels = np.cumsum(start) - 1
    groups[b.order] = labels
    others = np.flatnonzero(~eligible)
    groups[others] = (labels[-1] + 1 if len(labels) else 0) + np.arange(len(others))
    return groups


def _cut_repeats(start: np.ndarray, b: Bursts, sorted_keys: np.ndarray) -> None:
    """Mark a new packet at each sighting whose key the current packet already has."""
    positions = np.flatnonzero(b.repeated)
    if not len(positions):
        return
    burst = b.burst[positions]
    key = sorted_keys[positions]
    # Bursts seen by one vantage key only: every sighting is its own packet.
    first = np.r_[True, burst[1:] != burst[:-1]]
    burst_index = np.cumsum(first) - 1
    single = np.ones(int(burst_index[-1]) + 1, dtype=bool)
    differs = np.r_[False, (key[1:] != key[:-1]) & ~first[1:]]
    single[burst_index[differs]] = False
    one_key = single[burst_index]
    start[positions[one_key]] = True
    mixed = positions[~one_key]
    if not len(mixed):
        return
    previous = b.previous[mixed].tolist()
    new_burst = b.start[mixed].tolist()
    cut = start[mixed].tolist()
    current = -1
    for i, position in enumerate(mixed.tolist()):
        if new_burst[i]:
            current = position
        elif previous[i] >= current:
            cut[i] = True
            current = position
    start[mixed] = cut


def attach_truncated(groups: np.ndarray, ip_hashes: np.ndarray, usable: np.ndarray,
                     truncated: np.ndarray, completeness: np.ndarray, ts_ns: np.ndarray,
                     keys: np.ndarray, window_ns: int) -> np.ndarray:
    """Join packets seen only in snaplen-cut copies to the same packet seen more fully.

    A copy cut short (``tcpdump -s 96`` on the NIC, where the tunnel headers eat the
    snaplen) lacks transport fields, so its fingerprint differs from the copy on the pod's
    veth. A group made only of truncated copies is attached to a group with more
    fingerprint fields present (``completeness``: non-null fields per row) when they share
    the IP-level fingerprint (addresses, protocol, IP id, length, fragment fields; IP id
    required), are within ``window``, share no vantage key, and the match is unique both
    ways. Anything ambiguous stays apart.
    """
    if not len(groups) or not truncated.any():
        return groups
    size = np.bincount(groups)
    cut = np.bincount(groups, weights=truncated.astype(np.float64), minlength=len(size))
    all_cut = (size > 0) & (cut == size)
    frame = pd.DataFrame({"group": groups[usable], "ip": ip_hashes[usable],
                          "ts": ts_ns[usable], "full": completeness[usable]})
    spans = frame.groupby("group", sort=False).agg(
        ip=("ip", "first"), t0=("ts", "min"), t1=("ts", "max"), full=("full", "max"),
    ).reset_index()
    orphans = spans[all_cut[spans["group"].to_numpy()]]
    if not len(orphans):
        return groups
    pairs = orphans.merge(spans, on="ip", suffixes=("_o", "_w"))
    gap = np.maximum(pairs["t0_o"] - pairs["t1_w"], pairs["t0_w"] - pairs["t1_o"])
    pairs = pairs[(gap.to_numpy() <= window_ns)
                  & (pairs["full_w"].to_numpy() > pairs["full_o"].to_numpy())]
    if not len(pairs):
        return groups
    owners = pd.DataFrame({"group": groups[usable], "key": keys[usable]}).drop_duplicates()
    candidate_keys = pairs[["group_o", "group_w"]].merge(
        owners.rename(columns={"group": "group_o"}), on="group_o")
    conflicts = candidate_keys.merge(owners.rename(columns={"group": "group_w"}),
                                     on=["group_w", "key"])[["group_o", "group_w"]]
    pairs = pairs.merge(conflicts.drop_duplicates(), on=["group_o", "group_w"], how="left",
                        indicator=True)
    pairs = pairs[pairs["_merge"] == "left_only"]
    pairs = pairs[(pairs.groupby("group_o")["group_w"].transform("size") == 1)
                  & (pairs.groupby("group_w")["group_o"].transform("size") == 1)]
    if not len(pairs):
        return groups
    target = np.arange(len(size), dtype=np.int64)
    target[pairs["group_o"].to_numpy()] = pairs["group_w"].to_numpy()
    for _ in range(4):  # a cut copy attached to a less-cut one attached to a whole one
        target = target[target]
    return target[groups]
