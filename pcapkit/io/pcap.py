"""Classic pcap: the 24-byte file header.

The records that follow are framed by :mod:`pcapkit.io.framing`.  Readable:
version 2.x, either byte order, microsecond (magic a1b2c3d4) or nanosecond
(a1b23c4d) timestamps.  The link type keeps only its low 16 bits, as libpcap
does (the upper bits may carry FCS-length information).
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass

from .records import Interface

FILE_HEADER_LENGTH = 24
MICROSECOND_MAGIC = 0xA1B2C3D4
NANOSECOND_MAGIC = 0xA1B23C4D
LINKTYPE_MASK = 0x0000FFFF

# The four ways a pcap file can start (both magics in both byte orders).
MAGIC_PREFIXES = frozenset(
    struct.pack(order + "I", magic)
    for order in "<>"
    for magic in (MICROSECOND_MAGIC, NANOSECOND_MAGIC)
)


class PcapHeaderError(ValueError):
    """The file header cannot be read; the message is for humans."""


@dataclass(frozen=True)
class PcapHeader:
    """What the file header tells the record framer."""

    byte_order: str        # "<" or ">"
    nanosecond: bool
    version: tuple[int, int]
    snaplen: int
    linktype: int

    @property
    def swapped(self) -> bool:
        """True when the file's byte order differs from this machine's."""
        return (self.byte_order == "<") != (sys.byteorder == "little")

    def interface(self) -> Interface:
        """The single capture interface a pcap file has."""
        return Interface(index=0, linktype=self.linktype, snaplen=self.snaplen,
                         tsresol="ns" if self.nanosecond else "us")


def is_pcap_magic(prefix: bytes) -> bool:
    """True if ``prefix`` (the first 4 bytes of a file) is a classic pcap magic."""
    return bytes(prefix[:4]) in MAGIC_PREFIXES


def parse_header(header: bytes) -> PcapHeader:
    """Parse the 24-byte pcap file header; raise PcapHeaderError for an unreadable one."""
    if len(header) < FILE_HEADER_LENGTH:
        raise PcapHeaderError(
            f"file ends inside the pcap file header ({len(header)} of "
            f"{FILE_HEADER_LENGTH} bytes)")
    for order in "<>":
        magic = struct.unpack_from(order + "I", header)[0]
        if magic in (MICROSECOND_MAGIC, NANOSECOND_MAGIC):
            break
    else:
        raise PcapHeaderError(f"not a pcap file (magic {header[:4].hex()})")
    major, minor, _thiszone, _sigfigs, snaplen, linktype = struct.unpack_from(
        order + "HHiIII", header, 4)
    if major != 2:
        raise PcapHeaderError(f"pcap major version {major} unsupported (only 2.x is readable)")
    return PcapHeader(byte_order=order, nanosecond=magic == NANOSECOND_MAGIC,
                      version=(major, minor), snaplen=snaplen,
                      linktype=linktype & LINKTYPE_MASK)
