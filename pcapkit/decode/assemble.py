"""The packet table's columns in schema order, and their Arrow form.

Pandas-free on purpose: streaming a capture to Parquet (``pcapkit.decode.parquet``)
goes from column buffers to Arrow directly, and does not pay for importing
pandas. The pandas form of the same table is built in ``table.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pyarrow as pa

from pcapkit.decode.buffers import ARROW_DICTIONARY, ColumnBuffers, to_arrow
from pcapkit.decode.encap import path_name
from pcapkit.decode.errors import error_name
from pcapkit.decode.link import PKT_TYPES
from pcapkit.io.records import Interface
from pcapkit.schema.decode import DECODED_PACKET_COLUMNS

#: how the integer codes of each category column read
CODE_NAMES: dict[str, Callable[[int], str]] = {
    "encap": path_name,
    "decode_error": error_name,
    "pkt_type": lambda code: PKT_TYPES.get(code, f"type {code}"),
}

ColumnParts = tuple[str, str, np.ndarray, np.ndarray, Callable[[int], str] | None]


def interface_name(iface: Interface) -> str:
    return iface.name or str(iface.index)


def packet_columns(cols: ColumnBuffers, n: int, file: str,
                   interfaces: Sequence[Interface]) -> Iterator[ColumnParts]:
    """(name, kind, values, valid, code names) of every packet column, in schema order."""
    names = {i.index: interface_name(i) for i in interfaces}
    for column in DECODED_PACKET_COLUMNS:
        if column.name == "file":
            yield "file", "category", np.zeros(n, np.int64), np.ones(n, bool), lambda _: file
        elif column.name == "interface":
            yield ("interface", "category", cols.values["interface"][:n],
                   cols.valid["interface"][:n], lambda i: names.get(i, str(i)))
        else:
            yield (column.name, column.kind, cols.values[column.name][:n],
                   cols.valid[column.name][:n], CODE_NAMES.get(column.name))


def packet_arrow(cols: ColumnBuffers, n: int, file: str, interfaces: Sequence[Interface],
                 schema: pa.Schema) -> pa.Table:
    """The packet table of the first ``n`` rows of ``cols`` as Arrow."""
    arrays = [to_arrow(kind, values, valid, names)
              for _, kind, values, valid, names in packet_columns(cols, n, file, interfaces)]
    return pa.Table.from_arrays(arrays, schema=schema)


_ARROW_TYPES = {"u8": pa.uint8(), "u16": pa.uint16(), "u32": pa.uint32(), "u64": pa.uint64(),
                "i64": pa.int64(), "bool": pa.bool_(), "ts": pa.timestamp("ns", tz="UTC")}
_PANDAS_TYPES = {"u8": ("uint8", "UInt8"), "u16": ("uint16", "UInt16"),
                 "u32": ("uint32", "UInt32"), "u64": ("uint64", "UInt64"),
                 "i64": ("int64", "Int64"), "bool": ("bool", "boolean")}


def packet_schema() -> pa.Schema:
    """The Arrow schema of the packet table, carrying the metadata pandas writes
    itself, so that ``pandas.read_parquet`` gives back nullable integers,
    booleans, UTC timestamps and categoricals exactly as :func:`decode_files` does."""
    fields, described = [], []
    for column in DECODED_PACKET_COLUMNS:
        kind = column.kind
        if kind in _ARROW_TYPES:
            fields.append(pa.field(column.name, _ARROW_TYPES[kind]))
        else:
            fields.append(pa.field(column.name, ARROW_DICTIONARY))
        if kind == "ts":
            pandas_type, numpy_type, meta = "datetimetz", "datetime64[ns]", {"timezone": "UTC"}
        elif kind in _PANDAS_TYPES:
            (pandas_type, numpy_type), meta = _PANDAS_TYPES[kind], None
        else:
            pandas_type, numpy_type = "categorical", "int32"
            meta = {"num_categories": 0, "ordered": False}
        described.append({"name": column.name, "field_name": column.name,
                          "pandas_type": pandas_type, "numpy_type": numpy_type,
                          "metadata": meta})
    pandas = {"index_columns": [], "column_indexes": [], "columns": described,
              "attributes": {}, "creator": {"library": "pcapkit", "version": "1"},
              "pandas_version": "2.2.0"}
    return pa.schema(fields, metadata={b"pandas": json.dumps(pandas).encode()})
