"""Record framing: the serial walk over record headers in one chunk.

Two implementations with one contract: the C extension ``pcapkit.io._framing``
(fast, optional) and the pure-Python twin below (always there).
:data:`FRAMER` is the C module when it was built, else this module's twin;
tests run both and compare their output arrays.

``frame_pcap`` and ``frame_pcapng`` fill the caller's preallocated output
arrays (int64 offset/caplen/wirelen/ts_ns/file_offset, int32 interface) from
``out_index`` up to ``out_limit`` and return ``(count, stop, status)``: how
many rows they wrote, the buffer position of the first record they did not
consume, and why they stopped (one of the ``STATUS_*`` codes).  They never
raise for bad content; :func:`pcapkit.io.damage.describe` words the damage.
"""

from __future__ import annotations

import struct
from types import ModuleType

import numpy as np

from .timestamps import NO_TIMESTAMP, NS_PER_S, TsResolution, ticks_to_ns

# Why a walk stopped.  The C module exports the same names; a test checks they agree.
STATUS_NEED_DATA = 0
STATUS_OUTPUT_FULL = 1
STATUS_OTHER_BLOCK = 2
STATUS_CAPLEN_TOO_BIG = 10
STATUS_BLOCK_TOO_SHORT = 11
STATUS_BLOCK_NOT_ALIGNED = 12
STATUS_BLOCK_TOO_BIG = 13
STATUS_TRAILER_MISMATCH = 14
STATUS_CAPLEN_PAST_BLOCK = 15
STATUS_UNKNOWN_INTERFACE = 16
STATUS_OPTION_TOO_LONG = 17
STATUS_OPTION_HEADER_CUT = 18

STATUS_NAMES = tuple(name for name in globals() if name.startswith("STATUS_"))

MAX_CAPLEN = 262144          # Wireshark's limit for ordinary link types (WTAP_MAX_PACKET_SIZE_STANDARD)
MAX_BLOCK = 16 * 1024 * 1024  # largest pcapng block we accept (bounds buffer growth)
PCAP_RECORD_HEADER = 16
EPB_TYPE = 6
SPB_TYPE = 3
EPB_MIN_LENGTH = 32
SPB_MIN_LENGTH = 16
IFACE_FIELDS = 5             # global index, snaplen, ts base, ts exponent, ts offset (s)


def interface_table(rows: list[tuple[int, int, TsResolution, int]]) -> np.ndarray:
    """Pack (global index, snaplen, resolution, offset seconds) rows for ``frame_pcapng``."""
    table = np.zeros((len(rows), IFACE_FIELDS), dtype=np.int64)
    for i, (index, snaplen, resolution, offset_s) in enumerate(rows):
        table[i] = (index, snaplen, resolution.base, resolution.exponent, offset_s)
    return table.reshape(-1)


def _unpackers(swapped: bool) -> tuple[struct.Struct, struct.Struct]:
    order = ">" if swapped == (struct.pack("=I", 1) == struct.pack("<I", 1)) else "<"
    return struct.Struct(order + "I"), struct.Struct(order + "H")


def frame_pcap(buf, start: int, end: int, file_base: int, swapped: bool, nanosecond: bool,
               max_caplen: int, out_offset, out_caplen, out_wirelen, out_ts_ns,
               out_file_offset, out_interface, out_index: int,
               out_limit: int) -> tuple[int, int, int]:
    """Pure-Python twin of the C ``frame_pcap``: walk classic pcap record headers."""
    u32, _ = _unpackers(swapped)
    header = struct.Struct(u32.format[0] + "IIII")
    view = memoryview(buf).cast("B")
    frac_scale = 1 if nanosecond else 1000
    pos, row = start, out_index
    while True:
        if row >= out_limit:
            status = STATUS_OUTPUT_FULL
            break
        if end - pos < PCAP_RECORD_HEADER:
            status = STATUS_NEED_DATA
            break
        sec, frac, caplen, wirelen = header.unpack_from(view, pos)
        if caplen > max_caplen:
            status = STATUS_CAPLEN_TOO_BIG
            break
        if end - pos - PCAP_RECORD_HEADER < caplen:
            status = STATUS_NEED_DATA
            break
        out_offset[row] = pos + PCAP_RECORD_HEADER
        out_caplen[row] = caplen
        out_wirelen[row] = wirelen
        out_ts_ns[row] = sec * NS_PER_S + frac * frac_scale
        out_file_offset[row] = file_base + pos
        out_interface[row] = 0
        row += 1
        pos += PCAP_RECORD_HEADER + caplen
    return row - out_index, pos, status


def check_options(view, start: int, stop: int, swapped: bool) -> tuple[int, int]:
    """Walk pcapng options in ``view[start:stop]``.

    Returns ``(status, position)``: status 0 when the options are sound (or end
    with opt_endofopt), else ``STATUS_OPTION_HEADER_CUT`` / ``STATUS_OPTION_TOO_LONG``
    with the position of the bad option.
    """
    _, u16 = _unpackers(swapped)
    pos = start
    while pos < stop:
        if stop - pos < 4:
            return STATUS_OPTION_HEADER_CUT, pos
        code = u16.unpack_from(view, pos)[0]
        length = u16.unpack_from(view, pos + 2)[0]
        if code == 0:
            return 0, pos
        padded = (length + 3) & ~3
        if stop - pos - 4 < padded:
            return STATUS_OPTION_TOO_LONG, pos
        pos += 4 + padded
    return 0, pos


def frame_pcapng(buf, start: int, end: int, file_base: int, swapped: bool, max_caplen: int,
                 max_block: int, interfaces, out_offset, out_caplen, out_wirelen, out_ts_ns,
                 out_file_offset, out_interface, out_index: int,
                 out_limit: int) -> tuple[int, int, int]:
    """Pure-Python twin of the C ``frame_pcapng``: walk EPBs and SPBs, stop at other blocks."""
    u32, _ = _unpackers(swapped)
    view = memoryview(buf).cast("B")
    table = np.frombuffer(interfaces, dtype=np.int64).reshape(-1, IFACE_FIELDS).tolist()
    resolutions = [TsResolution(base, exponent) for _, _, base, exponent, _ in table]
    pos, row = start, out_index
    while True:
        if row >= out_limit:
            status = STATUS_OUTPUT_FULL
            break
        if end - pos < 8:
            status = STATUS_NEED_DATA
            break
        block_type = u32.unpack_from(view, pos)[0]
        if block_type not in (EPB_TYPE, SPB_TYPE):
            status = STATUS_OTHER_BLOCK
            break
        length = u32.unpack_from(view, pos + 4)[0]
        min_length = EPB_MIN_LENGTH if block_type == EPB_TYPE else SPB_MIN_LENGTH
        if length % 4:
            status = STATUS_BLOCK_NOT_ALIGNED
            break
        if length < min_length:
            status = STATUS_BLOCK_TOO_SHORT
            break
        if length > max_block:
            status = STATUS_BLOCK_TOO_BIG
            break
        if end - pos < length:
            status = STATUS_NEED_DATA
            break
        if block_type == EPB_TYPE:
            if_id = u32.unpack_from(view, pos + 8)[0]
            if if_id >= len(table):
                status = STATUS_UNKNOWN_INTERFACE
                break
            ts_high, ts_low, caplen, wirelen = struct.unpack_from(
                u32.format[0] + "IIII", view, pos + 12)
            if caplen > max_caplen:
                status = STATUS_CAPLEN_TOO_BIG
                break
            if caplen > length - EPB_MIN_LENGTH:
                status = STATUS_CAPLEN_PAST_BLOCK
                break
            options_start = pos + 28 + ((caplen + 3) & ~3)
            status, _ = check_options(view, options_start, pos + length - 4, swapped)
            if status:
                break
            index, _, _, _, offset_s = table[if_id]
            ts_ns = ticks_to_ns((ts_high << 32) | ts_low, resolutions[if_id], offset_s)
            data_start = pos + 28
        else:
            if not table:
                status = STATUS_UNKNOWN_INTERFACE
                break
            index, snaplen = table[0][0], table[0][1]
            wirelen = u32.unpack_from(view, pos + 8)[0]
            caplen = wirelen
            if snaplen > 0:
                caplen = min(caplen, snaplen)
            caplen = min(caplen, length - SPB_MIN_LENGTH)
            if caplen > max_caplen:
                status = STATUS_CAPLEN_TOO_BIG
                break
            ts_ns = NO_TIMESTAMP  # an SPB carries no timestamp
            data_start = pos + 12
        # Checked after the options, as Wireshark does, so the message names the first fault.
        if u32.unpack_from(view, pos + length - 4)[0] != length:
            status = STATUS_TRAILER_MISMATCH
            break
        out_offset[row] = data_start
        out_caplen[row] = caplen
        out_wirelen[row] = wirelen
        out_ts_ns[row] = ts_ns
        out_file_offset[row] = file_base + pos
        out_interface[row] = index
        row += 1
        pos += length
    return row - out_index, pos, status


def _load_c_framer() -> ModuleType | None:
    try:
        from . import _framing
    except ImportError:
        return None
    return _framing


C_FRAMER: ModuleType | None = _load_c_framer()


class _PythonFramer:
    """Namespace exposing the pure-Python twins under the C module's names."""

    frame_pcap = staticmethod(frame_pcap)
    frame_pcapng = staticmethod(frame_pcapng)


PYTHON_FRAMER = _PythonFramer()
FRAMER = C_FRAMER if C_FRAMER is not None else PYTHON_FRAMER
