"""Turn decoded batches into the user-facing pandas tables."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from pcapkit.decode.columns import ColumnBuffers, to_series
from pcapkit.decode.encap import path_name
from pcapkit.decode.link import PKT_TYPES
from pcapkit.decode.packets import DECODED_COLUMNS, ERROR_NAMES, BatchResult
from pcapkit.io.records import Interface
from pcapkit.schema import INTERFACE_COLUMNS, PACKET_COLUMNS

_CODE_NAMES = {
    "encap": path_name,
    "decode_error": lambda code: ERROR_NAMES.get(code, f"error {code}"),
    "pkt_type": lambda code: PKT_TYPES.get(code, f"type {code}"),
}


def interface_name(iface: Interface) -> str:
    return iface.name or str(iface.index)


def empty_packets() -> pd.DataFrame:
    """A packet table with no rows but every column, with its dtype."""
    return packet_frame([], "", [])


def packet_frame(parts: Sequence[BatchResult], file: str,
                 interfaces: Sequence[Interface]) -> pd.DataFrame:
    """Assemble the packet table of one file from its decoded batches."""
    if parts:
        cols = ColumnBuffers.concat([p.columns for p in parts])
        iface = np.concatenate([p.interface for p in parts])
    else:
        cols = ColumnBuffers(0, DECODED_COLUMNS)
        iface = np.zeros(0, np.int32)
    n = cols.n
    data: dict[str, object] = {}
    for column in PACKET_COLUMNS:
        if column.name == "file":
            data["file"] = pd.Categorical.from_codes(np.zeros(n, np.int8), categories=[file],
                                                     validate=False)
        elif column.name == "interface":
            names = {i.index: interface_name(i) for i in interfaces}
            data["interface"] = _interface_column(iface, names)
        else:
            data[column.name] = to_series(column.kind, cols.values[column.name],
                                          cols.valid[column.name], _CODE_NAMES.get(column.name))
    return pd.DataFrame(data, copy=False)


def _interface_column(iface: np.ndarray, names: dict[int, str]) -> pd.Categorical:
    """Interface index per packet to its name (two indexes may share a name)."""
    codes, uniques = pd.factorize(iface, sort=True)
    labels = pd.Categorical([names.get(int(u), str(int(u))) for u in uniques])
    return labels.take(codes)


def dns_frame(parts: Sequence[BatchResult], packets: pd.DataFrame) -> pd.DataFrame:
    """The DNS table of one file: parsed messages keyed by (file, frame), with the
    packet's time and innermost addressing attached."""
    frames, rows, base = [], [], 0
    for part in parts:
        if part.dns is not None and len(part.dns_rows):
            frames.append(part.dns)
            rows.append(part.dns_rows + base)
        base += part.columns.n
    if not frames:
        return pd.DataFrame({c: packets[c].iloc[:0] for c in _DNS_KEYS})
    body = pd.concat(frames, ignore_index=True)
    where = np.concatenate(rows)
    keys = pd.DataFrame({c: packets[c].take(where).reset_index(drop=True) for c in _DNS_KEYS})
    keys["transport"] = np.where(packets["proto"].take(where).to_numpy(dtype=np.int64, na_value=0) == 6,
                                 "tcp", "udp")
    return pd.concat([keys, body], axis=1)


_DNS_KEYS = ("file", "frame", "ts", "interface", "encap", "src", "dst", "sport", "dport")


def interface_frame(file: str, interfaces: Sequence[Interface]) -> pd.DataFrame:
    rows = [{"file": file, "interface_id": i.index, "name": i.name,
             "description": i.description, "linktype": i.linktype, "snaplen": i.snaplen,
             "tsresol": i.tsresol, "comment": i.comment} for i in interfaces]
    frame = pd.DataFrame(rows, columns=[c.name for c in INTERFACE_COLUMNS])
    return frame.astype({"file": "category", "interface_id": "Int64", "linktype": "UInt16",
                         "snaplen": "UInt32"})


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
            out[name] = union_categoricals([s.astype("category") for s in series], ignore_order=True)
        else:
            out[name] = pd.concat(series, ignore_index=True)
    return pd.DataFrame(out)
