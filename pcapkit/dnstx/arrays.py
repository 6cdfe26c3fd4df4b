"""Helpers shared by the DNS transaction stages: durations in ns, integer codes for
multi-column keys, and result columns that start all-NA.

Times are int64 nanoseconds and text columns are read as ``str`` arrays
(``pcapkit.column_arrays``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NS = 1_000_000_000
"""Nanoseconds per second: times are int64 ns since the epoch."""


def seconds_to_ns(seconds: float) -> int:
    """A duration in seconds as whole nanoseconds (rounded, so 0.1 s is exactly 10**8)."""
    return int(round(seconds * NS))


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
