"""Byte-exact builders for small pcap and pcapng files, used by the reader tests.

Written from the file format specifications (draft-ietf-opsawg-pcap,
draft-ietf-opsawg-pcapng) so tests can make every corner case on the spot.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from pcapkit.io.reader import CaptureReader
from pcapkit.io.records import RecordBatch

PCAP_USEC = 0xA1B2C3D4
PCAP_NSEC = 0xA1B23C4D


@dataclass(frozen=True)
class Packet:
    """A packet to write: timestamp parts, bytes, optional wire length."""

    ts_sec: int
    ts_frac: int
    data: bytes
    wirelen: int | None = None


def pcap_file(packets: list[Packet], *, order: str = "<", nanosecond: bool = False,
              linktype: int = 1, snaplen: int = 65535, version: tuple[int, int] = (2, 4)) -> bytes:
    """A classic pcap file."""
    out = [struct.pack(order + "IHHiIII", PCAP_NSEC if nanosecond else PCAP_USEC,
                       version[0], version[1], 0, 0, snaplen, linktype)]
    for p in packets:
        wirelen = len(p.data) if p.wirelen is None else p.wirelen
        out.append(struct.pack(order + "IIII", p.ts_sec, p.ts_frac, len(p.data), wirelen))
        out.append(p.data)
    return b"".join(out)


def _pad(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def option(order: str, code: int, value: bytes) -> bytes:
    """One pcapng option, padded to 4 bytes."""
    return struct.pack(order + "HH", code, len(value)) + _pad(value)


def options(order: str, items: list[tuple[int, bytes]]) -> bytes:
    """An option list closed by opt_endofopt (empty when there are no options)."""
    if not items:
        return b""
    return b"".join(option(order, c, v) for c, v in items) + struct.pack(order + "HH", 0, 0)


def block(order: str, block_type: int, body: bytes) -> bytes:
    """A pcapng block with correct leading and trailing lengths."""
    body = _pad(body)
    length = 12 + len(body)
    return (struct.pack(order + "II", block_type, length) + body
            + struct.pack(order + "I", length))


def shb(order: str = "<", version: tuple[int, int] = (1, 0),
        opts: list[tuple[int, bytes]] | None = None) -> bytes:
    """A Section Header Block."""
    body = struct.pack(order + "IHHq", 0x1A2B3C4D, version[0], version[1], -1)
    return block(order, 0x0A0D0D0A, body + options(order, opts or []))


def idb(order: str = "<", linktype: int = 1, snaplen: int = 0, *, name: str | None = None,
        description: str | None = None, tsresol: int | None = None,
        tsoffset: int | None = None, comment: str | None = None) -> bytes:
    """An Interface Description Block with the options pcapkit reads."""
    opts: list[tuple[int, bytes]] = []
    if comment is not None:
        opts.append((1, comment.encode()))
    if name is not None:
        opts.append((2, name.encode()))
    if description is not None:
        opts.append((3, description.encode()))
    if tsresol is not None:
        opts.append((9, bytes([tsresol])))
    if tsoffset is not None:
        opts.append((14, struct.pack(order + "q", tsoffset)))
    body = struct.pack(order + "HHI", linktype, 0, snaplen)
    return block(order, 1, body + options(order, opts))


def epb(order: str, interface: int, ticks: int, data: bytes, wirelen: int | None = None,
        opts: list[tuple[int, bytes]] | None = None) -> bytes:
    """An Enhanced Packet Block."""
    wirelen = len(data) if wirelen is None else wirelen
    body = struct.pack(order + "IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF,
                       len(data), wirelen) + _pad(data)
    return block(order, 6, body + options(order, opts or []))


def spb(order: str, data: bytes, wirelen: int | None = None) -> bytes:
    """A Simple Packet Block."""
    wirelen = len(data) if wirelen is None else wirelen
    return block(order, 3, struct.pack(order + "I", wirelen) + _pad(data))


def pb(order: str, interface: int, ticks: int, data: bytes, wirelen: int | None = None) -> bytes:
    """An obsolete Packet Block (type 2)."""
    wirelen = len(data) if wirelen is None else wirelen
    body = struct.pack(order + "HHIIII", interface, 0, ticks >> 32, ticks & 0xFFFFFFFF,
                       len(data), wirelen) + _pad(data)
    return block(order, 2, body)


def frame(n: int, size: int = 60) -> bytes:
    """Recognisable packet bytes: frame number repeated."""
    return bytes((n + i) & 0xFF for i in range(size))


@dataclass
class ReadResult:
    """Everything a reader produced for one file, batches concatenated."""

    reader: CaptureReader
    batches: list[RecordBatch]
    columns: dict[str, np.ndarray]
    packets: list[bytes]

    def __len__(self) -> int:
        return len(self.packets)


COLUMN_NAMES = ("offset", "caplen", "wirelen", "ts_ns", "interface", "linktype", "frame",
                "file_offset")


def read_capture(path, framer=None, **options) -> ReadResult:
    """Read a whole capture with ``framer`` (None: the default) into one ReadResult."""
    reader = CaptureReader(path, framer=framer, **options)
    with reader:
        batches = list(reader.batches())
    columns = {}
    for name in COLUMN_NAMES:
        parts = [getattr(b, name) for b in batches]
        columns[name] = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
    packets = [bytes(b.data[o:o + c]) for b in batches for o, c in zip(b.offset, b.caplen, strict=True)]
    return ReadResult(reader, batches, columns, packets)
