"""Turn decoded batches into the user-facing pandas tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from pcapkit.decode.assemble import packet_columns
from pcapkit.decode.buffers import DICTIONARY_KINDS, NUMPY_DTYPES, ColumnBuffers, render_codes
from pcapkit.decode.dns.payloads import DnsParts
from pcapkit.decode.packets import DECODED_COLUMNS
from pcapkit.io.records import Interface
from pcapkit.schema.convert import build_frame, conform, empty_frame
from pcapkit.schema.decode import DNS_MESSAGES, INTERFACES

PANDAS_INT = {"u8": "UInt8", "u16": "UInt16", "u32": "UInt32", "u64": "UInt64", "i64": "Int64"}


def to_series(kind: str, values: np.ndarray, valid: np.ndarray,
              names: Callable[[int], str] | None = None) -> pd.api.extensions.ExtensionArray:
    """Convert one buffer to the pandas array its schema kind asks for."""
    if kind in PANDAS_INT:  # over the buffer itself, not a copy (each table's own)
        return pd.arrays.IntegerArray(values.astype(NUMPY_DTYPES[kind], copy=False),
                                      _nulls(valid))
    if kind == "bool":
        return pd.arrays.BooleanArray(values, _nulls(valid))
    if kind == "ts":
        return pd.array(values.view("datetime64[ns]"), dtype="datetime64[ns]").tz_localize("UTC")
    if kind in DICTIONARY_KINDS:
        codes, labels = render_codes(kind, values, valid, names)
        return pd.Categorical.from_codes(codes, categories=pd.Index(labels, dtype=object),
                                         validate=False)
    raise ValueError(f"unknown column kind {kind!r}")


def _nulls(valid: np.ndarray) -> np.ndarray:
    """The null mask pandas keeps: a fresh zeroed array when every value is valid (its
    pages are not touched until read), else ``~valid``."""
    return np.zeros(len(valid), dtype=bool) if valid.all() else ~valid


def empty_packets() -> pd.DataFrame:
    """A packet table with no rows but every column, with its dtype."""
    return packet_frame(ColumnBuffers(0, DECODED_COLUMNS), 0, "", [])


def packet_frame(cols: ColumnBuffers, n: int, file: str,
                 interfaces: Sequence[Interface]) -> pd.DataFrame:
    """Assemble the packet table of one file from the first ``n`` rows of its buffers."""
    data = {name: to_series(kind, values, valid, names)
            for name, kind, values, valid, names in packet_columns(cols, n, file, interfaces)}
    return pd.DataFrame(data, copy=False)


def files_frame(cols: ColumnBuffers, files: Sequence[tuple[str, int, Sequence[Interface]]]
                ) -> pd.DataFrame:
    """The packet table of several files decoded into one set of buffers, one file's
    rows after the other's (``files``: name, rows, interfaces, in that order): what
    ``concat_tables`` of each file's ``packet_frame`` gives, the columns that need no
    per-file labels taken whole instead of copied file by file."""
    if len(files) == 1:
        name, n, interfaces = files[0]
        return packet_frame(cols, n, name, interfaces)
    total, starts = 0, []
    for _, n, _ in files:
        starts.append(total)
        total += n
    per_file = [list(packet_columns(cols.window(start, n), n, name, interfaces))
                for (name, n, interfaces), start in zip(files, starts, strict=True)]
    data = {}
    for i, (name, kind, _, _, _) in enumerate(per_file[0]):
        if kind in DICTIONARY_KINDS:
            data[name] = union_categoricals(
                [_object_categories(pd.Series(to_series(*parts[i][1:]))) for parts in per_file],
                ignore_order=True)
        else:
            data[name] = to_series(kind, cols.values[name][:total], cols.valid[name][:total])
    return pd.DataFrame(data, copy=False)


def dns_frame(parts: DnsParts,
              packets: pd.DataFrame) -> pd.DataFrame:
    """The DNS table of ``packets``: parsed messages keyed by (file, frame), with the
    packet's time and innermost addressing attached. ``parts`` pairs each batch's
    DNS payloads with the table row its first packet landed on."""
    frames, rows = [], []
    for base, payloads in parts:
        if payloads is not None and len(payloads.rows):
            frames.append(payloads.parse())
            rows.append(payloads.rows + base)
    if not frames:
        return empty_frame(DNS_MESSAGES)
    body = pd.concat(frames, ignore_index=True)
    where = np.concatenate(rows)
    keys = pd.DataFrame({c: packets[c].take(where).reset_index(drop=True) for c in _DNS_KEYS})
    tcp = packets["proto"].take(where).to_numpy(dtype=np.int64, na_value=0) == 6
    keys["transport"] = pd.Categorical.from_codes(tcp.astype(np.int8), ["udp", "tcp"])
    return conform(pd.concat([keys, body], axis=1), DNS_MESSAGES)


_DNS_KEYS = ("file", "frame", "ts", "interface", "encap", "src", "dst", "sport", "dport")


def interface_frame(file: str, interfaces: Sequence[Interface]) -> pd.DataFrame:
    """The interface table of one file (pcapng IDBs; one pseudo-interface for pcap)."""
    def field(get: Callable[[Interface], object]) -> list:
        return [get(i) for i in interfaces]

    return build_frame(INTERFACES, {
        "file": [file] * len(interfaces), "interface_id": field(lambda i: i.index),
        "name": field(lambda i: i.name), "description": field(lambda i: i.description),
        "linktype": field(lambda i: i.linktype), "snaplen": field(lambda i: i.snaplen),
        "tsresol": field(lambda i: i.tsresol), "comment": field(lambda i: i.comment)})


def concat_tables(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate tables whose categorical columns have different categories."""
    frames = [f for f in frames if f is not None]
    if not frames:
        return pd.DataFrame()
    if len(frames) == 1:
        return frames[0]
    first = frames[0]
    out = {}
    for name in first.columns:
        series = [f[name] for f in frames]
        if isinstance(first[name].dtype, pd.CategoricalDtype):
            out[name] = union_categoricals([_object_categories(s) for s in series],
                                           ignore_order=True)
        else:
            out[name] = pd.concat(series, ignore_index=True)
    return pd.DataFrame(out, copy=False)  # the columns are new already: no second copy


def _object_categories(series: pd.Series) -> pd.Categorical:
    cat = series.astype("category").array
    return pd.Categorical.from_codes(cat.codes, categories=pd.Index(cat.categories, dtype=object),
                                     validate=False)
