"""Vectorised helpers for rows sorted by group: first/last match, group bounds, set labels.

Flow assembly keeps every packet array sorted so that each flow (or each flow direction) is
one contiguous run; these helpers answer per-run questions with a handful of numpy calls
instead of a Python loop per packet.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pcapkit.column_arrays import sorted_unique

NONE = -1


def run_starts(*keys: np.ndarray) -> np.ndarray:
    """True where any key differs from the previous row (row 0 always starts a run)."""
    n = len(keys[0]) if keys else 0
    change = np.zeros(n, dtype=bool)
    if n:
        change[0] = True
        for key in keys:
            change[1:] |= key[1:] != key[:-1]
    return change


def first_where(cond: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, the index of the first row where ``cond`` holds (-1 if none).

    ``group`` must be non-decreasing (rows sorted by group)."""
    return _edge_where(cond, group, n_groups, last=False)


def last_where(cond: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, the index of the last row where ``cond`` holds (-1 if none)."""
    return _edge_where(cond, group, n_groups, last=True)


def _edge_where(cond: np.ndarray, group: np.ndarray, n_groups: int, last: bool) -> np.ndarray:
    """The first (or last) matching row of each run of equal ``group`` values."""
    out = np.full(n_groups, NONE, dtype=np.int64)
    idx = np.flatnonzero(cond)
    if len(idx):
        g = group[idx]
        keep = np.ones(len(idx), dtype=bool)
        edge = g[1:] != g[:-1]
        if last:
            keep[:-1] = edge
        else:
            keep[1:] = edge
        out[g[keep]] = idx[keep]
    return out


def group_bounds(group: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) row of every group id 0..n_groups-1 in rows sorted by group."""
    counts = np.bincount(group, minlength=n_groups)
    ends = np.cumsum(counts)
    return ends - counts, ends


def occurrence(group: np.ndarray) -> np.ndarray:
    """1-based running count of rows within each run of equal ``group`` values."""
    n = len(group)
    if not n:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(run_starts(group))
    run_len = np.diff(np.append(starts, n))
    return np.arange(1, n + 1, dtype=np.int64) - np.repeat(starts, run_len)


def is_power_of_ten(count: np.ndarray) -> np.ndarray:
    """True for 1, 10, 100, ...: Zeek's logarithmic history-letter rule."""
    out = count == 1
    power = 10
    top = int(count.max()) if len(count) else 0
    while power <= top:
        out |= count == power
        power *= 10
    return out


def set_labels(group: np.ndarray, code: np.ndarray, labels: Sequence[str],
               n_groups: int, *, sep: str = ",") -> np.ndarray:
    """Per group, the sorted distinct labels of its rows joined by ``sep`` ("" if none).

    ``code`` indexes ``labels`` (-1 = no value). Groups with the same label set share one
    joined string: the set is identified by a sum of random 64-bit tags, so the Python
    work is one join per distinct set, not per group.
    """
    out = np.full(n_groups, "", dtype=object)
    labels = np.asarray(labels, dtype=object)
    valid = code >= 0
    if not valid.any() or not len(labels):
        return out
    rank = np.empty(len(labels), dtype=np.int64)
    rank[np.argsort(labels.astype(str), kind="stable")] = np.arange(len(labels))
    by_rank = labels[np.argsort(rank)]
    n_labels = np.int64(len(labels))
    pairs = sorted_unique(group[valid].astype(np.int64) * n_labels + rank[code[valid]],
                          int(n_groups) * int(n_labels))
    g, r = pairs // n_labels, pairs % n_labels
    tags = np.random.default_rng(20240501).integers(0, 2**63 - 1, size=len(labels),
                                                     dtype=np.int64).astype(np.uint64)
    signature = np.zeros(n_groups, dtype=np.uint64)
    np.add.at(signature, g, tags[r])
    present = np.zeros(n_groups, dtype=bool)
    present[g] = True
    groups = np.flatnonzero(present)
    _, representative, inverse = np.unique(signature[groups], return_index=True,
                                           return_inverse=True)
    starts = np.searchsorted(g, groups[representative], side="left")
    ends = np.searchsorted(g, groups[representative], side="right")
    joined = np.array([sep.join(by_rank[r[s:e]]) for s, e in zip(starts, ends, strict=True)],
                      dtype=object)
    out[groups] = joined[inverse.ravel()]
    return out

