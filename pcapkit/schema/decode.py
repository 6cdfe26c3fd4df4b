"""The decoder's tables: packets, capture interfaces and DNS messages (stage "decode").

The packet table also carries the columns the vantage stage adds to every sighting
(node, direction, packet_id, ts_corrected, point_id): ``TABLES["packets"].at("decode")`` is
the decoder's own table (``Decoded.packets``), the whole declaration ``Capture.packets``.
"""

from __future__ import annotations

from pcapkit.schema import Column, Table, columns, register

DECODED_PACKET_COLUMNS: tuple[Column, ...] = (
    Column("file", "category", "Capture file the packet was read from, as given."),
    Column("frame", "i64", "1-based frame number in its file: the number Wireshark shows."),
    Column("ts", "ts", "Capture time, UTC, nanosecond precision kept."),
    Column("interface", "category",
           "Capture interface: pcapng if_name (else its index); for pcap the link is '0'. "
           "An SLL2 packet of '-i any' gets its ifindex's device name from the node's "
           "interface list beside the capture (ip -o link, ingest/links.py)."),
    Column("if_index", "u32",
           "Linux ifindex of the interface from an SLL2 header (tcpdump -i any)."),
    Column("pkt_type", "category",
           "Linux cooked packet type: host, broadcast, multicast, otherhost, outgoing."),
    Column("linktype", "u16",
           "LINKTYPE_* of the packet's interface (1 Ethernet, 113 SLL, 276 SLL2 ...)."),
    Column("caplen", "u32", "Bytes captured."),
    Column("wirelen", "u32", "Bytes on the wire."),
    Column("truncated", "bool", "True when the snaplen cut the packet (caplen < wirelen)."),
    Column("eth_src", "mac",
           "Source MAC of the capture link's Ethernet header (the outermost: for a tunnelled "
           "packet the underlay frame's), e.g. the router a packet arrived from; null on other "
           "link types (tcpdump -i any's cooked SLL2, raw IP)."),
    Column("eth_dst", "mac",
           "Destination MAC of the capture link's Ethernet header: the next hop a packet was "
           "sent to (or the host it arrived at); null on other link types."),
    Column("vlan", "u16", "Outermost 802.1Q/802.1ad VLAN id on the capture link."),
    Column("encap", "category",
           "Tunnel stack outermost first, joined with '+': none, ipip, ip6ip, vxlan, geneve, gre "
           "(also GRE-in-UDP 4754 and PPTP's GRE v1), erspan (gre+erspan), ppp (gre+ppp), mpls "
           "(on the link, gre+mpls, in UDP 6635 or IP 137)."),
    Column("vni", "u32",
           "VXLAN/Geneve VNI, GRE key or PPTP call id, ERSPAN session id, or bottom MPLS label of"
           " the innermost tunnel that has one."),
    Column("outer_src", "ip",
           "Source of the outermost (underlay) IP header; null when not tunnelled."),
    Column("outer_dst", "ip",
           "Destination of the outermost (underlay) IP header; null when not tunnelled."),
    Column("outer_proto", "u8",
           "IP protocol of the outermost header (17 for VXLAN/Geneve, 4, 41, 47)."),
    Column("outer_ttl", "u8", "TTL / hop limit of the outermost header."),
    Column("outer_sport", "u16",
           "UDP source port of the outermost tunnel (VXLAN/Geneve flow entropy)."),
    Column("outer_dport", "u16",
           "UDP destination port of the outermost tunnel (4789, 8472, 6081 ...)."),
    Column("outer_udp_checksum_ok", "bool",
           "The outermost tunnel's UDP checksum verifies; null when the sender left it 0 (Linux "
           "VXLAN's default) or the datagram was not captured whole. A sender's own capture may "
           "show a wrong one that checksum offload fixes later."),
    Column("inner_src_mac", "mac", "Source MAC of the Ethernet frame inside the innermost tunnel."),
    Column("inner_dst_mac", "mac",
           "Destination MAC of the Ethernet frame inside the innermost tunnel."),
    Column("ethertype", "u16",
           "EtherType of the innermost link-layer payload, or the payload type a tunnel names "
           "(0x0800, 0x86dd, 0x0806, 0x8909 ...); null for an 802.3 length field (LLC) or an SLL "
           "protocol number below 0x0600."),
    Column("src", "ip", "Source of the innermost IP header (the pod / workload address)."),
    Column("dst", "ip", "Destination of the innermost IP header."),
    Column("ip_version", "u8", "4 or 6: version of the innermost IP header."),
    Column("proto", "u8",
           "Upper-layer protocol of the innermost IP header, after IPv6 extension headers."),
    Column("ttl", "u8", "TTL / hop limit of the innermost IP header."),
    Column("ip_id", "u32", "IPv4 identification, or the IPv6 fragment header's identification."),
    Column("ip_len", "u32",
           "Length of the innermost IP packet per its header (IPv4 total length, IPv6 40 + "
           "payload length)."),
    Column("frag_offset", "u32",
           "Fragment offset in bytes (0 for the first fragment or an unfragmented packet)."),
    Column("more_fragments", "bool", "IPv4 MF flag / IPv6 fragment header M flag."),
    Column("dont_fragment", "bool", "IPv4 DF flag (null for IPv6)."),
    Column("sport", "u16", "TCP/UDP/SCTP source port of the innermost transport header."),
    Column("dport", "u16", "TCP/UDP/SCTP destination port."),
    Column("tcp_flags", "u16",
           "TCP flags (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR "
           "0x80, NS 0x100). Table and CSV output show tcpdump's letters in tcpdump's order: F "
           "FIN, S SYN, R RST, P PSH, . ACK, U URG, E ECE, W CWR, e AE (the former NS) (a "
           "SYN-ACK is 'S.', a bare ACK '.', no flag 'none')."),
    Column("tcp_seq", "u32", "TCP sequence number (raw, not relative)."),
    Column("tcp_ack", "u32", "TCP acknowledgement number (raw)."),
    Column("tcp_window", "u16", "TCP window field (unscaled)."),
    Column("payload_len", "u32",
           "Transport payload length per the headers (TCP segment data, UDP data), on the wire, "
           "not as captured."),
    Column("payload_head", "u64",
           "First 8 bytes of a UDP payload as a big-endian integer (null when shorter, and for "
           "TCP, whose sequence numbers already identify a segment): a fingerprint ingredient "
           "that survives every hop. Table and CSV output show the 8 bytes as 16 hex digits, "
           "in wire order."),
    Column("icmp_type", "u8", "ICMP or ICMPv6 type."),
    Column("icmp_code", "u8", "ICMP or ICMPv6 code."),
    Column("icmp_mtu", "u32",
           "Next-hop MTU of an ICMP fragmentation-needed or ICMPv6 packet-too-big."),
    Column("icmp_orig_src", "ip", "Source of the IP header quoted in an ICMP error."),
    Column("icmp_orig_dst", "ip", "Destination of the IP header quoted in an ICMP error."),
    Column("icmp_orig_proto", "u8", "Protocol of the IP header quoted in an ICMP error."),
    Column("icmp_orig_sport", "u16", "Source port quoted in an ICMP error."),
    Column("icmp_orig_dport", "u16", "Destination port quoted in an ICMP error."),
    Column("decode_error", "category",
           "Why decoding stopped early: a cut or malformed header ('link-layer header cut short',"
           " 'IP header cut short', 'tunnel header cut short', 'Ethernet header inside the tunnel"
           " cut short', 'tunnel payload cut short', ...) or something pcapkit does not decode "
           "('GRE protocol 0x8909 not decoded', 'GRE version 2 not decoded', 'PPP protocol 0xc021"
           " not decoded', 'MPLS payload with first nibble 5 not decoded'); null when it did not."),
)


#: what the vantage stage adds to every sighting of a packet (pcapkit.vantage)
SIGHTING_EXTRA_COLUMNS: tuple[Column, ...] = (
    Column("node", "category", "Node the file was captured on (its capture point).", "vantage"),
    Column("direction", "category",
           "'out' (SLL outgoing), 'in' (host/broadcast/multicast/otherhost); null when"
           " the link type has no packet type.", "vantage"),
    Column("packet_id", "i64",
           "Distinct packet this sighting belongs to: the same id on every capture "
           "point that saw the packet.", "vantage"),
    Column("ts_corrected", "ts",
           "ts minus the node's estimated clock offset against the reference node.", "vantage"),
    Column("point_id", "i64",
           "Capture point of the sighting, one id per (file, interface, SLL ifindex, "
           "direction): two sightings with one point_id were seen at one place going "
           "one way.", "vantage"),
)

PACKETS = register(Table(
    "packets", "one sighting of a packet: one record of one capture file",
    columns(DECODED_PACKET_COLUMNS, SIGHTING_EXTRA_COLUMNS), time="ts",
    evidence=("packet_id",),
    brief=("frame", "ts", "src", "sport", "dst", "dport", "proto", "tcp_flags", "payload_len",
           "encap", "node", "interface", "direction", "file")))

_INTERFACE_COLUMNS: tuple[Column, ...] = (
    Column("file", "category", "Capture file."),
    Column("interface_id", "i64", "Interface index in the file (pcapng IDB order)."),
    Column("name", "str", "pcapng if_name."),
    Column("description", "str",
           "pcapng if_description (pod metadata from Inspektor Gadget lives here)."),
    Column("linktype", "u16", "LINKTYPE_* value."),
    Column("snaplen", "u32", "Snapshot length."),
    Column("tsresol", "str", "Timestamp resolution."),
    Column("comment", "str", "pcapng comment on the interface."),
)



INTERFACES = register(Table("interfaces", "one capture interface of one file",
                            _INTERFACE_COLUMNS))

#: columns the DNS table copies from the packet that carried the message
DNS_PACKET_COLUMNS: tuple[Column, ...] = (
    Column("file", "category", "Capture file of the packet that carried the message."),
    Column("frame", "i64", "Frame number of that packet in its file."),
    Column("ts", "ts", "Capture time of that packet."),
    Column("interface", "category", "Capture interface of that packet."),
    Column("encap", "category", "Tunnel stack around the message (none when bare)."),
    Column("src", "ip", "Sender address (innermost IP header)."),
    Column("dst", "ip", "Receiver address (innermost IP header)."),
    Column("sport", "u16", "Sender port."),
    Column("dport", "u16", "Receiver port."),
    Column("transport", "category", "udp or tcp."),
)

#: what the DNS parser reads from the message itself (pcapkit.decode.dns)
DNS_MESSAGE_COLUMNS: tuple[Column, ...] = (
    Column("dns_id", "u16",
           "Transaction id from the header (NA when under 2 bytes were captured)."),
    Column("qr", "bool", "True for a response, False for a query (QR bit)."),
    Column("opcode", "u8", "Header OPCODE: 0 QUERY, 1 IQUERY, 2 STATUS, 4 NOTIFY, 5 UPDATE."),
    Column("aa", "bool", "Authoritative answer flag."),
    Column("tc", "bool",
           "Truncated flag: the server cut the answer, the client should retry over TCP."),
    Column("rd", "bool", "Recursion desired flag."),
    Column("ra", "bool", "Recursion available flag."),
    Column("ad", "bool", "Authentic data flag (DNSSEC)."),
    Column("cd", "bool", "Checking disabled flag (DNSSEC)."),
    Column("rcode", "u8",
           "4-bit response code from the header (the EDNS extended bits are not added)."),
    Column("rcode_name", "str",
           "Rcode as a name: NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, ... or "
           "RCODE<n>."),
    Column("qdcount", "u16", "Question count from the header."),
    Column("ancount", "u16", "Answer count from the header."),
    Column("nscount", "u16", "Authority count from the header."),
    Column("arcount", "u16",
           "Additional count from the header (an EDNS OPT record is counted here)."),
    Column("qname", "str",
           "First question name as sent (case kept, no trailing dot, root is '.')."),
    Column("qtype", "u16", "First question type number."),
    Column("qtype_name", "str",
           "Qtype as a name: A, AAAA, SRV, ... or TYPE<n> when unknown (RFC 3597)."),
    Column("qclass", "u16",
           "First question class number (1 is IN; mDNS sets bit 15 for unicast replies)."),
    Column("answers", "list",
           "Answer section as a list of dicts {name, type, ttl, data}; type is the type name; "
           "data is the address for A/AAAA, the target for CNAME/NS/PTR/DNAME, 'pref exchange' "
           "for MX, 'prio weight port target' for SRV, 'mname rname serial refresh retry expire "
           "minimum' for SOA, the strings concatenated for TXT, hex otherwise; '' for a record of"
           " class NONE or ANY without data (DNS UPDATE prerequisites, RFC 2136)."),
    Column("answer_addrs", "list",
           "List of the A and AAAA addresses in the answer section, in order."),
    Column("ttls", "list", "List of the answer section TTLs in seconds, in order."),
    Column("edns_udp_size", "u16",
           "UDP payload size advertised by an EDNS OPT record (NA when there is none)."),
    Column("malformed", "bool",
           "True when the bytes on the wire are not a valid DNS message (see error)."),
    Column("incomplete", "bool",
           "True when the capture holds only part of the message (snaplen cut, or a TCP message "
           "that continues in another segment); not counted as malformed."),
    Column("error", "str",
           "Why the row is malformed or incomplete, None when the message parsed cleanly."),
    Column("tcp_messages", "u16",
           "DNS over TCP: complete length-prefixed messages in the segment (the row describes the"
           " first); NA for UDP."),
)

DNS_MESSAGES = register(Table(
    "dns_messages", "one DNS message in one captured packet (a sighting; see dns for pairs)",
    columns(DNS_PACKET_COLUMNS, DNS_MESSAGE_COLUMNS), time="ts",
    brief=("frame", "ts", "src", "dst", "qr", "dns_id", "qname", "qtype_name", "rcode_name",
           "answer_addrs", "file")))
