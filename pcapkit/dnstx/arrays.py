"""Column helpers shared by the DNS transaction stages.

Every stage works on int64 nanosecond times, address columns read as Python strings, integer
codes for multi-column keys, and result columns that start all-NA; these helpers keep one
definition of each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NS = 1_000_000_000
"""Nanoseconds per second: times are int64 ns since the epoch."""


def seconds_to_ns(seconds: float) -> int:
    """A duration in seconds as whole nanoseconds (rounded, so 0.1 s is exactly 10**8)."""
    return int(round(seconds * NS))


def times_ns(series: pd.Series) -> np.ndarray:
    """int64 nanoseconds since the epoch of a datetime column (NaT -> min int64)."""
    stamps = pd.to_datetime(series, utc=True)
    return stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").view(np.int64)


def packet_times_ns(packets: pd.DataFrame) -> np.ndarray:
    """Capture times of a packet table in ns: ``ts_corrected`` when present, else ``ts``."""
    column = "ts_corrected" if "ts_corrected" in packets.columns else "ts"
    return times_ns(packets[column])


def strings_at(series: pd.Series, rows: np.ndarray | None = None) -> np.ndarray:
    """Object array of the values at ``rows`` (all rows when None), None for missing.

    Categorical columns are read through their categories, so only the distinct values are
    turned into ``str``; other columns are returned as their object values.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        labels = np.array([str(c) for c in series.cat.categories] + [None], dtype=object)
        codes = series.cat.codes.to_numpy()
        return labels[codes if rows is None else codes[rows]]  # code -1 picks the None
    part = series if rows is None else series.iloc[rows]
    return part.to_numpy(dtype=object, na_value=None)


def group_codes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One int64 code per row for the combination of ``columns`` (nulls form groups too)."""
    return frame.groupby(columns, sort=False, dropna=False).ngroup().to_numpy(dtype=np.int64)


def joint_group_codes(first: pd.DataFrame, second: pd.DataFrame,
                      columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``columns`` for the rows of two tables in one code space, so a row of
    ``first`` and a row of ``second`` share a code exactly when their keys are equal."""
    codes = group_codes(pd.concat([first[columns], second[columns]], ignore_index=True),
                        columns)
    return codes[:len(first)], codes[len(first):]


def null_strings(n: int) -> pd.api.extensions.ExtensionArray:
    """A nullable string column of ``n`` NAs, to be filled where a stage finds something."""
    return pd.array([pd.NA] * n, dtype="string")


def null_ints(n: int) -> pd.api.extensions.ExtensionArray:
    """A nullable Int64 column of ``n`` NAs, to be filled where a stage finds something."""
    return pd.array(np.full(n, pd.NA), dtype="Int64")
