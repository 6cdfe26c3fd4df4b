"""Arrow tables read back as the pandas tables they were written from.

The partition store (``pcapkit.partition.store``) and the decode cache
(``pcapkit.decode.cache``) write pandas tables as Arrow, each column's pandas dtype noted
beside it (:func:`dtype_name`), and read them back with :func:`frame_of`.

``pyarrow.Table.to_pandas`` makes every cell of a list column its own Python objects: an
array, and a dict per struct, a string per text. A DNS answer set costs 0.5-1 KB that way,
so 250,000 DNS messages read back from the partition store held about 200 MiB, most of it
in ``answers`` and ``answer_addrs``. The decoder shares one cell between the rows of
identical messages (``pcapkit.decode.dns.table``); :func:`to_pandas` does the same for a
table read back: each distinct cell is built once, and its rows point to it. The values
and their types are those ``to_pandas`` gives; the shared cells are to be read, not
changed, as the decoder's are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def frame_of(table: pa.Table, dtypes: dict[str, str]) -> pd.DataFrame:
    """``table`` as pandas, each column with the dtype ``dtypes`` names (as
    :func:`dtype_name` wrote it); list columns and text kept as objects share the objects
    of equal cells."""
    objects = {name for name, dtype in dtypes.items() if dtype == "object"}
    return with_dtypes(to_pandas(table, objects), dtypes)


def to_pandas(table: pa.Table, objects: set[str] | frozenset[str] = frozenset()
              ) -> pd.DataFrame:
    """``table.to_pandas()``, except that each list column, and each column named in
    ``objects`` (made an object column), holds one shared object per distinct cell."""
    shared = [field.name for field in table.schema
              if _is_list(field.type) or field.name in objects]
    if not shared or not table.num_rows:
        return table.to_pandas()
    frame = table.drop_columns(shared).to_pandas()
    for name in shared:
        frame[name] = pd.Series(shared_cells(table.column(name)), index=frame.index,
                                dtype=object, copy=False)
    return frame[table.column_names]


def shared_cells(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """The cells of a list column as ``to_pandas`` gives them (an object array), each
    distinct cell converted once and shared by every row equal to it (nulls: None)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    _, first, rows = np.unique(value_codes(array), return_index=True, return_inverse=True)
    distinct = pa.table({"cell": array.take(pa.array(first))}).to_pandas()["cell"]
    return distinct.to_numpy(dtype=object)[rows.ravel()]


def with_dtypes(table: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    """The table with the dtypes it was written with, where Arrow could not say them
    (an all-null categorical comes back as object)."""
    for name, dtype in dtypes.items():
        if name not in table.columns or dtype_name(table[name]) == dtype:
            continue
        kind, _, labels = dtype.partition(":")
        column = table[name]
        if kind == "category" and not isinstance(column.dtype, pd.CategoricalDtype) \
                and not column.notna().any():  # all null: no category to find row by row
            table[name] = pd.Categorical.from_codes(np.full(len(column), -1, dtype=np.int8),
                                                    categories=pd.Index([], dtype=labels))
        elif kind == "category":
            column = column if isinstance(column.dtype, pd.CategoricalDtype) else \
                column.astype("category")
            table[name] = column.cat.rename_categories(
                pd.Index(column.cat.categories.astype(labels), dtype=labels))
        else:
            table[name] = column.astype(dtype)
    return table


def dtype_name(column: pd.Series) -> str:
    """The column's dtype as text; a categorical's names its categories' dtype too."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return f"category:{column.cat.categories.dtype}"
    return str(column.dtype)


def value_codes(array: pa.Array) -> np.ndarray:
    """A dense int64 code per value of ``array``, equal exactly when the values are equal
    (null is a value of its own): lists by their elements in order, structs by their
    fields, anything else by Arrow's dictionary encoding."""
    if _is_list(array.type):
        return _list_codes(array)
    if pa.types.is_struct(array.type):
        codes = np.asarray(array.is_valid(), dtype=np.int64)
        for field in array.flatten():   # each field with the struct's own nulls applied
            codes = _combined(codes, value_codes(field))
        return codes
    encoded = pc.dictionary_encode(array, null_encoding="encode")
    encoded = encoded.combine_chunks() if isinstance(encoded, pa.ChunkedArray) else encoded
    return np.asarray(encoded.indices, dtype=np.int64)


def _list_codes(array: pa.Array) -> np.ndarray:
    """Codes of list values: the codes of their elements, in order, as the bytes of one
    binary value per row (fixed width, so equal bytes are equal lists), encoded again."""
    lengths = pc.list_value_length(array).fill_null(0).to_numpy().astype(np.int64)
    elements = value_codes(array.flatten())
    offsets = np.zeros(len(array) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    keys = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(array),
        [None, pa.py_buffer(offsets * 8), pa.py_buffer(np.ascontiguousarray(elements))])
    codes = value_codes(keys)
    return _combined(np.asarray(array.is_valid(), dtype=np.int64), codes)


def _combined(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense codes (0, 1, ...) of the pairs (a, b) of non-negative codes."""
    if not len(a):
        return a
    pairs = a * (int(b.max()) + 1) + b
    return np.unique(pairs, return_inverse=True)[1].astype(np.int64, copy=False).ravel()


def _is_list(arrow_type: pa.DataType) -> bool:
    return pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)
