"""Byte-level builders for the template frames of the benchmark capture.

A template is one complete Ethernet frame built once with ``struct``; the
generator later copies it many times and overwrites ("stamps") the fields that
vary per packet.  So every builder here records *where* each variable field
lives in the frame, and which IPv4 headers / TCP-UDP segments need their
checksum recomputed after stamping.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_TEB = 0x6558          # transparent Ethernet bridging (Geneve payload)
IPPROTO_IPIP = 4
IPPROTO_TCP = 6
IPPROTO_UDP = 17

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10
ETHERNET_MIN_FRAME = 60          # without FCS; shorter frames get zero padding


@dataclass(frozen=True)
class StampedField:
    """A big-endian field the generator overwrites in every copy of a template."""

    name: str        # key of the per-packet value array (see capture_plan.FIELDS)
    offset: int      # byte offset inside the frame
    width: int       # bytes: 2, 3 or 4


@dataclass(frozen=True)
class SegmentChecksum:
    """A TCP or UDP checksum to recompute after stamping.

    Only the first ``variable_len`` bytes of the segment can change between
    copies; the ones' complement sum of the rest is computed once per template.
    """

    ip_offset: int
    l4_offset: int
    proto: int
    variable_len: int


@dataclass
class Frame:
    """A finished template frame plus the map of what to stamp in it."""

    data: bytes
    fields: list[StampedField]
    ipv4_headers: list[int]            # offsets of IPv4 headers whose checksum is recomputed
    segments: list[SegmentChecksum]
    payload_len: int                   # application bytes (TCP sequence space used)
    tcp_flags: int | None              # flags of the innermost TCP header, None without TCP


@dataclass
class FrameBuilder:
    """Appends protocol headers outside-in and patches length fields at the end."""

    buf: bytearray = field(default_factory=bytearray)
    fields: list[StampedField] = field(default_factory=list)
    ipv4_headers: list[int] = field(default_factory=list)
    segments: list[SegmentChecksum] = field(default_factory=list)
    _length_patches: list[tuple[int, int]] = field(default_factory=list)  # (offset, region start)
    _last_ip: int = -1
    _payload_len: int = 0
    _tcp_flags: int | None = None

    def stamp(self, name: str, rel_offset: int, width: int) -> None:
        """Mark a field of the header that is about to be appended as variable."""
        self.fields.append(StampedField(name, len(self.buf) + rel_offset, width))

    def ethernet(self, dst: bytes, src: bytes, ethertype: int = ETHERTYPE_IPV4) -> FrameBuilder:
        self.buf += dst + src + struct.pack("!H", ethertype)
        return self

    def ipv4(self, proto: int, *, ttl: int, dont_fragment: bool, prefix: str) -> FrameBuilder:
        """IPv4 header; ``prefix`` names its stamped fields (``src``/``tun_src`` ...)."""
        start = len(self.buf)
        self.stamp(f"{prefix}id", 4, 2)
        self.stamp(f"{prefix}src", 12, 4)
        self.stamp(f"{prefix}dst", 16, 4)
        flags = 0x4000 if dont_fragment else 0
        self.buf += struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, flags, ttl, proto, 0,
                                bytes(4), bytes(4))
        self._length_patches.append((start + 2, start))
        self.ipv4_headers.append(start)
        self._last_ip = start
        return self

    def udp(self, *, prefix: str, checksum: bool, variable_len: int = 8) -> FrameBuilder:
        """UDP header; tunnel UDP (VXLAN/Geneve) keeps checksum 0 as Linux sends it.

        ``variable_len`` covers the stamped bytes from the UDP header on (10 for
        DNS, whose transaction id follows the header).
        """
        start = len(self.buf)
        self.stamp(f"{prefix}sport", 0, 2)
        self.stamp(f"{prefix}dport", 2, 2)
        self.buf += struct.pack("!HHHH", 0, 0, 0, 0)
        self._length_patches.append((start + 4, start))
        if checksum:
            self.segments.append(SegmentChecksum(self._last_ip, start, IPPROTO_UDP, variable_len))
        return self

    def tcp(self, flags: int, options: bytes = b"") -> FrameBuilder:
        """TCP header with sequence/ack numbers and ports stamped per packet."""
        if len(options) % 4:
            raise ValueError("TCP options must be padded to a multiple of 4 bytes")
        start = len(self.buf)
        header_len = 20 + len(options)
        self.stamp("sport", 0, 2)
        self.stamp("dport", 2, 2)
        self.stamp("seq", 4, 4)
        self.stamp("ack", 8, 4)
        self._tcp_flags = flags
        window = 0xFAF0 if flags & TCP_SYN else 0x01F5
        self.buf += struct.pack("!HHIIBBHHH", 0, 0, 0, 0, (header_len // 4) << 4, flags,
                                window, 0, 0) + options
        self.segments.append(SegmentChecksum(self._last_ip, start, IPPROTO_TCP, header_len))
        return self

    def vxlan(self) -> FrameBuilder:
        """VXLAN header (RFC 7348): I flag set, 24-bit VNI stamped."""
        self.stamp("vni", 4, 3)
        self.buf += struct.pack("!BxxxI", 0x08, 0)
        return self

    def geneve(self, options: bytes, *, critical: bool) -> FrameBuilder:
        """Geneve header (RFC 8926) carrying Ethernet, options already TLV-encoded."""
        if len(options) % 4 or len(options) > 252:
            raise ValueError("Geneve options must be a multiple of 4 bytes, at most 252")
        self.stamp("vni", 4, 3)
        first = len(options) // 4                      # version 0, option length in words
        second = 0x40 if critical else 0               # C bit
        self.buf += struct.pack("!BBHI", first, second, ETHERTYPE_TEB, 0) + options
        return self

    def payload(self, data: bytes) -> FrameBuilder:
        """Application bytes after the innermost header."""
        self.buf += data
        self._payload_len += len(data)
        return self

    def stamp_in_payload(self, name: str, rel_offset: int, width: int) -> None:
        """Mark a field inside payload bytes that will be appended next (e.g. DNS id)."""
        self.stamp(name, rel_offset, width)

    def build(self) -> Frame:
        """Patch IP total lengths and UDP lengths, pad to the Ethernet minimum."""
        for offset, region_start in self._length_patches:
            struct.pack_into("!H", self.buf, offset, len(self.buf) - region_start)
        if len(self.buf) < ETHERNET_MIN_FRAME:
            self.buf += bytes(ETHERNET_MIN_FRAME - len(self.buf))
        return Frame(bytes(self.buf), list(self.fields), list(self.ipv4_headers),
                     list(self.segments), self._payload_len, self._tcp_flags)


def tcp_options_established() -> bytes:
    """NOP, NOP, timestamps: the 12 option bytes of a Linux data segment."""
    return struct.pack("!BBBBII", 1, 1, 8, 10, 0x5A3C1D22, 0x1B8E40F1)


def tcp_options_syn() -> bytes:
    """MSS 1410, SACK permitted, timestamps, NOP, window scale 7 (Linux SYN)."""
    return (struct.pack("!BBH", 2, 4, 1410) + bytes([4, 2])
            + struct.pack("!BBII", 8, 10, 0x5A3C1D22, 0) + bytes([1, 3, 3, 7]))


def geneve_option(option_class: int, option_type: int, data: bytes) -> bytes:
    """One Geneve option TLV; ``data`` must be a multiple of 4 bytes."""
    if len(data) % 4 or len(data) > 124:
        raise ValueError("Geneve option data must be a multiple of 4 bytes, at most 124")
    return struct.pack("!HBB", option_class, option_type, len(data) // 4) + data


def dns_name(name: str) -> bytes:
    """Encode a domain name as uncompressed DNS labels."""
    out = bytearray()
    for label in name.rstrip(".").split("."):
        encoded = label.encode("ascii")
        if not 0 < len(encoded) < 64:
            raise ValueError(f"bad DNS label in {name!r}")
        out += bytes([len(encoded)]) + encoded
    return bytes(out + b"\x00")
