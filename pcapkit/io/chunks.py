"""The chunk buffer: a window of the (decompressed) capture file in one numpy array.

The reader frames whole records out of ``data[pos:fill]``.  When the record
at ``pos`` is incomplete it asks for more bytes: they are appended while the
array has room; otherwise the unconsumed tail moves to the front of a fresh
window (:meth:`ChunkBuffer.recycle`), grown if one record is larger than a
chunk.  Bytes already handed out in a batch are never overwritten: an array
is reused only when nothing else holds a reference to it (CPython reference
count), else a new one is allocated.  Two arrays alternate in the usual
``for batch in ...`` loop, so memory stays near two chunks plus the batches
the caller keeps.
"""

from __future__ import annotations

import sys

import numpy as np

from .sources import ByteSource

# getrefcount of an array nothing else holds: its holder, the argument, getrefcount's own.
_SOLE_OWNER_REFCOUNT = 3
# Bytes read per step.  The window is filled step by step and framed after each one,
# so the framer reads bytes still in the CPU cache instead of a whole cold chunk.
READ_STEP = 1 << 20


class ByteWindow:
    """What the reader frames records from: ``data[pos:fill]`` of a window onto the file.

    ``base`` is the file offset of ``data[0]``; ``pos`` is the first byte not
    yet consumed; ``fill`` is the end of the bytes available so far; ``eof`` is
    set once the file has no more.  Subclasses say how bytes arrive
    (:meth:`read_more`) and how the window moves (:meth:`recycle`).
    """

    data: np.ndarray
    pos: int
    fill: int

    @property
    def available(self) -> int:
        """Bytes in the buffer from ``pos`` on."""
        return self.fill - self.pos

    def can_append(self, needed: int) -> bool:
        """True if a record of ``needed`` bytes at ``pos`` fits without moving the window."""
        return self.fill < len(self.data) and len(self.data) - self.pos >= needed

    def read_more(self) -> int:
        """Make more bytes available past ``fill``; how many (0 at the end of the data)."""
        raise NotImplementedError

    def ensure(self, needed: int) -> bool:
        """Read until ``needed`` bytes are available at ``pos`` (moving the window if
        necessary); False if the data ends first."""
        while self.available < needed:
            if not self.can_append(needed):
                self.recycle(needed)
            if not self.read_more():
                return False
        return True

    def recycle(self, needed: int) -> None:
        """Move the window so that it starts at ``pos`` and can hold ``needed`` bytes."""
        raise NotImplementedError


class ChunkBuffer(ByteWindow):
    """A growable window over a byte source.

    ``base`` is the file offset of ``data[0]``; ``pos`` is the first byte not
    yet consumed; ``fill`` is the end of the valid bytes; ``eof`` is set once
    the source returned no more bytes.
    """

    def __init__(self, source: ByteSource, capacity: int) -> None:
        self.source = source
        self.capacity = max(1, capacity)
        self.data = np.empty(self.capacity, dtype=np.uint8)
        self._spare: np.ndarray | None = None
        self.base = 0
        self.pos = 0
        self.fill = 0
        self.eof = False

    def read_more(self) -> int:
        """Append bytes from the source into the free end of the array; 0 at end of data."""
        if self.eof or self.fill >= len(self.data):
            return 0
        stop = min(len(self.data), self.fill + READ_STEP)
        n = self.source.readinto(memoryview(self.data)[self.fill:stop])
        if n <= 0:
            self.eof = True
            return 0
        self.fill += n
        return n

    def recycle(self, needed: int) -> None:
        """Move the unconsumed tail to the front of a window that can hold ``needed`` bytes.

        The window is the current array if no batch holds it any more, else the
        spare (the array before it, typically released by now: a caller's loop
        variable holds only the latest batch), else a new array.  Reusing arrays
        saves the page faults of fresh memory.
        """
        size = max(self.capacity, needed)
        count = self.fill - self.pos
        if len(self.data) >= size and self._sole_owner(self.data):
            self.data[:count] = self.data[self.pos:self.fill]  # numpy copes with the overlap
        else:
            spare = self._spare
            self._spare = None
            if spare is None or len(spare) < size or not self._sole_owner(spare):
                spare = np.empty(size, dtype=np.uint8)
            spare[:count] = self.data[self.pos:self.fill]
            self._spare = self.data
            self.data = spare
            del spare
        self.base += self.pos
        self.fill -= self.pos
        self.pos = 0

    @staticmethod
    def _sole_owner(array: np.ndarray) -> bool:
        """True when only this buffer references ``array`` (no batch or view of it is alive)."""
        getrefcount = getattr(sys, "getrefcount", None)
        return getrefcount is not None and getrefcount(array) <= _SOLE_OWNER_REFCOUNT
