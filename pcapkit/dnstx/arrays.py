"""Helpers shared by the DNS transaction stages: durations in ns, integer codes for
multi-column keys, key lookups, frames and columns built without per-row work, and result
columns that start all-NA.

Times are int64 nanoseconds and text columns are read as ``str`` arrays
(``pcapkit.column_arrays``). Inside the stage text stays in object columns whose rows share
one Python string per distinct value (hashing them again is cheap); the public table's
categoricals are built from codes (``compact_categorical``), as pd.Categorical would make
them from the values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

NS = 1_000_000_000
"""Nanoseconds per second: times are int64 ns since the epoch."""


def seconds_to_ns(seconds: float) -> int:
    """A duration in seconds as whole nanoseconds (rounded, so 0.1 s is exactly 10**8)."""
    return int(round(seconds * NS))


def as_column(values: Any, index: pd.Index | None = None) -> Any:
    """``values`` ready to be a column as it is: an object array becomes an object Series
    (pandas would turn text into Arrow strings row by row, and the next stage reading it
    back to numpy would pay again); anything else is returned unchanged."""
    if isinstance(values, np.ndarray) and values.dtype == object:
        return pd.Series(values, index=index, dtype=object, copy=False)
    return values


def plain_frame(data: Mapping[str, Any], index: pd.Index | None = None) -> pd.DataFrame:
    """A DataFrame of ``data``'s arrays without conversions (object arrays stay object)."""
    index = pd.RangeIndex(len(next(iter(data.values())))) if index is None and data else index
    return pd.DataFrame({name: as_column(values, index) for name, values in data.items()},
                        index=index, copy=False)


def positions_of(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Position of each ``wanted`` int64 key among ``keys`` (unique), -1 where absent.

    Packet tables usually come ordered by their keys, and then a binary search per wanted
    key replaces hashing every key of the table."""
    keys = np.asarray(keys, dtype=np.int64)
    wanted = np.asarray(wanted, dtype=np.int64)
    if len(keys) and not (keys[1:] > keys[:-1]).all():
        return pd.Index(keys).get_indexer(wanted)
    at = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    found = keys[at] == wanted if len(keys) else np.zeros(len(wanted), dtype=bool)
    return np.where(found, at, -1)


def joined_labels(groups: np.ndarray, labels: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group 0..n_groups-1, its distinct ``labels`` (strings, one per row of ``groups``)
    sorted and comma-joined; None for a group without rows. The text is built once per
    distinct set of labels, not once per group."""
    out = np.full(n_groups, None, dtype=object)
    if not len(groups):
        return out
    codes, names = pd.factorize(np.asarray(labels, dtype=object))
    names = np.asarray(names, dtype=object)
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(names, kind="stable")] = np.arange(len(names))
    pairs = np.unique(np.asarray(groups, dtype=np.int64) * len(names) + rank[codes])
    group, member = pairs // len(names), pairs % len(names)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.r_[starts, len(group)])
    column = np.arange(len(group)) - np.repeat(starts, sizes)
    table = np.full((len(starts), int(sizes.max())), -1, dtype=np.int64)
    table[np.repeat(np.arange(len(starts)), sizes), column] = member
    sets, which = np.unique(table, axis=0, return_inverse=True)
    by_rank = names[np.argsort(names, kind="stable")]
    text = np.array([",".join(by_rank[row[row >= 0]]) for row in sets], dtype=object)
    out[group[starts]] = text[which.reshape(-1)]
    return out


def compact_categorical(codes: np.ndarray, labels: np.ndarray) -> pd.Categorical:
    """``pd.Categorical`` of ``labels[codes]`` (null where a code is -1) from the codes alone:
    its categories are the labels present, sorted, as pd.Categorical makes them from the
    values (which hashes every row's text)."""
    codes = np.asarray(codes, dtype=np.int64)
    labels = np.asarray(labels, dtype=object)
    used = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(labels)))
    try:
        order = used[np.argsort(labels[used], kind="stable")]
    except TypeError:  # labels that do not sort: pandas keeps them as they come
        return pd.Categorical(np.append(labels, None)[codes])
    if len(pd.unique(labels[order])) < len(order):  # equal labels: pandas merges them
        return pd.Categorical(np.append(labels, None)[codes])
    remap = np.full(len(labels) + 1, -1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    return pd.Categorical.from_codes(remap[codes], categories=pd.Index(labels[order].tolist()))


def categorical_of(values: np.ndarray) -> pd.Categorical:
    """``pd.Categorical(values)`` of an object array, factorizing it once."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    return compact_categorical(codes, np.asarray(uniques, dtype=object))


def group_codes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One int64 code per row for the combination of ``columns`` (nulls form groups too),
    numbered in order of first appearance (as ``groupby(sort=False).ngroup()``).

    Each column is factorized once and the codes are combined column by column into one
    integer (renumbered only when the product of the columns' sizes would overflow), so no
    tuple or string is built per row."""
    codes = np.zeros(len(frame), dtype=np.int64)
    size = 1
    for column in columns:
        values, uniques = pd.factorize(frame[column])  # nulls -1: their own group below
        values = values.astype(np.int64) + 1
        width = len(uniques) + 1
        if size * width >= 1 << 62:
            codes, distinct = pd.factorize(codes)
            size = max(len(distinct), 1)
        codes = codes * width + values
        size *= width
    codes, _ = pd.factorize(codes)
    return codes.astype(np.int64, copy=False)


def joint_group_codes(first: pd.DataFrame, second: pd.DataFrame,
                      columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``columns`` for the rows of two tables in one code space, so a row of
    ``first`` and a row of ``second`` share a code exactly when their keys are equal."""
    codes = group_codes(pd.concat([first[columns], second[columns]], ignore_index=True),
                        columns)
    return codes[:len(first)], codes[len(first):]


def null_strings(n: int) -> pd.api.extensions.ExtensionArray:
    """A nullable string column of ``n`` NAs, to be filled where a stage finds something."""
    return pd.array(pa.nulls(n, type=pa.large_string()), dtype="string")


def null_ints(n: int) -> pd.api.extensions.ExtensionArray:
    """A nullable Int64 column of ``n`` NAs, to be filled where a stage finds something."""
    return pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
