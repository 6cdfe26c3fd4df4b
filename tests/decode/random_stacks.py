"""Random but valid packet stacks, seeded, for differential tests against tshark.

Each packet is built from the inside out with scapy: an inner IPv4/IPv6 packet
carrying TCP, UDP, SCTP, an ICMP echo or an ICMP error quoting another packet;
then zero to two tunnels (IP-in-IP, GRE, VXLAN, Geneve), each in its own outer
IPv4/IPv6 header; then the capture link layer. Some packets are IPv4 fragments
and some records are cut by a snaplen. Everything is drawn from one
``random.Random``, so a seed names a capture exactly.

What is *not* generated, and why, is said where the choice is made: each such
case is one where Wireshark guesses (heuristics) or where the bytes would not
be a valid packet.
"""

from __future__ import annotations

import ipaddress
import random
import struct
from dataclasses import dataclass
from pathlib import Path

from scapy.contrib.geneve import GENEVE, GeneveOptions
from scapy.layers.inet import (
    GRE,
    ICMP,
    IP,
    TCP,
    UDP,
    IPOption_NOP,
    IPOption_Router_Alert,
    IPOption_RR,
    IPOption_Timestamp,
    fragment,
)
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6PacketTooBig,
    ICMPv6TimeExceeded,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.ipsec import AH
from scapy.layers.l2 import Ether
from scapy.layers.sctp import SCTP, SCTPChunkData, SCTPChunkInit
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet, Raw

LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW = 0, 1, 101
LINKTYPE_SLL, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_SLL2 = 113, 228, 229, 276

#: Ports for TCP/UDP/SCTP endpoints. Random ports would now and then land on a
#: port Wireshark binds to a tunnel or to a protocol that carries IP (GTP-U 2152,
#: Teredo 3544, VXLAN-GPE 4790, L2TP 1701, ...), and tshark would dissect the
#: payload as that: a different packet from the one built. These ports are
#: registered to nothing that carries IP.
SERVICE_PORTS = (22, 80, 443, 5432, 6379, 8080, 8443, 9090, 10250, 30080)
#: Tunnel UDP ports as pcapkit and the oracle's tshark options bind them.
VXLAN_PORTS, GENEVE_PORT = (4789, 8472), 6081
#: BSD loopback address families for IPv6 Wireshark knows (NetBSD/OpenBSD,
#: FreeBSD, macOS). Linux's AF_INET6 (10) never appears in a DLT_NULL capture,
#: and Wireshark does not map it.
NULL_AF_INET, NULL_AF_INET6 = 2, (24, 28, 30)


@dataclass
class Record:
    """One captured packet: the captured bytes and the length on the wire."""

    data: bytes
    wirelen: int


def _ipv4_address(rng: random.Random) -> str:
    return str(ipaddress.IPv4Address(rng.choice((0x0A000000, 0xAC100000, 0xC0A80000))
                                     + rng.randrange(1, 0xFFFF)))


def _ipv6_address(rng: random.Random) -> str:
    prefix = rng.choice((0xFD00 << 112, 0x2001_0DB8 << 96))
    return str(ipaddress.IPv6Address(prefix + rng.getrandbits(64) + 1))


def _payload(rng: random.Random, most: int = 64) -> bytes:
    # Text payloads: random bytes would now and then satisfy a heuristic dissector.
    return bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789 ")
                 for _ in range(rng.randrange(most + 1)))


def _tcp(rng: random.Random) -> Packet:
    options: list[tuple[str, object]] = []
    for _ in range(rng.randrange(4)):
        kind = rng.choice(("MSS", "WScale", "SAckOK", "Timestamp", "NOP", "SAck"))
        value = {"MSS": rng.randrange(536, 9001), "WScale": rng.randrange(15),
                 "SAckOK": b"", "Timestamp": (rng.getrandbits(32), rng.getrandbits(32)),
                 "NOP": None, "SAck": (rng.getrandbits(32), rng.getrandbits(32))}[kind]
        options.append((kind, value))
    # The nine defined flags (NS..FIN); the three reserved bits must be zero
    # (RFC 9293 3.1) and pcapkit's tcp_flags is defined as the nine flags only.
    return TCP(sport=rng.choice(SERVICE_PORTS), dport=rng.randrange(32768, 61000),
               flags=rng.getrandbits(9), seq=rng.getrandbits(32), ack=rng.getrandbits(32),
               window=rng.getrandbits(16), options=options) / _payload(rng)


def _udp(rng: random.Random) -> Packet:
    return UDP(sport=rng.randrange(32768, 61000), dport=rng.choice(SERVICE_PORTS)) / _payload(rng)


def _sctp(rng: random.Random) -> Packet:
    chunk = (SCTPChunkInit(init_tag=rng.getrandbits(32) | 1) if rng.random() < 0.3
             else SCTPChunkData(tsn=rng.getrandbits(32), data=_payload(rng) or b"x"))
    return SCTP(sport=rng.choice(SERVICE_PORTS), dport=rng.choice(SERVICE_PORTS),
                tag=rng.getrandbits(32)) / chunk


def _echo(rng: random.Random, v6: bool) -> Packet:
    ident, seq = rng.getrandbits(16), rng.getrandbits(16)
    if v6:
        kind = ICMPv6EchoRequest if rng.random() < 0.5 else ICMPv6EchoReply
        return kind(id=ident, seq=seq, data=_payload(rng))
    return ICMP(type=rng.choice((0, 8)), id=ident, seq=seq) / _payload(rng)


def _icmp_error(rng: random.Random, v6: bool) -> Packet:
    """An ICMP error quoting a random packet: its IP header and 8 bytes or more."""
    quoted = bytes(ip_packet(rng, v6, rng.choice((_tcp, _udp))(rng), extras=False))
    header = len(IPv6()) if v6 else len(IP())
    quoted = quoted[:rng.choice((header + 8, len(quoted)))]
    if v6:
        error = rng.choice((ICMPv6DestUnreach(code=rng.randrange(7)),
                            ICMPv6PacketTooBig(mtu=rng.randrange(1280, 9001)),
                            ICMPv6TimeExceeded(code=rng.randrange(2))))
        return error / Raw(quoted)
    kind = rng.choice(((3, rng.randrange(16)), (11, rng.randrange(2)), (3, 4)))
    nexthop = rng.randrange(576, 9001) if kind == (3, 4) else 0
    return ICMP(type=kind[0], code=kind[1], nexthopmtu=nexthop) / Raw(quoted)


def transport(rng: random.Random, v6: bool) -> Packet:
    """A random upper layer for an IPv4 (``v6`` false) or IPv6 packet."""
    choice = rng.random()
    if choice < 0.35:
        return _tcp(rng)
    if choice < 0.6:
        return _udp(rng)
    if choice < 0.7:
        return _sctp(rng)
    if choice < 0.85:
        return _echo(rng, v6)
    return _icmp_error(rng, v6)


def _ipv4_options(rng: random.Random) -> list[Packet]:
    options = [rng.choice((IPOption_NOP(), IPOption_Router_Alert(),
                           IPOption_RR(routers=[_ipv4_address(rng)]),
                           IPOption_Timestamp(flg=0, timestamp=rng.getrandbits(31))))
               for _ in range(rng.randrange(1, 3))]
    return options


def _ipv6_extensions(rng: random.Random) -> list[Packet]:
    """Zero to three extension headers in RFC 8200's recommended order."""
    headers: list[Packet] = []
    if rng.random() < 0.3:
        headers.append(IPv6ExtHdrHopByHop())
    if rng.random() < 0.3:
        headers.append(IPv6ExtHdrDestOpt())
    if rng.random() < 0.3:
        # Segments left 0: the destination is already the final one (a routing
        # header still to be followed makes Wireshark report the final hop).
        headers.append(IPv6ExtHdrRouting(addresses=[_ipv6_address(rng)], segleft=0))
    if rng.random() < 0.2:
        # The first fragment: a later one would carry no upper-layer header.
        headers.append(IPv6ExtHdrFragment(id=rng.getrandbits(32), m=1, offset=0))
    if rng.random() < 0.2:
        # AH's length counts 4-octet units minus 2: 12 fixed bytes + a 12-byte ICV.
        headers.append(AH(spi=rng.getrandbits(32) | 0x100, seq=rng.getrandbits(32),
                          icv=bytes(12), payloadlen=4))
    return headers


def ip_packet(rng: random.Random, v6: bool, payload: Packet | bytes, *,
              extras: bool = True, proto: int | None = None) -> Packet:
    """``payload`` in an IPv4 or IPv6 header with random addresses and fields;
    with ``extras``, sometimes IPv4 options or IPv6 extension headers."""
    if v6:
        packet: Packet = IPv6(src=_ipv6_address(rng), dst=_ipv6_address(rng),
                              hlim=rng.randrange(1, 256), fl=rng.getrandbits(20),
                              tc=rng.getrandbits(8))
        chain: list[Packet] = _ipv6_extensions(rng) if extras else []
        if proto is not None:  # scapy cannot infer it for a payload given as bytes
            (chain[-1] if chain else packet).nh = proto
        for header in chain:
            packet = packet / header
        return packet / payload
    options = _ipv4_options(rng) if extras and rng.random() < 0.2 else []
    packet = IP(src=_ipv4_address(rng), dst=_ipv4_address(rng), ttl=rng.randrange(1, 256),
                id=rng.getrandbits(16), flags=rng.choice((0, 2)), tos=rng.getrandbits(8),
                options=options)
    if proto is not None:
        packet.proto = proto
    return packet / payload


def _ethernet(rng: random.Random, payload: Packet, ethertype: int) -> Packet:
    src, dst = (":".join(f"{b:02x}" for b in b"\x02\x00" + rng.randbytes(4)) for _ in "sd")
    return Ether(src=src, dst=dst, type=ethertype) / payload


def _ethertype(inner_v6: bool) -> int:
    return 0x86DD if inner_v6 else 0x0800


def _wrap_tunnel(rng: random.Random, inner: Packet, inner_v6: bool, outer_v6: bool) -> Packet:
    """``inner`` (an IP packet) in one tunnel with its own outer IP header."""
    kind = rng.choice(("ipip", "gre", "vxlan", "geneve"))
    if kind == "ipip":
        return ip_packet(rng, outer_v6, inner, proto=41 if inner_v6 else 4)
    if kind == "gre":
        ptype = rng.choice((_ethertype(inner_v6), 0x6558))
        body = _ethernet(rng, inner, _ethertype(inner_v6)) if ptype == 0x6558 else inner
        flags = {"chksum_present": rng.getrandbits(1), "key_present": rng.getrandbits(1),
                 "seqnum_present": rng.getrandbits(1)}
        gre = GRE(proto=ptype, **flags)
        if flags["key_present"]:
            gre.key = rng.getrandbits(32)
        if flags["seqnum_present"]:
            gre.sequence_number = rng.getrandbits(32)
        return ip_packet(rng, outer_v6, gre / body, proto=47)
    sport = rng.randrange(32768, 61000)
    if kind == "vxlan":
        body = VXLAN(vni=rng.getrandbits(24), flags=0x08) / _ethernet(rng, inner,
                                                                      _ethertype(inner_v6))
        udp = UDP(sport=sport, dport=rng.choice(VXLAN_PORTS)) / body
        return ip_packet(rng, outer_v6, udp, proto=17)
    ptype = rng.choice((0x6558, _ethertype(inner_v6)))
    options = [GeneveOptions(classid=rng.getrandbits(16), type=rng.getrandbits(7),
                             data=bytes(rng.getrandbits(8) for _ in range(4 * size)))
               for size in (rng.randrange(3) for _ in range(rng.randrange(4)))]
    body = _ethernet(rng, inner, _ethertype(inner_v6)) if ptype == 0x6558 else inner
    geneve = GENEVE(vni=rng.getrandbits(24), proto=ptype, options=options)
    udp = UDP(sport=sport, dport=GENEVE_PORT) / geneve / body
    return ip_packet(rng, outer_v6, udp, proto=17)


def _unreadable_cuts(packet: Packet) -> set[int]:
    """Snaplen cuts (caplen values, from the start of ``packet``) not generated.

    * Inside IPv4 options: the fixed header, addresses included, is captured, but
      Wireshark reads the options before it shows ``ip.dst`` (a source route
      changes the destination it displays), so it shows no destination at all.
    * Between the destination port and the first tunnel header byte of a UDP
      tunnel: Wireshark calls the port's dissector only once the UDP header is
      whole and a payload byte is captured, so it cannot name the tunnel that
      the port (and pcapkit) names; one byte later it does.
    * Between a TCP/UDP source and destination port: Wireshark reads the ports
      together and shows neither; pcapkit keeps the source port it has. SCTP's
      dissector shows no port until its whole 12-byte common header is there.
    """
    cuts: set[int] = set()
    total = len(bytes(packet))
    for layer in packet.iterpayloads():
        start = total - len(bytes(layer))
        if isinstance(layer, IP) and layer.options:
            cuts.update(range(start + 20, start + 4 * (bytes(layer)[0] & 0x0F)))
        if isinstance(layer, TCP | UDP):
            cuts.update((start + 2, start + 3))
        if isinstance(layer, SCTP):
            cuts.update(range(start + 2, start + 12))
        if isinstance(layer, UDP) and {layer.sport, layer.dport} & {*VXLAN_PORTS, GENEVE_PORT}:
            cuts.update(range(start + 4, start + 9))
    return cuts


def network_packet(rng: random.Random, outer_v6: bool) -> tuple[bytes, set[int]]:
    """A random IP packet whose outermost header is IPv6 when ``outer_v6``, and the
    snaplen cuts not to make in it (see :func:`_unreadable_cuts`)."""
    levels = rng.choices((0, 1, 2), weights=(4, 4, 1))[0]
    versions = [rng.random() < 0.5 for _ in range(levels)] + [outer_v6]
    inner_v6 = versions[0]
    packet = ip_packet(rng, inner_v6, transport(rng, inner_v6))
    for inner, outer in zip(versions, versions[1:], strict=False):
        packet = _wrap_tunnel(rng, packet, inner, outer)
    cuts = _unreadable_cuts(packet)
    if not outer_v6 and rng.random() < 0.1:
        # An IPv4 fragment: the first (ports and tunnel header readable) or a later one.
        # The end of a first fragment cuts the datagram as a snaplen would: it
        # must not fall where _unreadable_cuts says a cut must not, nor right
        # after a tunnel header. There the packet holds no inner header at all
        # (pcapkit keeps the outer addresses); Wireshark still hands the empty
        # payload to its IPv4 dissector (an "ip" layer with no addresses) though
        # not to its IPv6 one, so it has no one answer to compare with.
        pieces = fragment(packet, fragsize=rng.choice((8, 16, 64, 256)))
        piece = rng.choice(pieces)
        if piece.frag != 0:
            return bytes(piece), _unreadable_cuts(piece)
        if len(piece) not in cuts | _tunnel_header_ends(packet):
            return bytes(piece), cuts
    return bytes(packet), cuts


def _tunnel_header_ends(packet: Packet) -> set[int]:
    """Where each GRE, VXLAN and Geneve header of ``packet`` ends."""
    total = len(bytes(packet))
    return {total - len(bytes(layer.payload)) for layer in packet.iterpayloads()
            if isinstance(layer, GRE | VXLAN | GENEVE)}


def _link(rng: random.Random, linktype: int, packet: bytes) -> bytes:
    v6 = packet[0] >> 4 == 6
    ethertype = 0x86DD if v6 else 0x0800
    if linktype == LINKTYPE_ETHERNET:
        macs = b"\x02\x00" + rng.randbytes(4) + b"\x02\x00" + rng.randbytes(4)
        tags = rng.choices(((), (0x8100,), (0x88A8,), (0x88A8, 0x8100), (0x8100, 0x8100)),
                           weights=(10, 4, 2, 3, 1))[0]
        header = macs + b"".join(struct.pack(">HH", tpid, rng.randrange(0x10000)) for tpid in tags)
        return header + struct.pack(">H", ethertype) + packet
    if linktype == LINKTYPE_SLL:
        ptype = rng.choice((0, 1, 2, 3, 4))
        return struct.pack(">HHH8sH", ptype, 1, 6, rng.randbytes(6) + bytes(2),
                           ethertype) + packet
    if linktype == LINKTYPE_SLL2:
        return struct.pack(">HHIHBB8s", ethertype, 0, rng.randrange(1, 64), 1,
                           rng.choice((0, 1, 2, 3, 4)), 6, rng.randbytes(6) + bytes(2)) + packet
    if linktype == LINKTYPE_NULL:
        family = rng.choice(NULL_AF_INET6) if v6 else NULL_AF_INET
        return struct.pack("<I", family) + packet
    return packet  # raw IP: 101, 228, 229


def random_records(seed: int, linktype: int, count: int) -> list[Record]:
    """``count`` random packets for a capture of ``linktype``; some cut by a snaplen."""
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        outer_v6 = {LINKTYPE_IPV4: False, LINKTYPE_IPV6: True}.get(linktype, rng.random() < 0.5)
        packet, unreadable = network_packet(rng, outer_v6)
        frame = _link(rng, linktype, packet)
        header = len(frame) - len(packet)
        cuts = [c for c in range(1, len(frame)) if c - header not in unreadable]
        caplen = len(frame) if rng.random() < 0.8 else rng.choice(cuts)
        records.append(Record(frame[:caplen], len(frame)))
    return records


def write_pcap(path: Path, linktype: int, records: list[Record]) -> None:
    """Write ``records`` as a little-endian microsecond pcap file of ``linktype``."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)]
    for i, record in enumerate(records):
        out.append(struct.pack("<IIII", 1_700_000_000 + i, i, len(record.data), record.wirelen))
        out.append(record.data)
    path.write_bytes(b"".join(out))
