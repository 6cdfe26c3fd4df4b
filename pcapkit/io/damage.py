"""Words for damage: turn a framing status code into a message for humans.

The framers (C and Python) and the pcapng block parser only return codes, so
every message is written here, once, from the bytes of the damaged record.
"""

from __future__ import annotations

import struct
import sys

from . import framing as f
from .pcapng import (
    PB_TYPE,
    SHB_TYPE,
    STATUS_BAD_BYTE_ORDER,
    STATUS_BAD_VERSION,
    block_name,
)


def _u32(view, pos: int, order: str) -> int:
    return struct.unpack_from(order + "I", view, pos)[0]


def pcap_damage(status: int, view, pos: int, order: str) -> str:
    """Message for a damaged classic pcap record at ``pos``."""
    if status == f.STATUS_CAPLEN_TOO_BIG:
        caplen = _u32(view, pos + 8, order)
        return (f"packet record claims {caplen} captured bytes, more than the "
                f"{f.MAX_CAPLEN} maximum")
    return f"damaged packet record (framing status {status})"


def pcap_truncation(view, pos: int, end: int, order: str) -> str:
    """Message for a file that ends inside the record at ``pos``."""
    have = end - pos
    if have < f.PCAP_RECORD_HEADER:
        return (f"file ends in the middle of a packet record header ({have} of "
                f"{f.PCAP_RECORD_HEADER} bytes)")
    need = f.PCAP_RECORD_HEADER + _u32(view, pos + 8, order)
    return f"file ends in the middle of a packet record ({have} of {need} bytes)"


def _block_order(view, pos: int, end: int, order: str) -> str:
    """The byte order a block's own fields use (an SHB carries its own)."""
    if end - pos >= 12 and _u32(view, pos, order) == SHB_TYPE:
        magic = view[pos + 8:pos + 12].tobytes()
        if magic == b"\x1a\x2b\x3c\x4d":
            return ">"
        if magic == b"\x4d\x3c\x2b\x1a":
            return "<"
    return order


def pcapng_truncation(view, pos: int, end: int, order: str) -> str:
    """Message for a file that ends inside the block at ``pos``."""
    have = end - pos
    if have < 8:
        return f"file ends in the middle of a block header ({have} of 8 bytes)"
    block_type = _u32(view, pos, order)
    if block_type == SHB_TYPE and have < 12:
        return f"file ends in the middle of a section header block ({have} of 12+ bytes)"
    length = _u32(view, pos + 4, _block_order(view, pos, end, order))
    return (f"file ends in the middle of a {block_name(block_type)} block "
            f"({have} of {length} bytes)")


def _option_message(status: int, view, option_pos: int, stop: int, order: str,
                    name: str) -> str:
    left = stop - option_pos
    if status == f.STATUS_OPTION_HEADER_CUT:
        return f"{name} block ends in the middle of an option header ({left} of 4 bytes)"
    code, length = struct.unpack_from(order + "HH", view, option_pos)
    return (f"{name} block option {code} claims {length} bytes, more than the "
            f"{left - 4} left in the block")


def pcapng_damage(status: int, detail: int, view, pos: int, end: int, order: str,
                  section_number: int, interface_count: int) -> str:
    """Message for a damaged pcapng block at ``pos`` (all of its bytes need not be present).

    ``detail`` is the position of the bad option when the block parser knows
    it (0 otherwise); ``interface_count`` is how many IDBs the current section has.
    """
    block_type = _u32(view, pos, order)
    name = block_name(block_type)
    if status == STATUS_BAD_BYTE_ORDER:
        return (f"section header block has an unknown byte-order magic "
                f"{view[pos + 8:pos + 12].tobytes().hex()}")
    order = _block_order(view, pos, end, order)
    length = _u32(view, pos + 4, order)
    if status == STATUS_BAD_VERSION:
        major, minor = struct.unpack_from(order + "HH", view, pos + 12)
        return (f"unsupported pcapng section header version {major}.{minor} "
                f"(only 1.x is readable)")
    if status == f.STATUS_BLOCK_NOT_ALIGNED:
        return f"{name} block length {length} is not a multiple of 4"
    if status == f.STATUS_BLOCK_TOO_SHORT:
        return f"{name} block length {length} is too short for such a block"
    if status == f.STATUS_BLOCK_TOO_BIG:
        return f"{name} block claims {length} bytes, more than the {f.MAX_BLOCK} maximum"
    if status == f.STATUS_TRAILER_MISMATCH:
        trailer = _u32(view, pos + length - 4, order)
        return f"{name} block length {length} does not match its trailing length {trailer}"
    if status == f.STATUS_UNKNOWN_INTERFACE:
        if block_type == PB_TYPE:
            if_id = struct.unpack_from(order + "H", view, pos + 8)[0]
        elif block_type == f.SPB_TYPE:
            if_id = 0
        else:
            if_id = _u32(view, pos + 8, order)
        return (f"{name} block refers to interface {if_id}, but section {section_number} "
                f"has defined only {interface_count} interface(s)")
    if status == f.STATUS_CAPLEN_TOO_BIG:
        caplen = _packet_caplen(view, pos, block_type, length, order)
        return f"{name} block claims {caplen} captured bytes, more than the {f.MAX_CAPLEN} maximum"
    if status == f.STATUS_CAPLEN_PAST_BLOCK:
        caplen = _u32(view, pos + 20, order)
        return (f"{name} block claims {caplen} captured bytes but has room for only "
                f"{length - f.EPB_MIN_LENGTH}")
    if status in (f.STATUS_OPTION_TOO_LONG, f.STATUS_OPTION_HEADER_CUT):
        stop = pos + length - 4
        if not detail:  # from the framer: the options of an enhanced packet block
            caplen = _u32(view, pos + 20, order)
            _, detail = f.check_options(view, pos + 28 + ((caplen + 3) & ~3), stop,
                                        order != _native())
        return _option_message(status, view, detail, stop, order, name)
    return f"damaged {name} block (framing status {status})"


def _packet_caplen(view, pos: int, block_type: int, length: int, order: str) -> int:
    if block_type == f.SPB_TYPE:
        return min(_u32(view, pos + 8, order), length - f.SPB_MIN_LENGTH)
    return _u32(view, pos + 20, order)


def _native() -> str:
    return "<" if sys.byteorder == "little" else ">"
