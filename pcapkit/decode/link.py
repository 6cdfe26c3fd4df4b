"""Link layers: find the network header and its EtherType in every packet.

Handles Ethernet with 802.1Q/802.1ad tags, Linux cooked captures (SLL, and SLL2
which ``tcpdump -i any`` writes), raw IP and BSD loopback. Tunnel payloads that
are Ethernet frames reuse :func:`ethernet`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pcapkit.decode.bytes import PacketBytes, isin_small

ETHERTYPE_IPV4, ETHERTYPE_IPV6 = 0x0800, 0x86DD
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
ETHERNET_HEADER = 14
MIN_ETHERTYPE = 0x0600
MAX_VLAN_TAGS = 4

LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_LOOP = 0, 1, 108
LINKTYPE_SLL, LINKTYPE_SLL2 = 113, 276
LINKTYPE_RAW_ANY = (101, 12, 14)   # version nibble decides
LINKTYPE_IPV4, LINKTYPE_IPV6 = 228, 229
#: BSD address families that mean IPv6 (Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30)
AF_INET6_VALUES = (10, 24, 28, 30)
AF_INET = 2

PKT_TYPES = {0: "host", 1: "broadcast", 2: "multicast", 3: "otherhost", 4: "outgoing"}


@dataclass
class EthernetResult:
    ethertype: np.ndarray   # int32, -1 when the header is cut short
    next_pos: np.ndarray    # int64
    vlan: np.ndarray        # uint16, outermost tag
    has_vlan: np.ndarray    # bool
    src_mac: np.ndarray     # uint64
    dst_mac: np.ndarray     # uint64
    mac_ok: np.ndarray      # bool


def vlan_walk(pb: PacketBytes, rows: np.ndarray, ethertype: np.ndarray, pos: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Skip 802.1Q/802.1ad tags; return the payload EtherType, position and outer tag."""
    vlan = np.zeros(len(rows), np.uint16)
    has_vlan = np.zeros(len(rows), bool)
    ethertype = ethertype.copy()
    pos = pos.copy()
    for _ in range(MAX_VLAN_TAGS):
        tagged = np.flatnonzero(isin_small(ethertype, VLAN_TPIDS))
        if not len(tagged):
            break
        tag = pb.header(rows[tagged], pos[tagged], 4)
        tci, ok_tci = tag.u16(0)
        inner, ok_inner = tag.u16(2)
        first = ~has_vlan[tagged] & ok_tci
        vlan[tagged[first]] = tci[first] & 0x0FFF
        has_vlan[tagged[first]] = True
        ethertype[tagged] = np.where(ok_inner, inner.astype(np.int32), -1)
        pos[tagged] += 4
    # Below 0x0600 the field is an 802.3 length (an LLC frame follows) or, in SLL,
    # a Linux protocol number: not an EtherType.
    ethertype[ethertype < MIN_ETHERTYPE] = -1
    return ethertype, pos, vlan, has_vlan


def ethernet(pb: PacketBytes, rows: np.ndarray, pos: np.ndarray,
             macs: bool = True) -> EthernetResult:
    """Parse an Ethernet II header (and VLAN tags) at ``pos``; addresses only if ``macs``."""
    if macs:  # the whole header in one gather; two 8-byte fields cut out of it hold
        # the destination (bytes 0-5) and the source with the EtherType (bytes 6-13)
        header = pb.header(rows, pos, ETHERNET_HEADER)
        first, ok_first = header.u64(0)
        second, ok_type = header.u64(6)
        etype = second & np.uint64(0xFFFF)
    else:
        etype, ok_type = pb.u16(rows, pos + 12)
    ethertype = np.where(ok_type, etype.astype(np.int32), -1)
    ethertype, next_pos, vlan, has_vlan = vlan_walk(pb, rows, ethertype, pos + ETHERNET_HEADER)
    if not macs:
        none = np.zeros(len(rows), np.uint64)
        return EthernetResult(ethertype, next_pos, vlan, has_vlan, none, none,
                              np.zeros(len(rows), bool))
    shift = np.uint64(16)
    return EthernetResult(ethertype, next_pos, vlan, has_vlan, second >> shift,
                          first >> shift, ok_first & ok_type)


@dataclass
class LinkResult:
    """Per packet: where the network header starts and what it is."""

    ethertype: np.ndarray   # int32; -1 unknown / not present
    l3_pos: np.ndarray      # int64
    vlan: np.ndarray
    has_vlan: np.ndarray
    if_index: np.ndarray    # uint32 (SLL2)
    has_if_index: np.ndarray
    pkt_type: np.ndarray    # int64 code (SLL/SLL2), -1 when absent
    eth_src: np.ndarray     # uint64, the capture link's Ethernet source MAC
    eth_dst: np.ndarray     # uint64, its destination MAC
    has_eth: np.ndarray     # bool: the link is Ethernet and its addresses were captured


def _version_ethertype(pb: PacketBytes, rows: np.ndarray, pos: np.ndarray) -> np.ndarray:
    first, ok = pb.u8(rows, pos)
    version = first >> 4
    out = np.full(len(rows), -1, np.int32)
    out[ok & (version == 4)] = ETHERTYPE_IPV4
    out[ok & (version == 6)] = ETHERTYPE_IPV6
    return out


def _family_ethertype(family: np.ndarray, ok: np.ndarray) -> np.ndarray:
    out = np.full(len(family), -1, np.int32)
    out[ok & (family == AF_INET)] = ETHERTYPE_IPV4
    out[ok & isin_small(family, AF_INET6_VALUES)] = ETHERTYPE_IPV6
    return out


def link_layer(pb: PacketBytes, linktype: np.ndarray) -> LinkResult:
    """Decode the capture link layer of every packet in the batch."""
    n = len(linktype)
    res = LinkResult(ethertype=np.full(n, -1, np.int32), l3_pos=np.zeros(n, np.int64),
                     vlan=np.zeros(n, np.uint16), has_vlan=np.zeros(n, bool),
                     if_index=np.zeros(n, np.uint32), has_if_index=np.zeros(n, bool),
                     pkt_type=np.full(n, -1, np.int64), eth_src=np.zeros(n, np.uint64),
                     eth_dst=np.zeros(n, np.uint64), has_eth=np.zeros(n, bool))
    # (link type, its rows, where their results go: a slice when they are all rows)
    groups: list[tuple[int, np.ndarray, np.ndarray | slice]] = []
    if n and (linktype == linktype[0]).all():  # one link type (always, for pcap files)
        groups.append((int(linktype[0]), pb.every, slice(None)))
    else:
        for lt in np.unique(linktype):
            rows = np.flatnonzero(linktype == lt)
            groups.append((int(lt), rows, rows))
    for lt, rows, target in groups:
        zero = np.zeros(len(rows), np.int64)
        if lt == LINKTYPE_ETHERNET:
            eth = ethernet(pb, rows, zero)
            ethertype, pos, vlan, has_vlan = eth.ethertype, eth.next_pos, eth.vlan, eth.has_vlan
            res.eth_src[target], res.eth_dst[target] = eth.src_mac, eth.dst_mac
            res.has_eth[target] = eth.mac_ok
        elif lt in (LINKTYPE_SLL, LINKTYPE_SLL2):
            if lt == LINKTYPE_SLL:
                header = pb.header(rows, zero, 16)
                ptype, ok_ptype = header.u16(0)
                proto, ok_proto = header.u16(14)
                size = 16
            else:
                header = pb.header(rows, zero, 20)
                proto, ok_proto = header.u16(0)
                ifindex, ok_if = header.u32(4)
                res.if_index[target], res.has_if_index[target] = ifindex, ok_if
                ptype, ok_ptype = header.u8(10)
                size = 20
            res.pkt_type[target] = np.where(ok_ptype, ptype.astype(np.int64), -1)
            ethertype = np.where(ok_proto, proto.astype(np.int32), -1)
            ethertype, pos, vlan, has_vlan = vlan_walk(pb, rows, ethertype, zero + size)
        elif lt in LINKTYPE_RAW_ANY or lt in (LINKTYPE_IPV4, LINKTYPE_IPV6):
            ethertype = _version_ethertype(pb, rows, zero)
            if lt == LINKTYPE_IPV4:
                ethertype[ethertype == ETHERTYPE_IPV6] = -1
            elif lt == LINKTYPE_IPV6:
                ethertype[ethertype == ETHERTYPE_IPV4] = -1
            pos, vlan, has_vlan = zero, np.zeros(len(rows), np.uint16), np.zeros(len(rows), bool)
        elif lt in (LINKTYPE_NULL, LINKTYPE_LOOP):
            family, ok = pb.u32(rows, zero)
            if lt == LINKTYPE_NULL:  # host byte order of the writer: accept either
                swapped = family.byteswap()
                family = np.where(family > 0xFFFF, swapped, family)
            ethertype = _family_ethertype(family, ok)
            pos, vlan, has_vlan = zero + 4, np.zeros(len(rows), np.uint16), np.zeros(len(rows), bool)
        else:
            continue
        res.ethertype[target], res.l3_pos[target] = ethertype, pos
        res.vlan[target], res.has_vlan[target] = vlan, has_vlan
    return res
