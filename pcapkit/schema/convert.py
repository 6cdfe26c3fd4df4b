"""Kinds as pandas dtypes: the one converter from arrays to a declared table, and its check.

A stage computes its columns as numpy arrays (or pandas arrays) and hands them to
:func:`build_frame` with its table's declaration; the converter gives every column its
kind's dtype, so no stage sets dtypes by hand. Missing values arrive as:

* ``None``/``pd.NA``/``NaN`` in object or float arrays, for every kind;
* negative integers for the unsigned kinds (u8 ... u64), which cannot be negative
  (the stages' -1 "none" sentinel), and for ``ts`` given as int64 nanoseconds;
* ``NaT`` for datetimes.

:func:`mismatches` compares a real table with its declaration (names, order and dtypes); the
tests run it over every table pcapkit builds.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from pcapkit.schema import DTYPES, Column, Table

PANDAS_INT = {"u8": "UInt8", "u16": "UInt16", "u32": "UInt32", "u64": "UInt64", "i64": "Int64"}
STRING = pd.StringDtype(na_value=pd.NA)
TIMESTAMP = pd.DatetimeTZDtype("ns", "UTC")
_CATEGORICAL_KINDS = ("ip", "mac", "category")


def has_kind(series: pd.Series | pd.api.extensions.ExtensionArray | np.ndarray,
             kind: str) -> bool:
    """True when ``series`` already has the dtype of ``kind``."""
    dtype = series.dtype
    if kind in _CATEGORICAL_KINDS:
        return isinstance(dtype, pd.CategoricalDtype)
    if kind in PANDAS_INT:
        return dtype == PANDAS_INT[kind]
    if kind == "str":
        return dtype == STRING
    if kind == "ts":
        return dtype == TIMESTAMP
    if kind == "bool":
        return dtype == "boolean"
    if kind == "f64":
        return dtype == np.float64
    return dtype == np.dtype(object)  # list


def to_kind(values: Any, kind: str) -> Any:
    """``values`` (a numpy/pandas array, Series or list) as an array of ``kind``'s dtype."""
    if isinstance(values, pd.Series):
        values = values.array
    elif not hasattr(values, "dtype"):  # a list
        values = np.asarray(values, dtype=object) if kind == "list" or not len(values) else \
            np.asarray(values)
    if has_kind(values, kind):
        return values
    if kind in PANDAS_INT:
        return _integers(values, PANDAS_INT[kind], unsigned=kind != "i64")
    if kind in _CATEGORICAL_KINDS:
        return pd.Categorical(_objects(values))
    if kind == "str":
        return _strings(_objects(values))
    if kind == "bool":
        array = np.asarray(values)
        if array.dtype == bool:
            return pd.arrays.BooleanArray(array, np.zeros(len(array), dtype=bool))
        return pd.array(_objects(values), dtype="boolean")
    if kind == "ts":
        return _timestamps(values)
    if kind == "f64":
        array = np.asarray(values)
        if array.dtype == object:
            return pd.array(_objects(values), dtype="Float64").to_numpy(np.float64, np.nan)
        return array.astype(np.float64)
    return np.asarray(values, dtype=object)  # list


def _strings(objects: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """An object array of text and None as STRING: converted by pyarrow in one pass when
    every value is text (pandas' own conversion checks each value in Python first)."""
    if STRING.storage == "pyarrow":
        import pyarrow as pa

        try:
            return pd.arrays.ArrowStringArray(pa.array(objects, type=pa.large_string(),
                                                       from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # something other than text: pandas makes it text
    return pd.array(objects, dtype=STRING)


def _objects(values: Any) -> np.ndarray:
    """Object array with None for every missing value."""
    if isinstance(values, pd.api.extensions.ExtensionArray):
        return values.to_numpy(dtype=object, na_value=None)
    array = np.asarray(values)
    if array.dtype.kind == "f":
        out = array.astype(object)
        out[np.isnan(array)] = None
        return out
    if array.dtype == object:
        out = array.copy()
        out[pd.isna(array)] = None
        return out
    return array.astype(object)


def _integers(values: Any, dtype: str, *, unsigned: bool) -> pd.api.extensions.ExtensionArray:
    if isinstance(values, pd.api.extensions.ExtensionArray):
        return values.astype(dtype)
    array = np.asarray(values)
    if array.dtype.kind in "iub":
        missing = array < 0 if unsigned and array.dtype.kind == "i" else np.zeros(len(array), bool)
        data = np.where(missing, 0, array).astype(dtype.lower())
        return pd.arrays.IntegerArray(data, missing)
    if array.dtype.kind == "f":
        missing = np.isnan(array) | (array < 0 if unsigned else False)
        data = np.where(missing, 0, array).astype(dtype.lower())
        return pd.arrays.IntegerArray(data, missing)
    return pd.array(_objects(array), dtype=dtype)


def _timestamps(values: Any) -> pd.api.extensions.ExtensionArray:
    array = values if isinstance(values, pd.api.extensions.ExtensionArray) else np.asarray(values)
    if getattr(array, "dtype", None) is not None and np.asarray(array).dtype.kind in "iu":
        ns = np.asarray(array, dtype=np.int64)
        ns = np.where(ns < 0, np.iinfo(np.int64).min, ns)  # negative: missing
        return pd.array(ns.view("datetime64[ns]"), dtype="datetime64[ns]").tz_localize("UTC")
    return pd.array(pd.to_datetime(array, utc=True)).astype(TIMESTAMP)


def build_frame(table: Table, data: Mapping[str, Any], *, index: pd.Index | None = None
                ) -> pd.DataFrame:
    """The table's columns, in declared order, from ``data`` (name -> values).

    Every declared column must be in ``data``; extra entries are an error too, so a stage
    cannot produce a column the registry does not know.
    """
    missing = [name for name in table.names if name not in data]
    extra = [name for name in data if name not in table]
    if missing or extra:
        raise ValueError(f"table {table.name!r}: missing columns {missing}, "
                         f"undeclared columns {extra}")
    return columns_frame(table.columns, data, index=index)


def columns_frame(columns: Iterable[Column], data: Mapping[str, Any], *,
                  index: pd.Index | None = None) -> pd.DataFrame:
    """A frame of ``columns`` (a part of a table, e.g. what one parser contributes), each
    ``data[name]`` converted to its column's kind."""
    return pd.DataFrame({c.name: to_kind(data[c.name], c.kind) for c in columns}, index=index,
                        copy=False)


def conform(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """``frame`` (exactly the declared columns, in any order) in declared order and dtypes."""
    return build_frame(table, {name: frame[name] for name in frame.columns}, index=frame.index)


def empty_frame(table: Table) -> pd.DataFrame:
    """A table with no rows and every declared column, with its dtype (a copy of one built
    once per table: building one costs milliseconds, a copy a tenth of one)."""
    return _empty_frame(table).copy()


@functools.cache
def _empty_frame(table: Table) -> pd.DataFrame:
    return build_frame(table, {c.name: _empty(c) for c in table.columns})


def _empty(column: Column) -> Any:
    return to_kind(np.zeros(0, dtype=object if column.kind not in PANDAS_INT else np.int64),
                   column.kind)


def mismatches(frame: pd.DataFrame, table: Table) -> list[str]:
    """How ``frame`` differs from ``table``'s declaration, one line each (empty: it agrees)."""
    problems = []
    names = list(frame.columns)
    if names != table.names:
        missing = [n for n in table.names if n not in names]
        extra = [n for n in names if n not in table]
        if missing:
            problems.append(f"{table.name}: missing columns {missing}")
        if extra:
            problems.append(f"{table.name}: undeclared columns {extra}")
        if not missing and not extra:
            problems.append(f"{table.name}: columns out of declared order")
    for column in table.columns:
        if column.name in frame.columns and not has_kind(frame[column.name], column.kind):
            problems.append(f"{table.name}.{column.name}: dtype {frame[column.name].dtype} is "
                            f"not {DTYPES[column.kind]} ({column.kind})")
    return problems
