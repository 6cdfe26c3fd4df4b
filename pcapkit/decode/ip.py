"""IPv4 and IPv6 headers, with IPv6 extension headers walked to the upper layer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pcapkit.decode.bytes import PacketBytes, isin_small
from pcapkit.decode.columns import V4_MAPPED

# IPv6 extension headers that share the (next header, length in 8-octet units) layout.
IPV6_GENERIC_EXT = (0, 43, 60, 135, 139, 140)  # hop-by-hop, routing, dest opts, MIPv6, HIP, shim6
IPV6_FRAGMENT, IPV6_AH = 44, 51
MAX_IPV6_EXT = 10

ERR_NONE, ERR_VERSION, ERR_IHL, ERR_IP_CUT, ERR_EXT_CUT = 0, 1, 2, 3, 4


@dataclass
class IPLayer:
    """One IP header per row (all arrays aligned with ``rows``)."""

    rows: np.ndarray
    ok: np.ndarray            # the fixed header (and addresses) was read
    version: np.ndarray       # uint8
    src_hi: np.ndarray
    src_lo: np.ndarray
    dst_hi: np.ndarray
    dst_lo: np.ndarray
    proto: np.ndarray         # uint8, upper-layer protocol
    proto_ok: np.ndarray      # upper-layer protocol known (IPv6 ext chain fully read)
    ttl: np.ndarray
    ttl_ok: np.ndarray        # the TTL / hop limit byte was captured (even if the header was cut)
    ip_id: np.ndarray         # uint32
    has_id: np.ndarray        # an identification was captured (IPv4 header or IPv6 fragment header)
    ip_len: np.ndarray        # int64, bytes per the header
    frag_offset: np.ndarray   # int64, bytes
    more_fragments: np.ndarray
    has_frag: np.ndarray      # fragment info is meaningful
    dont_fragment: np.ndarray
    is_v4: np.ndarray
    l4: np.ndarray            # int64, position of the upper-layer header
    l4_end: np.ndarray        # int64, end of the IP payload per the header
    l4_ok: np.ndarray         # an upper-layer header starts at l4 (not a later fragment)
    error: np.ndarray         # uint8 ERR_* code
    ports: tuple | None = None  # memo of l4.ports(): (index, sport, dport, ok)


def parse_ip(pb: PacketBytes, rows: np.ndarray, pos: np.ndarray, wire_end: np.ndarray,
             expected_version: np.ndarray) -> IPLayer:
    """Parse the IP header at ``pos`` of each row.

    ``wire_end`` is the position just past the packet on the wire, used when a
    length field is 0 (TSO/GSO captures, jumbograms). ``expected_version`` is
    4 or 6 as the link layer announced; a mismatch is a decode error.
    """
    n = len(rows)
    first, ok_first = pb.u8(rows, pos)
    version = (first >> 4).astype(np.uint8)
    error = np.where(ok_first & (version != expected_version), ERR_VERSION, ERR_NONE).astype(np.uint8)
    error[~ok_first] = ERR_IP_CUT
    layer = IPLayer(
        rows=rows, ok=np.zeros(n, bool), version=version,
        src_hi=np.zeros(n, np.uint64), src_lo=np.zeros(n, np.uint64),
        dst_hi=np.zeros(n, np.uint64), dst_lo=np.zeros(n, np.uint64),
        proto=np.zeros(n, np.uint8), proto_ok=np.zeros(n, bool), ttl=np.zeros(n, np.uint8),
        ttl_ok=np.zeros(n, bool),
        ip_id=np.zeros(n, np.uint32), has_id=np.zeros(n, bool), ip_len=np.zeros(n, np.int64),
        frag_offset=np.zeros(n, np.int64), more_fragments=np.zeros(n, bool),
        has_frag=np.zeros(n, bool), dont_fragment=np.zeros(n, bool),
        is_v4=(version == 4) & (error == ERR_NONE),
        l4=np.zeros(n, np.int64), l4_end=np.zeros(n, np.int64), l4_ok=np.zeros(n, bool),
        error=error)
    v4 = np.flatnonzero(layer.is_v4)
    v6 = np.flatnonzero((version == 6) & (error == ERR_NONE))
    if len(v4):
        _ipv4(pb, layer, v4, pos[v4], wire_end[v4])
    if len(v6):
        _ipv6(pb, layer, v6, pos[v6], wire_end[v6])
    return layer


def _ipv4(pb: PacketBytes, L: IPLayer, i: np.ndarray, pos: np.ndarray, wire_end: np.ndarray) -> None:
    rows = L.rows[i]
    # Three reads cover the fixed header: each gather costs about the same whatever
    # its width, so the 20 bytes are fetched as 8 + 8 + 4 and split afterwards.
    head, _ = pb.u64(rows, pos)         # version/IHL, TOS, total length | id, flags + offset
    middle, _ = pb.u64(rows, pos + 8)   # TTL, protocol, checksum | source
    dst, ok = pb.u32(rows, pos + 16)
    word0, word1 = head >> np.uint64(32), head & np.uint64(0xFFFF_FFFF)
    word2, src = middle >> np.uint64(32), middle & np.uint64(0xFFFF_FFFF)
    ihl = ((word0 >> 24) & 0x0F).astype(np.int64) * 4
    total = (word0 & 0xFFFF).astype(np.int64)
    frag = word1 & 0xFFFF
    bad_ihl = ok & (ihl < 20)
    L.error[i] = np.where(~ok, ERR_IP_CUT, np.where(bad_ihl, ERR_IHL, ERR_NONE))
    good = ok & ~bad_ihl
    L.ok[i] = good
    L.src_lo[i] = src | V4_MAPPED
    L.dst_lo[i] = dst.astype(np.uint64) | V4_MAPPED
    L.proto[i], L.proto_ok[i], L.ttl[i], L.ttl_ok[i] = (word2 >> 16) & 0xFF, good, word2 >> 24, good
    L.ip_id[i], L.has_id[i] = word1 >> 16, good
    if not ok.all():
        # A header cut short may still hold its identification and TTL (Wireshark
        # shows them too); a bogus header length makes every field meaningless.
        cut = np.flatnonzero(~ok)
        r, p = rows[cut], pos[cut]
        first, _ = pb.u8(r, p)
        sane = (first & 0x0F) >= 5
        ident, ok_ident = pb.u16(r, p + 4)
        ttl, ok_ttl = pb.u8(r, p + 8)
        L.ip_id[i[cut]], L.has_id[i[cut]] = ident, ok_ident & sane
        L.ttl[i[cut]], L.ttl_ok[i[cut]] = ttl, ok_ttl & sane
    # A total length of 0 is what TSO/GSO captures show on the sending host.
    L.ip_len[i] = np.where(total == 0, wire_end - pos, total)
    offset = (frag & 0x1FFF).astype(np.int64) * 8
    L.frag_offset[i], L.more_fragments[i] = offset, (frag & 0x2000) != 0
    L.dont_fragment[i], L.has_frag[i] = (frag & 0x4000) != 0, good
    L.l4[i] = pos + ihl
    L.l4_end[i] = pos + L.ip_len[i]
    L.l4_ok[i] = good & (offset == 0)


def _ipv6(pb: PacketBytes, L: IPLayer, i: np.ndarray, pos: np.ndarray, wire_end: np.ndarray) -> None:
    rows = L.rows[i]
    word1, ok_word1 = pb.u32(rows, pos + 4)    # payload length, next header, hop limit
    plen, nxt, hlim = word1 >> 16, ((word1 >> 8) & 0xFF).astype(np.uint8), word1 & 0xFF
    src_hi, _ = pb.u64(rows, pos + 8)
    src_lo, _ = pb.u64(rows, pos + 16)
    dst_hi, _ = pb.u64(rows, pos + 24)
    dst_lo, ok = pb.u64(rows, pos + 32)
    L.error[i] = np.where(ok, ERR_NONE, ERR_IP_CUT)
    L.ok[i] = ok
    L.src_hi[i], L.src_lo[i], L.dst_hi[i], L.dst_lo[i] = src_hi, src_lo, dst_hi, dst_lo
    L.ttl[i], L.ttl_ok[i] = hlim, ok_word1
    plen = plen.astype(np.int64)
    L.ip_len[i] = np.where(plen == 0, wire_end - pos, plen + 40)
    L.l4_end[i] = pos + L.ip_len[i]
    # Walk extension headers for the rows that have them.
    proto = nxt.copy()
    l4 = pos + 40
    proto_ok = ok.copy()
    l4_ok = ok.copy()
    for _ in range(MAX_IPV6_EXT):
        generic = isin_small(proto, IPV6_GENERIC_EXT)
        walking = np.flatnonzero(l4_ok & (generic | (proto == IPV6_FRAGMENT) | (proto == IPV6_AH)))
        if not len(walking):
            break
        r, p = rows[walking], l4[walking]
        following, ok_next = pb.u8(r, p)
        hdr_len, ok_len = pb.u8(r, p + 1)
        kind = proto[walking]
        size = np.where(kind == IPV6_FRAGMENT, 8,
                        np.where(kind == IPV6_AH, (hdr_len.astype(np.int64) + 2) * 4,
                                 (hdr_len.astype(np.int64) + 1) * 8))
        is_frag = kind == IPV6_FRAGMENT
        frag_field, ok_frag = pb.u16(r, p + 2)
        ident, ok_ident = pb.u32(r, p + 4)
        fragged = walking[is_frag & ok_frag & ok_ident]
        sel = is_frag & ok_frag & ok_ident
        L.frag_offset[i[fragged]] = (frag_field[sel] & 0xFFF8).astype(np.int64)
        L.more_fragments[i[fragged]] = (frag_field[sel] & 1) != 0
        L.has_frag[i[fragged]] = True
        L.ip_id[i[fragged]], L.has_id[i[fragged]] = ident[sel], True
        complete = ok_next & ok_len & (~is_frag | (ok_frag & ok_ident))
        # The whole extension header must be captured before what follows can be trusted.
        complete &= p + size <= pb.caplen[r]
        cut = walking[~complete]
        l4_ok[cut] = False
        proto_ok[cut] = False
        L.error[i[cut]] = ERR_EXT_CUT
        adv = walking[complete]
        proto[adv] = following[complete]
        l4[adv] = p[complete] + size[complete]
        later_fragment = adv[is_frag[complete] & (L.frag_offset[i[adv]] != 0)]
        l4_ok[later_fragment] = False
    L.proto[i], L.proto_ok[i] = proto, proto_ok
    L.l4[i], L.l4_ok[i] = l4, l4_ok
