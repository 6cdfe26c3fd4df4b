"""Helpers for the vantage tests: decoded fixture scenarios and tiny crafted packet tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pcapkit.decode import Decoded, decode_files

ROOT = Path(__file__).resolve().parents[2]
VANTAGE = ROOT / "fixtures" / "vantage"
KERNEL = ROOT / "fixtures" / "kernel"
FLANNEL_SNAPSHOT = ROOT / "fixtures" / "cluster" / "flannel" / "snapshot-t1.json"


def scenario(name: str) -> Decoded:
    """Decode one fixtures/vantage/<name> directory (all its captures)."""
    return decode_files([VANTAGE / name])


def table(rows: list[dict]) -> Decoded:
    """A decoded packet table from dicts (missing columns null), for crafted unit cases."""
    from pcapkit.decode.table import empty_packets

    empty = empty_packets()
    frame = pd.DataFrame(rows)
    data = {}
    for name, dtype in empty.dtypes.items():
        if name not in frame:
            data[name] = pd.Series([None] * len(frame), dtype=dtype)
        elif name == "ts":
            data[name] = pd.to_datetime(frame[name], unit="s", utc=True).astype(dtype)
        elif isinstance(dtype, pd.CategoricalDtype):
            data[name] = frame[name].astype(object).astype("category")
        else:
            data[name] = frame[name].astype(dtype)
    packets = pd.DataFrame(data)
    interfaces = pd.DataFrame({"file": pd.Series(frame["file"].unique(), dtype="category")})
    return Decoded(packets=packets, dns=pd.DataFrame(), interfaces=interfaces)
