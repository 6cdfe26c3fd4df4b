"""Every column pcapkit produces: name, kind and a one-line meaning.

Like Zeek's log field comments, this is the one place a column is documented;
``docs/columns.md`` is generated from it (``python -m pcapkit.schema``) and the
decoder builds its tables from it, so the two cannot drift apart.

Kinds and their pandas dtypes:
  ip        Categorical of address strings ("10.244.1.5", "fd00::1"); null when absent
  mac       Categorical of "aa:bb:cc:dd:ee:ff" strings
  category  Categorical of short strings
  str       Arrow-backed string
  ts        datetime64[ns, UTC]
  bool      nullable boolean
  u8/u16/u32/u64/i64   nullable integers (UInt8 ... Int64)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    doc: str


PACKET_COLUMNS: tuple[Column, ...] = (
    Column("file", "category", "Capture file the packet was read from, as given."),
    Column("frame", "i64", "1-based frame number in its file: the number Wireshark shows."),
    Column("ts", "ts", "Capture time, UTC, nanosecond precision kept."),
    Column("interface", "category",
           "Capture interface: pcapng if_name (else its index); for pcap the link is '0'."),
    Column("if_index", "u32", "Linux ifindex of the interface from an SLL2 header (tcpdump -i any)."),
    Column("pkt_type", "category",
           "Linux cooked packet type: host, broadcast, multicast, otherhost, outgoing."),
    Column("linktype", "u16", "LINKTYPE_* of the packet's interface (1 Ethernet, 113 SLL, 276 SLL2 ...)."),
    Column("caplen", "u32", "Bytes captured."),
    Column("wirelen", "u32", "Bytes on the wire."),
    Column("truncated", "bool", "True when the snaplen cut the packet (caplen < wirelen)."),
    Column("vlan", "u16", "Outermost 802.1Q/802.1ad VLAN id on the capture link."),
    Column("encap", "category",
           "Tunnel stack outermost first, joined with '+': none, ipip, ip6ip, vxlan, geneve, gre."),
    Column("vni", "u32", "VXLAN/Geneve VNI or GRE key of the innermost tunnel that has one."),
    Column("outer_src", "ip", "Source of the outermost (underlay) IP header; null when not tunnelled."),
    Column("outer_dst", "ip", "Destination of the outermost (underlay) IP header; null when not tunnelled."),
    Column("outer_proto", "u8", "IP protocol of the outermost header (17 for VXLAN/Geneve, 4, 41, 47)."),
    Column("outer_ttl", "u8", "TTL / hop limit of the outermost header."),
    Column("outer_sport", "u16", "UDP source port of the outermost tunnel (VXLAN/Geneve flow entropy)."),
    Column("outer_dport", "u16", "UDP destination port of the outermost tunnel (4789, 8472, 6081 ...)."),
    Column("inner_src_mac", "mac", "Source MAC of the Ethernet frame inside the innermost tunnel."),
    Column("inner_dst_mac", "mac", "Destination MAC of the Ethernet frame inside the innermost tunnel."),
    Column("ethertype", "u16", "EtherType of the innermost link-layer payload (0x0800, 0x86dd, 0x0806 ...)."),
    Column("src", "ip", "Source of the innermost IP header (the pod / workload address)."),
    Column("dst", "ip", "Destination of the innermost IP header."),
    Column("ip_version", "u8", "4 or 6: version of the innermost IP header."),
    Column("proto", "u8", "Upper-layer protocol of the innermost IP header, after IPv6 extension headers."),
    Column("ttl", "u8", "TTL / hop limit of the innermost IP header."),
    Column("ip_id", "u32", "IPv4 identification, or the IPv6 fragment header's identification."),
    Column("ip_len", "u32", "Length of the innermost IP packet per its header (IPv4 total length, IPv6 40 + payload length)."),
    Column("frag_offset", "u32", "Fragment offset in bytes (0 for the first fragment or an unfragmented packet)."),
    Column("more_fragments", "bool", "IPv4 MF flag / IPv6 fragment header M flag."),
    Column("dont_fragment", "bool", "IPv4 DF flag (null for IPv6)."),
    Column("sport", "u16", "TCP/UDP/SCTP source port of the innermost transport header."),
    Column("dport", "u16", "TCP/UDP/SCTP destination port."),
    Column("tcp_flags", "u16", "TCP flags (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80, NS 0x100)."),
    Column("tcp_seq", "u32", "TCP sequence number (raw, not relative)."),
    Column("tcp_ack", "u32", "TCP acknowledgement number (raw)."),
    Column("tcp_window", "u16", "TCP window field (unscaled)."),
    Column("payload_len", "u32", "Transport payload length per the headers (TCP segment data, UDP data), on the wire, not as captured."),
    Column("payload_head", "u64",
           "First 8 bytes of a UDP payload as a big-endian integer (null when shorter, and for TCP, whose sequence numbers already identify a segment): a fingerprint ingredient that survives every hop."),
    Column("icmp_type", "u8", "ICMP or ICMPv6 type."),
    Column("icmp_code", "u8", "ICMP or ICMPv6 code."),
    Column("icmp_mtu", "u32", "Next-hop MTU of an ICMP fragmentation-needed or ICMPv6 packet-too-big."),
    Column("icmp_orig_src", "ip", "Source of the IP header quoted in an ICMP error."),
    Column("icmp_orig_dst", "ip", "Destination of the IP header quoted in an ICMP error."),
    Column("icmp_orig_proto", "u8", "Protocol of the IP header quoted in an ICMP error."),
    Column("icmp_orig_sport", "u16", "Source port quoted in an ICMP error."),
    Column("icmp_orig_dport", "u16", "Destination port quoted in an ICMP error."),
    Column("decode_error", "category", "Why decoding stopped early (malformed or cut header); null when it did not."),
)

INTERFACE_COLUMNS: tuple[Column, ...] = (
    Column("file", "category", "Capture file."),
    Column("interface_id", "i64", "Interface index in the file (pcapng IDB order)."),
    Column("name", "str", "pcapng if_name."),
    Column("description", "str", "pcapng if_description (pod metadata from Inspektor Gadget lives here)."),
    Column("linktype", "u16", "LINKTYPE_* value."),
    Column("snaplen", "u32", "Snapshot length."),
    Column("tsresol", "str", "Timestamp resolution."),
    Column("comment", "str", "pcapng comment on the interface."),
)


def by_name(columns: tuple[Column, ...]) -> dict[str, Column]:
    return {c.name: c for c in columns}


def markdown(title: str, columns: tuple[Column, ...]) -> str:
    """Render a column table as Markdown for the docs."""
    lines = [f"## {title}", "", "| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.kind} | {c.doc} |" for c in columns]
    return "\n".join(lines) + "\n"


def columns_document() -> str:
    """The text of docs/columns.md."""
    from pcapkit.decode.dns import DNS_COLUMNS

    dns = tuple(Column(name, "", doc) for name, doc in DNS_COLUMNS.items())
    return "\n".join([
        "# Table columns\n\nGenerated from `pcapkit/schema.py` (`python -m pcapkit.schema >"
        " docs/columns.md`); do not edit by hand.\n",
        markdown("packets", PACKET_COLUMNS),
        markdown("dns (messages; also carries file, frame, ts, interface, encap, src, dst,"
                 " sport, dport, transport from its packet)", dns),
        markdown("interfaces", INTERFACE_COLUMNS),
    ])


if __name__ == "__main__":
    print(columns_document(), end="")
