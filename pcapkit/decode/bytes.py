"""Bounds-checked, vectorised reads of header fields from a batch of packets.

Every read takes an array of packet rows and an array of byte positions inside
those packets, and returns the big-endian values plus a mask saying which reads
fell entirely inside the captured bytes. A read that would cross the end of a
packet's captured bytes yields 0 and ``False``: nothing outside a record is ever
looked at, which is what makes the decoder safe on hostile and truncated input.
"""

from __future__ import annotations

import numpy as np

_PAD = 16


def _strided(data: np.ndarray, dtype: str) -> np.ndarray:
    """An unaligned view giving the ``dtype`` value that starts at every byte."""
    size = np.dtype(dtype).itemsize
    return np.ndarray(shape=(len(data) - size + 1,), dtype=dtype, buffer=data, offset=0,
                      strides=(1,))


class PacketBytes:
    """Field access into the captured bytes of a batch of packets.

    Positions passed in are never negative: every one is a sum of non-negative
    header lengths read as unsigned integers, starting from 0. Reads check only
    the end of the captured bytes.
    """

    def __init__(self, data: np.ndarray, offset: np.ndarray, caplen: np.ndarray) -> None:
        if len(data) < _PAD:  # the strided views below need a few bytes to exist
            data = np.concatenate([data, np.zeros(_PAD, dtype=np.uint8)])
        self.data = data
        self.offset = offset.astype(np.int64, copy=False)
        self.caplen = caplen.astype(np.int64, copy=False)
        self._views = {1: data, 2: _strided(data, ">u2"), 4: _strided(data, ">u4"),
                       8: _strided(data, ">u8")}
        self._rows: np.ndarray | None = None
        self._base = self._limit = self.offset

    def _bounds(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start and captured length of each row's packet, memoised per rows array
        (a layer reads many fields of the same rows)."""
        if rows is self._rows:
            return self._base, self._limit
        self._rows, self._base, self._limit = rows, self.offset[rows], self.caplen[rows]
        return self._base, self._limit

    def _read(self, size: int, rows: np.ndarray, pos: np.ndarray,
              dtype: type) -> tuple[np.ndarray, np.ndarray]:
        base, limit = self._bounds(rows)
        ok = pos + size <= limit  # positions are never negative (see the class docstring)
        index = base + pos
        if ok.all():
            return self._views[size][index].astype(dtype, copy=False), ok
        index[~ok] = 0
        values = self._views[size][index].astype(dtype, copy=False)
        values[~ok] = 0
        return values, ok

    def u8(self, rows: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._read(1, rows, pos, np.uint8)

    def u16(self, rows: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._read(2, rows, pos, np.uint16)

    def u32(self, rows: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._read(4, rows, pos, np.uint32)

    def u64(self, rows: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._read(8, rows, pos, np.uint64)

    def u24(self, rows: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hi, ok_hi = self.u8(rows, pos)
        lo, ok_lo = self.u16(rows, pos + 1)
        return (hi.astype(np.uint32) << 16) | lo, ok_hi & ok_lo

    def u48(self, rows: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hi, ok_hi = self.u16(rows, pos)
        lo, ok_lo = self.u32(rows, pos + 2)
        return (hi.astype(np.uint64) << np.uint64(32)) | lo, ok_hi & ok_lo

    def available(self, rows: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Captured bytes left in each packet from ``pos`` on (never negative)."""
        return np.maximum(self.caplen[rows] - pos, 0)


def isin_small(values: np.ndarray, choices: tuple[int, ...] | list[int] | frozenset[int]
               ) -> np.ndarray:
    """``np.isin`` for a handful of choices, without its sorting overhead."""
    out = np.zeros(values.shape, dtype=bool)
    for choice in choices:
        out |= values == choice
    return out
