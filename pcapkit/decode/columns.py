"""Column buffers the decoder fills, and their conversion to a pandas DataFrame.

While decoding, every column is a plain numpy array plus a validity mask, so
layers can write only the rows they understood. Addresses stay integers (two
uint64 halves, IPv4 stored IPv4-mapped) until the very end, where each distinct
value is rendered to text once and the column becomes a Categorical.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from pcapkit.schema import Column

IP_DTYPE = np.dtype([("hi", np.uint64), ("lo", np.uint64)])
V4_MAPPED = np.uint64(0xFFFF_0000_0000)

_NUMPY_DTYPES = {
    "u8": np.uint8, "u16": np.uint16, "u32": np.uint32, "u64": np.uint64, "i64": np.int64,
    "bool": np.bool_, "ip": IP_DTYPE, "mac": np.uint64, "category": np.int64, "ts": np.int64,
    "str": object,
}
_PANDAS_INT = {"u8": "UInt8", "u16": "UInt16", "u32": "UInt32", "u64": "UInt64", "i64": "Int64"}


class ColumnBuffers:
    """Preallocated per-packet arrays (values + valid mask) for one batch."""

    def __init__(self, n: int, columns: Sequence[Column]) -> None:
        self.n = n
        self.kinds = {c.name: c.kind for c in columns}
        self.values = {c.name: np.zeros(n, dtype=_NUMPY_DTYPES[c.kind]) for c in columns}
        self.valid = {c.name: np.zeros(n, dtype=bool) for c in columns}

    def put(self, name: str, rows: np.ndarray, values: np.ndarray,
            ok: np.ndarray | None = None) -> None:
        """Store ``values`` for ``rows``; where ``ok`` is False the cell becomes null."""
        if ok is not None and not ok.all():
            rows, values = rows[ok], values[ok] if np.ndim(values) else values
        self.values[name][rows] = values
        self.valid[name][rows] = True

    def put_ip(self, name: str, rows: np.ndarray, hi: np.ndarray, lo: np.ndarray,
               ok: np.ndarray) -> None:
        rows, hi, lo = rows[ok], hi[ok], lo[ok]
        column = self.values[name]
        column["hi"][rows] = hi
        column["lo"][rows] = lo
        self.valid[name][rows] = True

    def clear(self, names: Sequence[str], rows: np.ndarray) -> None:
        for name in names:
            self.valid[name][rows] = False

    def reserve(self, n: int) -> None:
        """Make room for at least ``n`` rows, growing geometrically (amortised copies)."""
        if n <= self.n:
            return
        size = max(n, int(self.n * 1.5) + 1024)
        for name in self.kinds:
            grown = np.zeros(size, dtype=self.values[name].dtype)
            grown[: self.n] = self.values[name]
            self.values[name] = grown
            valid = np.zeros(size, dtype=bool)
            valid[: self.n] = self.valid[name]
            self.valid[name] = valid
        self.n = size

    def window(self, start: int, n: int) -> ColumnBuffers:
        """Rows ``start:start+n`` as buffers that write through to these ones."""
        out = ColumnBuffers.__new__(ColumnBuffers)
        out.n = n
        out.kinds = self.kinds
        out.values = {k: v[start:start + n] for k, v in self.values.items()}
        out.valid = {k: v[start:start + n] for k, v in self.valid.items()}
        return out


def ip_text(hi: int, lo: int) -> str:
    """Render one address held as two 64-bit halves (IPv4 is IPv4-mapped)."""
    if hi == 0 and (lo >> 32) == 0xFFFF:
        return str(ipaddress.IPv4Address(lo & 0xFFFF_FFFF))
    return str(ipaddress.IPv6Address((hi << 64) | lo))


def mac_text(value: int) -> str:
    return ":".join(f"{(value >> s) & 0xFF:02x}" for s in range(40, -8, -8))


def _categorical_from_ints(keys: np.ndarray, valid: np.ndarray,
                           render: Callable[[np.ndarray], list[str]]) -> pd.Categorical:
    codes, uniques = pd.factorize(keys[valid], sort=True)
    full = np.full(len(keys), -1, dtype=np.int64)
    full[valid] = codes
    return pd.Categorical.from_codes(full, categories=pd.Index(render(uniques), dtype=object),
                                     validate=False)


def ip_categorical(values: np.ndarray, valid: np.ndarray) -> pd.Categorical:
    """Addresses to a Categorical of strings, rendering each distinct address once."""
    hi, lo = values["hi"], values["lo"]
    if not (hi[valid] != 0).any():  # IPv4 only: the low half alone identifies the address
        return _categorical_from_ints(lo, valid, lambda u: [ip_text(0, int(v)) for v in u])
    hi_codes, hi_uniques = pd.factorize(hi)
    lo_codes, lo_uniques = pd.factorize(lo)
    combined = hi_codes.astype(np.int64) * max(len(lo_uniques), 1) + lo_codes
    return _categorical_from_ints(
        combined, valid,
        lambda u: [ip_text(int(hi_uniques[c // max(len(lo_uniques), 1)]),
                           int(lo_uniques[c % max(len(lo_uniques), 1)])) for c in u])


def category_from_codes(codes: np.ndarray, valid: np.ndarray,
                        names: Callable[[int], str]) -> pd.Categorical:
    return _categorical_from_ints(codes, valid, lambda u: [names(int(v)) for v in u])


def to_series(kind: str, values: np.ndarray, valid: np.ndarray,
              names: Callable[[int], str] | None = None) -> pd.api.extensions.ExtensionArray:
    """Convert one buffer to the pandas array its schema kind asks for."""
    if kind in _PANDAS_INT:
        return pd.array(values, dtype=_PANDAS_INT[kind]) if valid.all() else \
            pd.arrays.IntegerArray(values.astype(_NUMPY_DTYPES[kind], copy=False), ~valid)
    if kind == "bool":
        return pd.arrays.BooleanArray(values, ~valid)
    if kind == "ip":
        return ip_categorical(values, valid)
    if kind == "mac":
        return _categorical_from_ints(values, valid, lambda u: [mac_text(int(v)) for v in u])
    if kind == "ts":
        return pd.array(values.view("datetime64[ns]"), dtype="datetime64[ns]").tz_localize("UTC")
    if kind == "category":
        assert names is not None, "a category column needs a code-to-name function"
        return category_from_codes(values, valid, names)
    raise ValueError(f"unknown column kind {kind!r}")
