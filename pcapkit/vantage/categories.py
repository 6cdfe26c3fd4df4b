"""Categorical columns as integer codes: the vantage stage's way to stay vectorised.

Packet tables hold their text columns (files, addresses, SLL packet types, nodes) as
categoricals; a per-row answer is computed once per category and spread to the rows through
the codes, null rows (code -1) getting a fixed value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def as_categorical(series: pd.Series) -> pd.Categorical:
    """The column as a Categorical (its own array when it already is one)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.array
    return series.astype("category").array


def per_row(codes: np.ndarray, per_category: np.ndarray, missing: Any) -> np.ndarray:
    """``per_category[code]`` for every row, ``missing`` where the code is -1 (null)."""
    return np.append(per_category, missing)[codes]
