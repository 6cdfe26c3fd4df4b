"""Table columns as numpy arrays and back: integer codes with their labels, packet times in
ns, nullable integer columns from arrays that mark "none" with a negative value.

Every stage after decoding works on integer arrays. Text columns (files, addresses, nodes,
SLL packet types) are mostly categoricals, so a question is answered once per distinct value
(label) and spread to the rows through the codes. Nulls: code -1, label None, time
``NAT_NS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pcapkit.errors import PcapkitError

NAT_NS = np.iinfo(np.int64).min
"""A null time as int64 nanoseconds (NaT's own value)."""


def codes_of(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(int64 code per row, -1 for null; the label of each code as ``str``) of any column.

    A categorical column keeps its own codes (unused categories keep their labels);
    any other column is factorized in order of first appearance."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return (series.cat.codes.to_numpy(dtype=np.int64), text_labels(series.cat.categories))
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes.astype(np.int64, copy=False), text_labels(pd.Index(uniques))


def text_labels(labels: pd.Index) -> np.ndarray:
    """``labels`` as an object array of ``str``: as they are when they are text already
    (no round trip through an Arrow string array, which costs a few ms per 10,000)."""
    if labels.dtype == object and pd.api.types.infer_dtype(labels, skipna=False) == "string":
        return np.asarray(labels, dtype=object)
    if labels.dtype == "str":
        return labels.to_numpy(dtype=object)
    return np.asarray(labels.astype(str), dtype=object)


def object_frame(columns: dict[str, Any]) -> pd.DataFrame:
    """A frame of these arrays as they are, for tables inside a stage (an analysis's
    facts): object arrays (text, None) stay object columns. pandas would turn each into an
    Arrow string array row by row, and reading it back as objects costs as much again."""
    return pd.DataFrame({name: pd.Series(values, dtype=object, copy=False)
                         if isinstance(values, np.ndarray) and values.dtype == object
                         else values for name, values in columns.items()}, copy=False)


def dense_factorize(values: np.ndarray, size: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values)`` (codes in order of first appearance, the uniques) of
    non-negative integers below ``size`` (default: their maximum + 1), by one array of
    ``size`` slots instead of a hash table: several times faster when most values are
    distinct (a packet or flow number per row). Falls back to pd.factorize when ``size``
    is much larger than the row count."""
    values = np.asarray(values)
    n = len(values)
    size = (int(values.max()) + 1 if n else 0) if size is None else int(size)
    if size > 4 * n + 1024:
        codes, uniques = pd.factorize(values)
        return codes.astype(np.int64, copy=False), uniques
    first = np.full(size, n, dtype=np.int64)
    np.minimum.at(first, values, np.arange(n, dtype=np.int64))
    is_first = np.zeros(n, dtype=bool)
    is_first[first[first < n]] = True
    uniques = values[is_first]
    code_of = np.empty(size, dtype=np.int64)
    code_of[uniques] = np.arange(len(uniques), dtype=np.int64)
    return code_of[values], uniques


def unique_inverse(values: np.ndarray, size: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of a 1-D integer array (the sorted
    distinct values, each row's index into them) by hashing the rows and sorting only the
    distinct values: much cheaper than np.unique's sort of every row when few values repeat
    a lot (flow keys over a million packets). Non-negative values below ``size`` use a
    presence table of ``size`` slots instead when that is not much larger than the row
    count (no hashing at all)."""
    values = np.asarray(values)
    if size is not None and size <= 4 * len(values) + 1024:
        present = np.zeros(size, dtype=bool)
        present[values] = True
        rank = np.cumsum(present, dtype=np.int64) - 1
        return np.flatnonzero(present).astype(values.dtype, copy=False), rank[values]
    codes, uniques = pd.factorize(values)
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[order] = np.arange(len(uniques), dtype=np.int64)
    return np.asarray(uniques)[order], rank[codes]


def sorted_unique(values: np.ndarray, size: int) -> np.ndarray:
    """``np.unique(values)`` of non-negative integers below ``size``: a presence table of
    ``size`` slots when that is not much larger than the row count (no sort, no hashing),
    else the distinct values hashed out and only they sorted."""
    values = np.asarray(values)
    if size <= 4 * len(values) + 1024:
        present = np.zeros(size, dtype=bool)
        present[values] = True
        return np.flatnonzero(present).astype(values.dtype, copy=False)
    distinct = pd.unique(values)
    distinct.sort()
    return distinct


def per_row(codes: np.ndarray, per_label: np.ndarray, missing: Any) -> np.ndarray:
    """``per_label[code]`` for every row, ``missing`` where the code is -1 (null)."""
    return np.append(per_label, missing)[codes]


def shared_codes(columns: Sequence[pd.Series]) -> tuple[list[np.ndarray], np.ndarray]:
    """Codes of several columns in one label space, so equal values get equal codes across
    columns (an address as source and as destination), and the labels of that space."""
    coded = [codes_of(series) for series in columns]
    space = pd.Index(np.concatenate([labels for _, labels in coded] or [np.zeros(0, object)]),
                     dtype=object).unique()
    codes = []
    for c, labels in coded:
        at = space.get_indexer(pd.Index(labels, dtype=object)).astype(np.int64)
        # the first column's codes are the space's already (no gather of a million rows)
        same = len(at) == 0 or bool(np.array_equal(at, np.arange(len(at))))
        codes.append(c if same else per_row(c, at, -1))
    return codes, np.asarray(space, dtype=object)


def nullable(values: np.ndarray, dtype: str) -> pd.api.extensions.ExtensionArray:
    """A nullable integer array (``dtype`` such as "Int64", "UInt16") of ``values``;
    negative values (the arrays' "none") become <NA>."""
    out = pd.array(np.maximum(values, 0), dtype=dtype)
    out[values < 0] = pd.NA
    return out


def labels_at(series: pd.Series, rows: np.ndarray | None = None) -> np.ndarray:
    """Object array of the column's values as ``str`` at ``rows`` (all rows when None),
    None for nulls; each distinct value is turned into text once."""
    codes, labels = codes_of(series)
    return per_row(codes if rows is None else codes[rows], labels, None)


#: the largest value range ``int_isin`` answers with a lookup table (bytes of memory)
LOOKUP_LIMIT = 1 << 28
#: ... and only when that range is at most this many bytes per value and member: a share
#: of a large incident holds incident-wide ids, a few hundred thousand spread over tens of
#: millions, where zeroing and faulting in the table costs more than hashing
LOOKUP_PER_ROW = 8


def int_isin(values: np.ndarray, members: np.ndarray) -> np.ndarray:
    """``np.isin(values, members)`` for integer arrays: a boolean lookup table over the
    members' range when that is small next to the arrays (one pass, no hashing or sorting
    of a million rows), else pandas' hash table of the members (``np.isin`` sorts both
    arrays: ten times slower on half a million ids spread over 400 million)."""
    values = np.asarray(values).astype(np.int64, copy=False)
    members = np.asarray(members).astype(np.int64, copy=False)
    if not len(values) or not len(members):
        return np.zeros(len(values), dtype=bool)
    lo, hi = int(members.min()), int(members.max())
    span = hi - lo + 1
    limits = np.iinfo(np.int64)
    if span <= min(LOOKUP_LIMIT, LOOKUP_PER_ROW * (len(values) + len(members)) + 65536) \
            and limits.min < lo and hi < limits.max:
        # slots 0 and span + 1 stand for every value below and above the members' range
        table = np.zeros(span + 2, dtype=bool)
        table[members - (lo - 1)] = True
        return table[np.clip(values, lo - 1, hi + 1) - (lo - 1)]
    return pd.Series(values, copy=False).isin(members).to_numpy(dtype=bool)


def categorical_at(series: pd.Series, rows: np.ndarray | None = None) -> pd.Categorical:
    """The column's values at ``rows`` (all rows when None) as a Categorical of its labels:
    what ``labels_at`` gives, without building a string per row when it becomes a column
    of a new frame (pandas turns object arrays of text into Arrow strings row by row)."""
    codes, labels = codes_of(series)
    return pd.Categorical.from_codes(codes if rows is None else codes[rows],
                                     categories=pd.Index(labels, dtype=object))


def times_ns(series: pd.Series) -> np.ndarray:
    """int64 nanoseconds since the epoch of a datetime column (NaT -> ``NAT_NS``)."""
    stamps = pd.DatetimeIndex(pd.to_datetime(series, utc=True)).as_unit("ns")
    return stamps.asi8.copy()


def packet_times_ns(packets: pd.DataFrame) -> np.ndarray:
    """Capture time of every row of a packet table in ns: ``ts_corrected`` (the vantage
    stage's clock-corrected time), else ``ts`` (the node's own clock) where that is null or
    the column is absent; ``NAT_NS`` where neither is known."""
    if "ts_corrected" not in packets.columns and "ts" not in packets.columns:
        raise PcapkitError("the packet table has no 'ts' or 'ts_corrected' column")
    if "ts_corrected" not in packets.columns:
        return times_ns(packets["ts"])
    times = times_ns(packets["ts_corrected"])
    unknown = times == NAT_NS
    if unknown.any() and "ts" in packets.columns:
        times[unknown] = times_ns(packets["ts"])[unknown]
    return times
