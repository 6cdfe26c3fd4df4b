"""Preallocated output columns that the framer fills, turned into a RecordBatch."""

from __future__ import annotations

import numpy as np

from .records import Interface, RecordBatch


class BatchBuilder:
    """Column arrays for up to ``capacity`` packets, filled from row ``count`` on."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.count = 0
        self.skipped: list[int] = []  # row positions where a non-packet record took a frame number
        self.offset = np.empty(capacity, dtype=np.int64)
        self.caplen = np.empty(capacity, dtype=np.int64)
        self.wirelen = np.empty(capacity, dtype=np.int64)
        self.ts_ns = np.empty(capacity, dtype=np.int64)
        self.file_offset = np.empty(capacity, dtype=np.int64)
        self.interface = np.empty(capacity, dtype=np.int32)

    @property
    def columns(self) -> tuple[np.ndarray, ...]:
        """The six arrays in the order the framer takes them."""
        return (self.offset, self.caplen, self.wirelen, self.ts_ns, self.file_offset,
                self.interface)

    @property
    def full(self) -> bool:
        return self.count >= self.capacity

    def append(self, offset: int, caplen: int, wirelen: int, ts_ns: int, file_offset: int,
               interface: int) -> None:
        """Add one packet framed outside the framer (a pcapng Packet Block)."""
        i = self.count
        self.offset[i], self.caplen[i], self.wirelen[i] = offset, caplen, wirelen
        self.ts_ns[i], self.file_offset[i], self.interface[i] = ts_ns, file_offset, interface
        self.count += 1

    def skip_frame(self) -> None:
        """Note a record that takes a frame number but is not a packet (Wireshark numbering)."""
        self.skipped.append(self.count)

    @property
    def frames_used(self) -> int:
        """Frame numbers this batch consumes: its packets plus skipped records."""
        return self.count + len(self.skipped)

    def build(self, file: str, data: np.ndarray, first_frame: int,
              interfaces: list[Interface]) -> RecordBatch:
        """The filled rows as a RecordBatch; arrays are trimmed copies when mostly empty."""
        n = self.count

        def column(values: np.ndarray) -> np.ndarray:
            return values[:n].copy() if n < self.capacity // 2 else values[:n]

        interface = column(self.interface)
        linktypes = np.array([iface.linktype for iface in interfaces] or [0], dtype=np.int32)
        return RecordBatch(
            file=file,
            data=data,
            offset=column(self.offset),
            caplen=column(self.caplen),
            wirelen=column(self.wirelen),
            ts_ns=column(self.ts_ns),
            interface=interface,
            linktype=linktypes[interface],
            frame=self._frame_numbers(first_frame),
            file_offset=column(self.file_offset),
            interfaces=list(interfaces),
        )

    def _frame_numbers(self, first_frame: int) -> np.ndarray:
        rows = np.arange(self.count, dtype=np.int64)
        frames = rows + first_frame
        if self.skipped:
            frames += np.searchsorted(np.asarray(self.skipped), rows, side="right")
        return frames
