"""Column buffers the decoder fills, and their conversion to a pandas DataFrame.

While decoding, every column is a plain numpy array plus a validity mask, so
layers can write only the rows they understood. Addresses stay integers (two
uint64 halves, IPv4 stored IPv4-mapped) until the very end, where each distinct
value is rendered to text once and the column becomes a Categorical.
"""

from __future__ import annotations

import functools
import ipaddress
import mmap
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa

try:  # the compute kernels without pyarrow.compute's 25 ms of generated wrappers
    from pyarrow._compute import call_function as _call_function
except ImportError:  # pragma: no cover - a pyarrow that moved its internals
    from pyarrow.compute import call_function as _call_function

from pcapkit.schema import Column

IP_DTYPE = np.dtype([("hi", np.uint64), ("lo", np.uint64)])
V4_MAPPED = np.uint64(0xFFFF_0000_0000)

NUMPY_DTYPES = {
    "u8": np.uint8, "u16": np.uint16, "u32": np.uint32, "u64": np.uint64, "i64": np.int64,
    "bool": np.bool_, "ip": IP_DTYPE, "mac": np.uint64, "category": np.int64, "ts": np.int64,
    "str": object,
}


_HUGE = 4 << 20  # arrays at least this large get transparent huge pages


def zeros(n: int, dtype: np.dtype | type) -> np.ndarray:
    """A zero-filled array; large ones are backed by memory advised for huge pages.

    First-touch page faults dominate writing a fresh million-row table (measured
    here: 250 MB of 4 KiB pages take ~0.5 s to fault in, 2 MiB pages a third of
    that), and the kernel only uses huge pages for memory that asks for them.
    """
    dtype = np.dtype(dtype)
    size = n * dtype.itemsize
    if size < _HUGE or dtype.hasobject or not hasattr(mmap, "MADV_HUGEPAGE"):
        return np.zeros(n, dtype=dtype)
    region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    region.madvise(mmap.MADV_HUGEPAGE)
    return np.frombuffer(region, dtype=dtype, count=n)


class ColumnBuffers:
    """Preallocated per-packet arrays (values + valid mask) for one batch."""

    def __init__(self, n: int, columns: Sequence[Column],
                 allocate: Callable[[int, np.dtype | type], np.ndarray] = zeros) -> None:
        """``allocate(n, dtype)`` makes each zero-filled array (shared memory, say)."""
        self.n = n
        self.kinds = {c.name: c.kind for c in columns}
        self.values = {c.name: allocate(n, NUMPY_DTYPES[c.kind]) for c in columns}
        self.valid = {c.name: allocate(n, bool) for c in columns}

    def put(self, name: str, rows: np.ndarray | slice, values: np.ndarray | int,
            ok: np.ndarray | bool = True) -> None:
        """Store ``values`` for ``rows``; where ``ok`` is False the cell becomes null.

        ``rows`` may be a slice: assigning a run of rows costs a tenth of a scatter.
        Values are cast to the column's type as numpy assignment casts."""
        self.values[name][rows] = values
        self.valid[name][rows] = ok

    def put_ip(self, name: str, rows: np.ndarray | slice, hi: np.ndarray, lo: np.ndarray,
               ok: np.ndarray) -> None:
        column = self.values[name]
        column["hi"][rows] = hi
        column["lo"][rows] = lo
        self.valid[name][rows] = ok

    def clear(self, names: Sequence[str], rows: np.ndarray) -> None:
        """Make ``rows`` null in every column of ``names``."""
        if len(rows) * 8 < self.n:
            for name in names:
                self.valid[name][rows] = False
            return
        # Many rows: scatter once into a mask, then one cheap pass per column.
        keep = np.ones(self.n, bool)
        keep[rows] = False
        for name in names:
            valid = self.valid[name]
            np.logical_and(valid, keep, out=valid)

    def copy_from(self, other: ColumnBuffers) -> None:
        """Copy every value and mask of ``other`` (as many rows as these buffers have) into
        these zero-filled buffers, skipping the columns all zeros in ``other`` (unused)."""
        for name in self.kinds:
            values, valid = other.values[name][:self.n], other.valid[name][:self.n]
            if not values.dtype.hasobject and not valid.any() and not values.view(np.uint8).any():
                continue
            self.values[name][:] = values
            self.valid[name][:] = valid

    def reserve(self, n: int) -> None:
        """Make room for at least ``n`` rows, growing geometrically (amortised copies)."""
        if n <= self.n:
            return
        size = max(n, int(self.n * 1.5) + 1024)
        for name in self.kinds:
            grown = zeros(size, self.values[name].dtype)
            grown[: self.n] = self.values[name]
            self.values[name] = grown
            valid = zeros(size, bool)
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


@functools.lru_cache(maxsize=1 << 17)
def ip_text(hi: int, lo: int) -> str:
    """Render one address held as two 64-bit halves (IPv4 is IPv4-mapped).

    Cached: batches of one capture keep meeting the same few thousand addresses.
    (IPv4-only columns do not come here: :func:`_ipv4_labels` renders them all at once.)"""
    if hi == 0 and (lo >> 32) == 0xFFFF:
        return f"{(lo >> 24) & 0xFF}.{(lo >> 16) & 0xFF}.{(lo >> 8) & 0xFF}.{lo & 0xFF}"
    return str(ipaddress.IPv6Address((hi << 64) | lo))


@functools.lru_cache(maxsize=1 << 16)
def mac_text(value: int) -> str:
    return ":".join(f"{(value >> s) & 0xFF:02x}" for s in range(40, -8, -8))


#: keys spanning fewer values than this are factorized through a lookup table
_TABLE_SPAN = 1 << 16


def _factorize(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int32 codes, sorted distinct keys) of integer ``keys``, never sorting every row.

    Keys in a narrow range (category codes, a file's one name) go through a lookup
    table: two passes, no hashing. Others (addresses, MACs) are hashed by pyarrow
    and only the distinct keys are sorted."""
    if not len(keys):
        return np.zeros(0, np.int32), keys[:0]
    low, high = keys.min(), keys.max()
    if low == high:  # one value: a file's name, the only interface, no tunnels
        return np.zeros(len(keys), np.int32), keys[:1].copy()
    if int(high) - int(low) < _TABLE_SPAN:
        offsets = (keys - low).astype(np.intp, copy=False)
        present = np.zeros(int(high) - int(low) + 1, bool)
        present[offsets] = True
        rank = np.cumsum(present, dtype=np.int32) - 1
        uniques = np.flatnonzero(present).astype(keys.dtype) + low
        return rank.take(offsets), uniques
    keys = np.ascontiguousarray(keys)
    encoded = _call_function("dictionary_encode",
                             [_primitive(pa.from_numpy_dtype(keys.dtype), keys, None)])
    codes = _numpy(encoded.indices, np.int32)
    uniques = _numpy(encoded.dictionary, keys.dtype)
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(len(order), np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return rank.take(codes), uniques[order]


def _factorize_valid(keys: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_factorize` of the valid rows only, codes -1 on the others."""
    if valid.all():
        return _factorize(keys)
    codes, uniques = _factorize(keys[valid])
    full = np.full(len(keys), -1, dtype=np.int32)
    full[valid] = codes
    return full, uniques


def dictionary_parts(keys: np.ndarray, valid: np.ndarray,
                     render: Callable[[np.ndarray], list[str]]) -> tuple[np.ndarray, list[str]]:
    """Integer keys to (int32 codes, -1 for null; distinct labels), rendering each
    distinct key once. Keys that render alike share a label."""
    codes, uniques = _factorize_valid(keys, valid)
    labels = render(uniques)
    first: dict[str, int] = {}
    remap = np.array([first.setdefault(label, len(first)) for label in labels], np.int32)
    if len(first) != len(labels):
        codes = np.where(codes >= 0, remap.take(np.maximum(codes, 0)), -1).astype(np.int32)
        labels = list(first)
    return codes, labels


def _address_codes(values: np.ndarray, valid: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of an ip column and its distinct addresses in ascending order, as
    (codes, high halves, low halves)."""
    hi, lo = values["hi"], values["lo"]
    if not (hi.any() if valid.all() else (hi[valid] != 0).any()):
        # IPv4 only: the low half alone identifies the address
        codes, lo_uniques = _factorize_valid(lo, valid)
        return codes, np.zeros(len(lo_uniques), np.uint64), lo_uniques
    hi_codes, hi_uniques = _factorize(hi)
    lo_codes, lo_uniques = _factorize(lo)
    width = max(len(lo_uniques), 1)
    codes, combined = _factorize_valid(hi_codes.astype(np.int64) * width + lo_codes, valid)
    return codes, hi_uniques[combined // width], lo_uniques[combined % width]


def _octet_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per octet value, as one 4-byte word each so a row is one ``take``: its text
    followed by a dot, left-aligned; which of those bytes belong to it with the
    dot, and without (the last octet); and its length with the dot."""
    texts = [f"{octet}.".encode() for octet in range(256)]
    text = np.frombuffer(b"".join(t.ljust(4, b"\0") for t in texts), np.uint8).reshape(256, 4)
    length = np.array([len(t) for t in texts], np.int32)
    with_dot = np.arange(4) < length[:, None]
    without_dot = np.arange(4) < (length - 1)[:, None]
    words = [np.ascontiguousarray(table).view(np.uint32).ravel()
             for table in (text, with_dot, without_dot)]
    return words[0], words[1], words[2], length


_OCTET_TEXT, _OCTET_DOT, _OCTET_LAST, _OCTET_LEN = _octet_table()


def _ipv4_labels(lo: np.ndarray) -> pa.Array:
    """Dotted-quad text of IPv4-mapped low halves, built in numpy as one Arrow
    string array (the same text as :func:`ip_text`, without a Python call per address)."""
    octets = lo.astype(">u4").view(np.uint8).reshape(-1, 4).astype(np.intp)
    keep = _OCTET_DOT.take(octets)
    keep[:, 3] = _OCTET_LAST.take(octets[:, 3])
    data = _OCTET_TEXT.take(octets).view(np.uint8)[keep.view(bool)]
    lengths = _OCTET_LEN.take(octets[:, 0]) - 1
    for column in (1, 2, 3):
        lengths += _OCTET_LEN.take(octets[:, column])
    offsets = np.zeros(len(lo) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(lo),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _address_labels(hi: np.ndarray, lo: np.ndarray) -> pa.Array:
    """Text of distinct addresses (never two alike: the rendering is one-to-one)."""
    if not hi.any() and ((lo >> np.uint64(32)) == np.uint64(0xFFFF)).all():
        return _ipv4_labels(lo)
    return _strings([ip_text(int(h), int(v)) for h, v in zip(hi, lo, strict=True)])


def render_codes(kind: str, values: np.ndarray, valid: np.ndarray,
                 names: Callable[[int], str] | None) -> tuple[np.ndarray, list[str]]:
    """Codes and labels of an ip, mac or category column, labels in key order."""
    if kind == "ip":
        codes, hi, lo = _address_codes(values, valid)
        return codes, _address_labels(hi, lo).to_pylist()
    if kind == "mac":
        return dictionary_parts(values, valid, lambda u: [mac_text(int(v)) for v in u])
    if kind == "category":
        assert names is not None, "a category column needs a code-to-name function"
        return dictionary_parts(values, valid, lambda u: [names(int(v)) for v in u])
    raise ValueError(f"{kind!r} is not a dictionary column kind")


DICTIONARY_KINDS = ("ip", "mac", "category")


_ARROW_INT = {"u8": pa.uint8(), "u16": pa.uint16(), "u32": pa.uint32(), "u64": pa.uint64(),
              "i64": pa.int64(), "ts": pa.timestamp("ns", tz="UTC")}
ARROW_DICTIONARY = pa.dictionary(pa.int32(), pa.string())


def _bitmap(mask: np.ndarray | None) -> pa.Buffer | None:
    return None if mask is None or mask.all() else pa.py_buffer(np.packbits(mask, bitorder="little"))


def _primitive(arrow_type: pa.DataType, values: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    """An Arrow array over a numpy buffer, shared not copied. (``pa.array`` would
    do too, but it imports pandas to check the input's type.)"""
    data = np.ascontiguousarray(values)
    return pa.Array.from_buffers(arrow_type, len(data), [_bitmap(valid), pa.py_buffer(data)])


def _numpy(array: pa.Array, dtype: np.dtype | type) -> np.ndarray:
    """The values of a null-free primitive Arrow array as numpy, without a copy."""
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array),
                         offset=array.offset * np.dtype(dtype).itemsize)


def _strings(labels: list[str]) -> pa.Array:
    encoded = [label.encode() for label in labels]
    offsets = np.zeros(len(encoded) + 1, np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(encoded),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])


def to_arrow(kind: str, values: np.ndarray, valid: np.ndarray,
             names: Callable[[int], str] | None = None) -> pa.Array:
    """Convert one buffer straight to an Arrow array (no pandas in between): the
    numeric buffers are shared, not copied."""
    if kind in _ARROW_INT:
        return _primitive(_ARROW_INT[kind], values, valid)
    if kind == "bool":
        bits = pa.py_buffer(np.packbits(values.astype(bool, copy=False), bitorder="little"))
        return pa.Array.from_buffers(pa.bool_(), len(values), [_bitmap(valid), bits])
    if kind == "ip":
        codes, hi, lo = _address_codes(values, valid)
        labels = _address_labels(hi, lo)
    elif kind in DICTIONARY_KINDS:
        codes, names_list = render_codes(kind, values, valid, names)
        labels = _strings(names_list)
    else:
        raise ValueError(f"unknown column kind {kind!r}")
    # codes are -1 exactly where valid is False, and in range elsewhere: no need to check
    return pa.DictionaryArray.from_arrays(_primitive(pa.int32(), codes, valid), labels,
                                          safe=False)
