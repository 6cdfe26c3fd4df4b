"""The record batch: what a capture reader hands the decoder.

A batch is a run of packet records framed out of one capture file: the raw
bytes stay in one numpy buffer and every per-packet field is a numpy array, so
the decoder can work on whole columns at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Interface:
    """One capture interface: the single link of a pcap file or a pcapng IDB."""

    index: int                      # interface id inside its file (pcapng IDB order; 0 for pcap)
    linktype: int                   # LINKTYPE_* value
    snaplen: int
    name: str | None = None         # pcapng if_name
    description: str | None = None  # pcapng if_description (Inspektor Gadget puts pod metadata here)
    tsresol: str = "us"             # human readable timestamp resolution, e.g. "us", "ns", "2^-20"
    comment: str | None = None      # pcapng opt_comment on the IDB
    section: int = 0                # pcapng section number (0 for pcap)


@dataclass
class RecordBatch:
    """Packet records framed from one capture file.

    All arrays have one element per packet. ``data[offset[i]:offset[i]+caplen[i]]``
    are the captured bytes of packet ``i``; nothing outside that range belongs
    to the packet.
    """

    file: str
    data: np.ndarray          # uint8, the buffer the offsets point into
    offset: np.ndarray        # int64
    caplen: np.ndarray        # int64, bytes captured
    wirelen: np.ndarray       # int64, original length on the wire
    ts_ns: np.ndarray         # int64, nanoseconds since the Unix epoch, UTC; NO_TIMESTAMP: none
    interface: np.ndarray     # int32, index into ``interfaces`` (per file)
    linktype: np.ndarray      # int32, per packet (pcapng interfaces may differ)
    frame: np.ndarray         # int64, 1-based frame number in the file, as Wireshark counts
    file_offset: np.ndarray   # int64, byte offset of the record header in the decompressed file
    interfaces: list[Interface] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.offset)

    def slice(self, start: int, stop: int) -> RecordBatch:
        """Records ``start:stop`` of this batch (views, not copies; same buffer)."""
        return RecordBatch(self.file, self.data, self.offset[start:stop],
                           self.caplen[start:stop], self.wirelen[start:stop],
                           self.ts_ns[start:stop], self.interface[start:stop],
                           self.linktype[start:stop], self.frame[start:stop],
                           self.file_offset[start:stop], self.interfaces)
