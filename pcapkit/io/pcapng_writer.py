"""Write a pcapng file from packet columns: one section, any number of interfaces (each
with its own link type), and a comment per packet.

pcapkit's evidence export needs what a generic writer rarely gives together: several link
types in one file (an SLL2 ``any`` capture next to an Ethernet one), a comment on every
packet and nanosecond timestamps, written fast. Enhanced Packet Blocks are laid out for a
whole chunk of packets at once: block lengths and offsets are arrays, and headers, packet
bytes, comment options and trailers are scattered into one output buffer with numpy index
arithmetic, never a Python loop per packet. Everything is little-endian (the byte-order
magic says so), every interface has if_tsresol 9 (nanoseconds: microsecond and nanosecond
sources keep every digit).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from .pcapng import IDB_TYPE, IF_DESCRIPTION, IF_NAME, IF_TSRESOL, OPT_COMMENT, SHB_TYPE

EPB_TYPE = 6
SHB_USERAPPL = 4
_EPB_HEADER = 28                 # type, length, interface, ts high, ts low, caplen, len
_CHUNK_BYTES = 16 << 20          # packet bytes per scatter (bounds the index arrays)


@dataclass(frozen=True)
class WriterInterface:
    """One Interface Description Block: link type, snap length, name and description."""

    linktype: int
    snaplen: int
    name: str
    description: str | None = None


@dataclass
class PacketColumns:
    """The packets to write, one element per packet in every array.

    ``data[offset[i]:offset[i] + caplen[i]]`` are packet ``i``'s bytes; ``interface`` indexes
    the interface list, ``comment`` the comment list (-1: no comment); ``ts_ns`` is
    nanoseconds since the epoch (a negative time is written as 0).
    """

    data: np.ndarray          # uint8
    offset: np.ndarray        # int64
    caplen: np.ndarray        # int64
    wirelen: np.ndarray       # int64
    ts_ns: np.ndarray         # int64
    interface: np.ndarray     # int64
    comment: np.ndarray       # int64

    def __len__(self) -> int:
        return len(self.offset)


def _pad4(length: np.ndarray | int) -> np.ndarray | int:
    return (length + 3) & ~3


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\x00" * (_pad4(len(value))
                                                                     - len(value))


def _block(block_type: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def _options(options: list[tuple[int, bytes]]) -> bytes:
    if not options:
        return b""
    return b"".join(_option(code, value) for code, value in options) + b"\x00\x00\x00\x00"


def section_header(application: str, comment: str | None = None) -> bytes:
    """A Section Header Block (version 1.0, section length unknown)."""
    options = [(SHB_USERAPPL, application.encode())]
    if comment:
        options.insert(0, (OPT_COMMENT, comment.encode()))
    body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _options(options)
    return _block(SHB_TYPE, body)


def interface_block(interface: WriterInterface) -> bytes:
    """An Interface Description Block with if_name, if_description and if_tsresol 9."""
    options = [(IF_NAME, interface.name.encode())]
    if interface.description:
        options.append((IF_DESCRIPTION, interface.description.encode()))
    options.append((IF_TSRESOL, b"\x09"))
    body = struct.pack("<HHI", interface.linktype & 0xFFFF, 0, interface.snaplen) \
        + _options(options)
    return _block(IDB_TYPE, body)


def _comment_options(comments: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every comment's option bytes (opt_comment then opt_endofopt) in one buffer, with
    each one's start and length; a last, empty entry for packets without a comment."""
    blobs = [_options([(OPT_COMMENT, c.encode())]) for c in comments] + [b""]
    lengths = np.array([len(b) for b in blobs], dtype=np.int64)
    starts = np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int64)
    return np.frombuffer(b"".join(blobs), dtype=np.uint8), starts, lengths


def copy_ranges(out: np.ndarray, dst: np.ndarray, src: np.ndarray, src_start: np.ndarray,
                length: np.ndarray) -> None:
    """``out[dst[i]:dst[i]+length[i]] = src[src_start[i]:src_start[i]+length[i]]`` for
    every i, in one gather and one scatter."""
    total = int(length.sum())
    if not total:
        return
    within = np.arange(total, dtype=np.int64) - np.repeat(
        np.cumsum(length) - length, length)
    out[np.repeat(dst, length) + within] = src[np.repeat(src_start, length) + within]


def _packet_blocks(packets: PacketColumns, rows: slice, comments: tuple[np.ndarray, ...]
                   ) -> np.ndarray:
    """The Enhanced Packet Blocks of ``packets[rows]`` as one byte array."""
    caplen = packets.caplen[rows].astype(np.int64)
    code = packets.comment[rows].astype(np.int64)
    blob, blob_start, blob_length = comments
    code = np.where(code < 0, len(blob_length) - 1, code)
    option_length = blob_length[code]
    block_length = _EPB_HEADER + _pad4(caplen) + option_length + 4
    start = np.cumsum(block_length) - block_length
    out = np.zeros(int(block_length.sum()), dtype=np.uint8)
    ts = np.maximum(packets.ts_ns[rows].astype(np.int64), 0).astype(np.uint64)
    header = np.empty((len(caplen), 7), dtype="<u4")
    header[:, 0] = EPB_TYPE
    header[:, 1] = block_length
    header[:, 2] = packets.interface[rows]
    header[:, 3] = ts >> np.uint64(32)
    header[:, 4] = ts & np.uint64(0xFFFFFFFF)
    header[:, 5] = caplen
    header[:, 6] = packets.wirelen[rows]
    n = len(caplen)
    fixed = np.arange(n, dtype=np.int64)
    copy_ranges(out, start, header.view(np.uint8).reshape(-1), fixed * _EPB_HEADER,
             np.full(n, _EPB_HEADER, np.int64))
    copy_ranges(out, start + _EPB_HEADER, packets.data, packets.offset[rows].astype(np.int64),
             caplen)
    copy_ranges(out, start + _EPB_HEADER + _pad4(caplen), blob, blob_start[code], option_length)
    trailer = block_length.astype("<u4").view(np.uint8)
    copy_ranges(out, start + block_length - 4, trailer, fixed * 4, np.full(n, 4, np.int64))
    return out


def write_pcapng(handle: BinaryIO, interfaces: Sequence[WriterInterface],
                 packets: PacketColumns, comments: Sequence[str] = (), *,
                 application: str = "pcapkit", section_comment: str | None = None) -> int:
    """Write one section with ``interfaces`` and ``packets`` (in the order given) to
    ``handle``; return the bytes written. Raises ValueError for a packet naming an
    interface or comment that is not listed."""
    n = len(packets)
    if n and (int(packets.interface.min()) < 0
              or int(packets.interface.max()) >= len(interfaces)):
        raise ValueError("a packet names an interface that is not listed")
    if n and int(packets.comment.max()) >= len(comments):
        raise ValueError("a packet names a comment that is not listed")
    written = handle.write(section_header(application, section_comment))
    for interface in interfaces:
        written += handle.write(interface_block(interface))
    table = _comment_options(comments)
    ends = np.cumsum(packets.caplen.astype(np.int64))
    begin = 0
    while begin < n:
        base = int(ends[begin - 1]) if begin else 0
        stop = max(begin + 1, int(np.searchsorted(ends, base + _CHUNK_BYTES, side="right")))
        written += handle.write(memoryview(_packet_blocks(packets, slice(begin, stop), table)))
        begin = stop
    return written
