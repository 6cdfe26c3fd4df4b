"""pcapng: the blocks the C walker hands back to Python.

The framer (:mod:`pcapkit.io.framing`) walks Enhanced and Simple Packet
Blocks; every other block comes here: Section Header Blocks (a new section,
possibly in the other byte order, with interface ids starting again at 0),
Interface Description Blocks (one capture interface each), the obsolete
Packet Block (type 2, one packet) and any other block, which is checked and
skipped.  Every block must have a sound length (at least 12 and the minimum
for its type, a multiple of 4, no more than MAX_BLOCK, equal to its trailing
copy) and options that fit inside it.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass, field

import numpy as np

from .framing import (
    EPB_MIN_LENGTH,
    MAX_BLOCK,
    MAX_CAPLEN,
    STATUS_BLOCK_NOT_ALIGNED,
    STATUS_BLOCK_TOO_BIG,
    STATUS_BLOCK_TOO_SHORT,
    STATUS_CAPLEN_PAST_BLOCK,
    STATUS_CAPLEN_TOO_BIG,
    STATUS_NEED_DATA,
    STATUS_TRAILER_MISMATCH,
    STATUS_UNKNOWN_INTERFACE,
    check_options,
    interface_table,
)
from .records import Interface
from .timestamps import TsResolution, ticks_to_ns

SHB_TYPE = 0x0A0D0D0A
IDB_TYPE = 1
PB_TYPE = 2
BYTE_ORDER_MAGIC = 0x1A2B3C4D
SHB_MAGIC = b"\x0a\x0d\x0d\x0a"
STATUS_BAD_BYTE_ORDER = 100     # SHB byte-order magic is neither 1a2b3c4d nor 4d3c2b1a
STATUS_BAD_VERSION = 101        # SHB major version is not 1

BLOCK_NAMES = {
    SHB_TYPE: "section header",
    IDB_TYPE: "interface description",
    PB_TYPE: "packet",
    3: "simple packet",
    4: "name resolution",
    5: "interface statistics",
    6: "enhanced packet",
    10: "decryption secrets",
    0x00000BAD: "custom",
    0x40000BAD: "custom",
}
# Non-packet blocks that Wireshark still shows as frames (custom blocks, systemd journal
# entries, sysdig events): they take a frame number, so later packets keep Wireshark's numbers.
NUMBERED_RECORD_TYPES = frozenset({0x00000BAD, 0x40000BAD, 0x00000009, 0x204, 0x216, 0x221})
MIN_LENGTHS = {SHB_TYPE: 28, IDB_TYPE: 20, PB_TYPE: 32, 3: 16, 6: EPB_MIN_LENGTH}

OPT_COMMENT = 1
IF_NAME = 2
IF_DESCRIPTION = 3
IF_TSRESOL = 9
IF_TSOFFSET = 14


def block_name(block_type: int) -> str:
    """Human name of a block type, e.g. "interface description" or "type 0x00000123"."""
    return BLOCK_NAMES.get(block_type, f"type 0x{block_type:08x}")


def is_pcapng_magic(prefix: bytes) -> bool:
    """True if ``prefix`` (the first 4 bytes of a file) starts a pcapng Section Header Block."""
    return bytes(prefix[:4]) == SHB_MAGIC


class BlockDamage(Exception):
    """A damaged block; ``status`` is a framing STATUS_* code (or a local one)."""

    def __init__(self, status: int, detail: int = 0) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail


@dataclass
class Section:
    """One pcapng section: byte order and the interfaces its IDBs defined so far."""

    number: int
    byte_order: str
    version: tuple[int, int]
    interfaces: list[tuple[Interface, TsResolution, int]] = field(default_factory=list)
    table: np.ndarray = field(default_factory=lambda: interface_table([]))

    @property
    def swapped(self) -> bool:
        """True when the section's byte order differs from this machine's."""
        return (self.byte_order == "<") != (sys.byteorder == "little")

    def add_interface(self, interface: Interface, resolution: TsResolution,
                      offset_s: int) -> None:
        self.interfaces.append((interface, resolution, offset_s))
        self.table = interface_table([
            (iface.index, iface.snaplen, res, off) for iface, res, off in self.interfaces])


@dataclass(frozen=True)
class BlockHeader:
    """A block whose bytes are all in the buffer and whose lengths agree."""

    type: int
    length: int
    byte_order: str


def _shb_byte_order(view, pos: int) -> str | None:
    magic = view[pos + 8:pos + 12].tobytes()
    if magic == struct.pack("<I", BYTE_ORDER_MAGIC):
        return "<"
    if magic == struct.pack(">I", BYTE_ORDER_MAGIC):
        return ">"
    return None


def needed_bytes(view, pos: int, end: int, byte_order: str) -> int:
    """How many bytes from ``pos`` the block there needs (as far as can be told yet)."""
    if end - pos < 8:
        return 8
    block_type = struct.unpack_from(byte_order + "I", view, pos)[0]
    if block_type == SHB_TYPE:
        if end - pos < 12:
            return 12
        byte_order = _shb_byte_order(view, pos) or byte_order
    length = struct.unpack_from(byte_order + "I", view, pos + 4)[0]
    return max(length, 12)


def read_block_header(view, pos: int, end: int, byte_order: str) -> BlockHeader:
    """Check the length of the block at ``pos`` (not yet its trailer, see check_trailer);
    raise BlockDamage (STATUS_NEED_DATA when the block is incomplete)."""
    if end - pos < 8:
        raise BlockDamage(STATUS_NEED_DATA)
    block_type = struct.unpack_from(byte_order + "I", view, pos)[0]
    if block_type == SHB_TYPE:
        if end - pos < 12:
            raise BlockDamage(STATUS_NEED_DATA)
        shb_order = _shb_byte_order(view, pos)
        if shb_order is None:
            raise BlockDamage(STATUS_BAD_BYTE_ORDER)
        byte_order = shb_order
    length = struct.unpack_from(byte_order + "I", view, pos + 4)[0]
    if length % 4:
        raise BlockDamage(STATUS_BLOCK_NOT_ALIGNED)
    if length < MIN_LENGTHS.get(block_type, 12):
        raise BlockDamage(STATUS_BLOCK_TOO_SHORT)
    if length > MAX_BLOCK:
        raise BlockDamage(STATUS_BLOCK_TOO_BIG)
    if end - pos < length:
        raise BlockDamage(STATUS_NEED_DATA)
    return BlockHeader(block_type, length, byte_order)


def check_trailer(view, pos: int, header: BlockHeader) -> None:
    """Raise BlockDamage unless the trailing length repeats the leading one.

    Called after a block's options were checked, as Wireshark does, so the
    message names the first fault a reader meets.
    """
    trailer = struct.unpack_from(header.byte_order + "I", view, pos + header.length - 4)[0]
    if trailer != header.length:
        raise BlockDamage(STATUS_TRAILER_MISMATCH)


def parse_options(view, start: int, stop: int, byte_order: str) -> list[tuple[int, bytes]]:
    """Options in ``view[start:stop]`` as (code, value) pairs; BlockDamage if one overruns."""
    status, bad_at = check_options(view, start, stop, byte_order != _native_order())
    if status:
        raise BlockDamage(status, bad_at)
    options = []
    pos = start
    while stop - pos >= 4:
        code, length = struct.unpack_from(byte_order + "HH", view, pos)
        if code == 0:
            break
        options.append((code, view[pos + 4:pos + 4 + length].tobytes()))
        pos += 4 + ((length + 3) & ~3)
    return options


def _native_order() -> str:
    return "<" if sys.byteorder == "little" else ">"


def _text(value: bytes) -> str:
    return value.rstrip(b"\x00").decode("utf-8", errors="replace")


@dataclass(frozen=True)
class PacketRow:
    """One packet from an obsolete Packet Block."""

    offset: int
    caplen: int
    wirelen: int
    ts_ns: int
    interface: int


class PcapngWalker:
    """Sections and interfaces of one pcapng file, updated block by block.

    ``interfaces`` is the file-wide interface list (global index order), the
    same list object the reader exposes.
    """

    def __init__(self, interfaces: list[Interface]) -> None:
        self.interfaces = interfaces
        self.section: Section | None = None
        self._sections = 0

    @property
    def byte_order(self) -> str:
        return self.section.byte_order if self.section else "<"

    def handle(self, view, pos: int, header: BlockHeader) -> PacketRow | None:
        """Apply one non-EPB/SPB block; return the packet of a Packet Block, else None."""
        if header.type == SHB_TYPE:
            self._start_section(view, pos, header)
        elif self.section is None:
            raise BlockDamage(STATUS_BAD_BYTE_ORDER)  # unreachable: files start with an SHB
        elif header.type == IDB_TYPE:
            self._add_interface(view, pos, header)
        elif header.type == PB_TYPE:
            return self._packet_block(view, pos, header)
        else:
            check_trailer(view, pos, header)  # any other block is only checked and skipped
        return None

    def _start_section(self, view, pos: int, header: BlockHeader) -> None:
        order = header.byte_order
        major, minor = struct.unpack_from(order + "HH", view, pos + 12)
        if major != 1:
            raise BlockDamage(STATUS_BAD_VERSION)
        parse_options(view, pos + 24, pos + header.length - 4, order)
        check_trailer(view, pos, header)
        self.section = Section(number=self._sections, byte_order=order, version=(major, minor))
        self._sections += 1

    def _add_interface(self, view, pos: int, header: BlockHeader) -> None:
        section = self.section
        order = section.byte_order
        linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", view, pos + 8)
        options = parse_options(view, pos + 16, pos + header.length - 4, order)
        check_trailer(view, pos, header)
        interface = Interface(index=len(self.interfaces), linktype=linktype, snaplen=snaplen,
                              section=section.number)
        resolution, offset_s = TsResolution(), 0
        for code, value in options:
            if code == IF_NAME and interface.name is None:
                interface.name = _text(value)
            elif code == IF_DESCRIPTION and interface.description is None:
                interface.description = _text(value)
            elif code == OPT_COMMENT and interface.comment is None:
                interface.comment = _text(value)
            elif code == IF_TSRESOL and len(value) >= 1:
                resolution = TsResolution.from_option(value[0])
            elif code == IF_TSOFFSET and len(value) == 8:
                offset_s = struct.unpack(order + "q", value)[0]
        interface.tsresol = resolution.label
        self.interfaces.append(interface)
        section.add_interface(interface, resolution, offset_s)

    def _packet_block(self, view, pos: int, header: BlockHeader) -> PacketRow:
        section = self.section
        order = section.byte_order
        if_id, _drops, ts_high, ts_low, caplen, wirelen = struct.unpack_from(
            order + "HHIIII", view, pos + 8)
        if if_id >= len(section.interfaces):
            raise BlockDamage(STATUS_UNKNOWN_INTERFACE)
        if caplen > MAX_CAPLEN:
            raise BlockDamage(STATUS_CAPLEN_TOO_BIG)
        if caplen > header.length - 32:
            raise BlockDamage(STATUS_CAPLEN_PAST_BLOCK)
        parse_options(view, pos + 28 + ((caplen + 3) & ~3), pos + header.length - 4, order)
        check_trailer(view, pos, header)
        interface, resolution, offset_s = section.interfaces[if_id]
        return PacketRow(offset=pos + 28, caplen=caplen, wirelen=wirelen,
                         ts_ns=ticks_to_ns((ts_high << 32) | ts_low, resolution, offset_s),
                         interface=interface.index)

