"""Bounds-checked, vectorised reads of header fields from a batch of packets.

Every read takes an array of packet rows and an array of byte positions inside
those packets, and returns the big-endian values plus a mask saying which reads
fell entirely inside the captured bytes. A read that would cross the end of a
packet's captured bytes yields 0 and ``False``: nothing outside a record is ever
looked at, which is what makes the decoder safe on hostile and truncated input.

A gather through an unaligned view costs numpy the same whatever the width
(about 4 ns a row, against 1 ns for a byte), so a header whose fields sit
together is fetched with one wide gather (:meth:`PacketBytes.header`) and its
fields are cut out of that copy, which costs a few microseconds each.
"""

from __future__ import annotations

import numpy as np

#: the widest block ``PacketBytes.header`` reads; the buffer is padded to at least this
_PAD = 64


def _strided(data: np.ndarray, dtype: str | np.dtype) -> np.ndarray:
    """An unaligned view giving the ``dtype`` value that starts at every byte."""
    size = np.dtype(dtype).itemsize
    return np.ndarray(shape=(len(data) - size + 1,), dtype=dtype, buffer=data, offset=0,
                      strides=(1,))


_BIG = {1: np.dtype(np.uint8), 2: np.dtype(">u2"), 4: np.dtype(">u4"), 8: np.dtype(">u8")}
_NATIVE = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


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
        #: ``np.arange(len(offset))``: pass it as ``rows`` to mean every packet (its
        #: bounds need no gather)
        self.every = np.arange(len(self.offset))
        self._views: dict[np.dtype, np.ndarray] = {}
        self._rows: np.ndarray | None = self.every
        self._base, self._limit = self.offset, self.caplen

    def _view(self, dtype: np.dtype) -> np.ndarray:
        """The view giving the ``dtype`` value that starts at every byte (made on first use)."""
        view = self._views.get(dtype)
        if view is None:
            view = self.data if dtype.itemsize == 1 else _strided(self.data, dtype)
            self._views[dtype] = view
        return view

    def _bounds(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start and captured length of each row's packet, memoised per rows array
        (a layer reads many fields of the same rows)."""
        if rows is self._rows:
            return self._base, self._limit
        if rows is self.every:
            self._rows, self._base, self._limit = rows, self.offset, self.caplen
        else:
            self._rows, self._base, self._limit = rows, self.offset[rows], self.caplen[rows]
        return self._base, self._limit

    def _read(self, size: int, rows: np.ndarray, pos: np.ndarray,
              dtype: type) -> tuple[np.ndarray, np.ndarray]:
        base, limit = self._bounds(rows)
        ok = pos + size <= limit  # positions are never negative (see the class docstring)
        index = base + pos
        complete = ok.all()
        if not complete:
            index[~ok] = 0
        if size == 2:  # two byte gathers (numpy's fast path) beat one through the view
            values = (self.data[index].astype(np.uint16) << 8) | self.data[index + 1]
        else:
            values = self._view(_BIG[size])[index].astype(dtype, copy=False)
        if not complete:
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

    def header(self, rows: np.ndarray, pos: np.ndarray, size: int) -> Header:
        """The ``size`` bytes at ``pos`` of each row, fetched with one gather."""
        return Header(self, rows, pos, size)

    def captured_length(self, rows: np.ndarray) -> np.ndarray:
        """Captured bytes of each row's packet (shared, memoised: do not modify)."""
        return self._bounds(rows)[1]

    def available(self, rows: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Captured bytes left in each packet from ``pos`` on (never negative)."""
        return np.maximum(self._bounds(rows)[1] - pos, 0)


class Header:
    """A block of bytes per row, read once; fields are cut out of it.

    Reading a field gives what the matching :class:`PacketBytes` read would give,
    value and mask alike. Rows whose packet ends inside the block are not gathered
    from their own bytes at all (their index points at the buffer's start); their
    fields are read one by one, bounds-checked, so nothing past a record's
    captured end is ever returned.
    """

    def __init__(self, pb: PacketBytes, rows: np.ndarray, pos: np.ndarray, size: int) -> None:
        if size > _PAD:
            raise ValueError(f"a header read is at most {_PAD} bytes, not {size}")
        base, limit = pb._bounds(rows)
        index = base + pos
        complete = pos + size <= limit
        self.complete = bool(complete.all())
        self._pb, self._size, self._n = pb, size, len(rows)
        if not self.complete:
            index[~complete] = 0
            self._cut = np.flatnonzero(~complete)
            self._cut_rows = rows[self._cut]
            self._cut_pos = pos[self._cut]
            self._complete = complete
        self.raw = pb._view(np.dtype(f"V{size}"))[index]

    def captured(self) -> np.ndarray:
        """Per row: the whole block lies inside the packet's captured bytes."""
        return np.ones(self._n, bool) if self.complete else self._complete.copy()

    def _field(self, off: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        native = _NATIVE[size]
        if not self._n:
            return np.zeros(0, native), np.zeros(0, bool)
        column = np.ndarray(shape=(self._n,), dtype=_BIG[size], buffer=self.raw, offset=off,
                            strides=(self._size,))
        values = column.astype(native)
        if self.complete:
            return values, np.ones(self._n, bool)
        part, ok_part = self._pb._read(size, self._cut_rows, self._cut_pos + off, native)
        values[self._cut] = part
        ok = self._complete.copy()
        ok[self._cut] = ok_part
        return values, ok

    def u8(self, off: int) -> tuple[np.ndarray, np.ndarray]:
        return self._field(off, 1)

    def u16(self, off: int) -> tuple[np.ndarray, np.ndarray]:
        return self._field(off, 2)

    def u32(self, off: int) -> tuple[np.ndarray, np.ndarray]:
        return self._field(off, 4)

    def u64(self, off: int) -> tuple[np.ndarray, np.ndarray]:
        return self._field(off, 8)

    def u24(self, off: int) -> tuple[np.ndarray, np.ndarray]:
        hi, ok_hi = self.u8(off)
        lo, ok_lo = self.u16(off + 1)
        return (hi.astype(np.uint32) << 16) | lo, ok_hi & ok_lo

    def u48(self, off: int) -> tuple[np.ndarray, np.ndarray]:
        hi, ok_hi = self.u16(off)
        lo, ok_lo = self.u32(off + 2)
        return (hi.astype(np.uint64) << np.uint64(32)) | lo, ok_hi & ok_lo


def isin_small(values: np.ndarray, choices: tuple[int, ...] | list[int] | frozenset[int]
               ) -> np.ndarray:
    """``np.isin`` for a handful of choices, without its sorting overhead."""
    out = np.zeros(values.shape, dtype=bool)
    for choice in choices:
        out |= values == choice
    return out
