"""IPv4 and IPv6 headers, with IPv6 extension headers walked to the upper layer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pcapkit.decode.buffers import V4_MAPPED
from pcapkit.decode.bytes import Header, PacketBytes, isin_small
from pcapkit.decode.errors import ERR_EXT_CUT, ERR_IHL, ERR_IP_CUT, ERR_VERSION

# IPv6 extension headers that share the (next header, length in 8-octet units) layout.
IPV6_GENERIC_EXT = (0, 43, 60, 135, 139, 140)  # hop-by-hop, routing, dest opts, MIPv6, HIP, shim6
IPV6_FRAGMENT, IPV6_AH = 44, 51
IPV4_HEADER, IPV6_HEADER = 20, 40

ERR_NONE = 0


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
    udp_ports: tuple | None = None  # memo of l4.udp_ports(): the same for UDP rows only


def parse_ip(pb: PacketBytes, rows: np.ndarray, pos: np.ndarray, wire_end: np.ndarray,
             expected_version: np.ndarray) -> IPLayer:
    """Parse the IP header at ``pos`` of each row.

    ``wire_end`` is the position just past the packet on the wire, used when a
    length field is 0 (TSO/GSO captures, jumbograms). ``expected_version`` is
    4 or 6 as the link layer announced; a mismatch is a decode error.
    """
    n = len(rows)
    # The IPv4 fixed header in one gather; its first byte tells IPv4 from IPv6.
    head = pb.header(rows, pos, IPV4_HEADER)
    first, ok_first = head.u8(0)
    version = first >> 4
    error = np.where(ok_first & (version != expected_version), ERR_VERSION, ERR_NONE).astype(np.uint8)
    error[~ok_first] = ERR_IP_CUT
    is_v4 = (version == 4) & (error == ERR_NONE)
    v4 = np.flatnonzero(is_v4)
    if len(v4) == n:  # every row IPv4 (the usual case): its fields are the layer's
        return IPLayer(rows=rows, version=version, is_v4=is_v4,
                       **_ipv4(pb, rows, pos, wire_end, head))
    layer = IPLayer(
        rows=rows, ok=np.zeros(n, bool), version=version,
        src_hi=np.zeros(n, np.uint64), src_lo=np.zeros(n, np.uint64),
        dst_hi=np.zeros(n, np.uint64), dst_lo=np.zeros(n, np.uint64),
        proto=np.zeros(n, np.uint8), proto_ok=np.zeros(n, bool), ttl=np.zeros(n, np.uint8),
        ttl_ok=np.zeros(n, bool),
        ip_id=np.zeros(n, np.uint32), has_id=np.zeros(n, bool), ip_len=np.zeros(n, np.int64),
        frag_offset=np.zeros(n, np.int64), more_fragments=np.zeros(n, bool),
        has_frag=np.zeros(n, bool), dont_fragment=np.zeros(n, bool),
        is_v4=is_v4,
        l4=np.zeros(n, np.int64), l4_end=np.zeros(n, np.int64), l4_ok=np.zeros(n, bool),
        error=error)
    v6 = np.flatnonzero((version == 6) & (error == ERR_NONE))
    if len(v4):
        r = rows[v4]
        fields = _ipv4(pb, r, pos[v4], wire_end[v4], pb.header(r, pos[v4], IPV4_HEADER))
        for name, values in fields.items():
            getattr(layer, name)[v4] = values
    if len(v6):
        _ipv6(pb, layer, v6, pos[v6], wire_end[v6])
    return layer


def _ipv4(pb: PacketBytes, rows: np.ndarray, pos: np.ndarray, wire_end: np.ndarray,
          head: Header) -> dict[str, np.ndarray]:
    """The IPLayer fields of IPv4 rows (``head``: their first 20 bytes). Several
    boolean fields may share one array: callers only read them."""
    # Three fields cover the fixed header (each cut from the one gather costs
    # about the same whatever its width): 8 + 8 + 4 bytes, split afterwards.
    first8, _ = head.u64(0)       # version/IHL, TOS, total length | id, flags + offset
    middle, _ = head.u64(8)       # TTL, protocol, checksum | source
    dst, ok = head.u32(16)
    word0, word1 = first8 >> np.uint64(32), first8 & np.uint64(0xFFFF_FFFF)
    word2, src = middle >> np.uint64(32), middle & np.uint64(0xFFFF_FFFF)
    ihl = ((word0 >> 24) & 0x0F).astype(np.int64) * 4
    total = (word0 & 0xFFFF).astype(np.int64)
    frag = word1 & 0xFFFF
    bad_ihl = ok & (ihl < 20)
    error = np.where(~ok, ERR_IP_CUT, np.where(bad_ihl, ERR_IHL, ERR_NONE)).astype(np.uint8)
    good = ok & ~bad_ihl
    ip_id, has_id = (word1 >> 16).astype(np.uint32), good
    ttl, ttl_ok = (word2 >> 24).astype(np.uint8), good
    if not ok.all():
        # A header cut short may still hold its identification and TTL (Wireshark
        # shows them too); a bogus header length makes every field meaningless.
        cut = np.flatnonzero(~ok)
        r, p = rows[cut], pos[cut]
        first, _ = pb.u8(r, p)
        sane = (first & 0x0F) >= 5
        ident, ok_ident = pb.u16(r, p + 4)
        cut_ttl, ok_ttl = pb.u8(r, p + 8)
        has_id, ttl_ok = has_id.copy(), ttl_ok.copy()
        ip_id[cut], has_id[cut] = ident, ok_ident & sane
        ttl[cut], ttl_ok[cut] = cut_ttl, ok_ttl & sane
    # A total length of 0 is what TSO/GSO captures show on the sending host.
    ip_len = np.where(total == 0, wire_end - pos, total)
    offset = (frag & 0x1FFF).astype(np.int64) * 8
    n = len(rows)
    return dict(
        ok=good, src_hi=np.zeros(n, np.uint64), src_lo=src | V4_MAPPED,
        dst_hi=np.zeros(n, np.uint64), dst_lo=dst.astype(np.uint64) | V4_MAPPED,
        proto=((word2 >> 16) & 0xFF).astype(np.uint8), proto_ok=good, ttl=ttl, ttl_ok=ttl_ok,
        ip_id=ip_id, has_id=has_id, ip_len=ip_len, frag_offset=offset,
        more_fragments=(frag & 0x2000) != 0, has_frag=good, dont_fragment=(frag & 0x4000) != 0,
        l4=pos + ihl, l4_end=pos + ip_len, l4_ok=good & (offset == 0), error=error)


def _ipv6(pb: PacketBytes, L: IPLayer, i: np.ndarray, pos: np.ndarray, wire_end: np.ndarray) -> None:
    rows = L.rows[i]
    head = pb.header(rows, pos, IPV6_HEADER)
    word1, ok_word1 = head.u32(4)    # payload length, next header, hop limit
    plen, nxt, hlim = word1 >> 16, ((word1 >> 8) & 0xFF).astype(np.uint8), word1 & 0xFF
    src_hi, _ = head.u64(8)
    src_lo, _ = head.u64(16)
    dst_hi, _ = head.u64(24)
    dst_lo, ok = head.u64(32)
    L.error[i] = np.where(ok, ERR_NONE, ERR_IP_CUT)
    L.ok[i] = ok
    L.src_hi[i], L.src_lo[i], L.dst_hi[i], L.dst_lo[i] = src_hi, src_lo, dst_hi, dst_lo
    L.ttl[i], L.ttl_ok[i] = hlim, ok_word1
    plen = plen.astype(np.int64)
    L.ip_len[i] = np.where(plen == 0, wire_end - pos, plen + 40)
    L.l4_end[i] = pos + L.ip_len[i]
    # Walk extension headers for the rows that have them, to the end of the chain
    # as Wireshark does: each step advances at least 8 captured bytes, so the
    # packet bounds the walk.
    proto = nxt.copy()
    l4 = pos + 40
    proto_ok = ok.copy()
    l4_ok = ok.copy()
    while True:
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
