"""The flow table: one row per bidirectional flow, in Zeek's conn.log vocabulary."""

from __future__ import annotations

from pcapkit.schema import Column, Table, columns, identity_columns, register

#: the columns of a Service-DNAT'd connection's two linked flows (pcapkit.flows.nat)
NAT_COLUMNS: tuple[Column, ...] = (
    Column("nat", "str",
           "'dnat' when the flow is one side of a Service DNAT'd connection (see "
           "nat_side), else null.", "flows"),
    Column("nat_side", "str",
           "service: the client -> Service IP flow (before the rewrite); backend: the "
           "client -> backend pod flow (after it); merged (merge_nat=True): both in one "
           "row.", "flows"),
    Column("nat_peer_flow_id", "i64", "flow_id of the other side of the translation.", "flows"),
    Column("service_ip", "ip",
           "Service cluster IP the client connected to (set on both linked flows).", "flows"),
    Column("service_port", "u16", "Service port the client connected to.", "flows"),
    Column("backend_ip", "ip", "Backend address kube-proxy rewrote the destination to.", "flows"),
    Column("backend_port", "u16", "Backend (target) port.", "flows"),
    Column("nat_conn_state", "category",
           "Service side only: the backend side's conn_state, what happened after the "
           "rewrite (e.g. conn_state S0 with nat_conn_state SF: the replies were lost "
           "between the DNAT point and the client).", "flows"),
)

FLOW_COLUMNS: tuple[Column, ...] = (
    Column("flow_id", "i64",
           "Flow number, 0 = the flow that started first: the id distinct.flow_id and "
           "dns.flow_id link to (like Zeek's uid).", "flows"),
    Column("ts", "ts",
           "Time of the flow's first packet (ts_corrected, UTC), like Zeek's conn.log "
           "ts.", "flows"),
    Column("last_ts", "ts", "Time of the flow's last packet.", "flows"),
    Column("duration", "f64",
           "last_ts - ts in seconds (trailing packets after a close included, unlike "
           "Zeek).", "flows"),
    Column("proto", "category",
           "Transport: tcp, udp, icmp, icmp6, sctp, or the IP protocol number.", "flows"),
    Column("ip_proto", "u8", "IP protocol number of the innermost header.", "flows"),
    Column("orig_h", "ip",
           "Originator address (innermost IP): sent the first SYN, or see "
           "mid_flow/flipped.", "flows"),
    Column("orig_p", "u16",
           "Originator port; for ICMP the type of the originator's first message (as "
           "Zeek).", "flows"),
    Column("resp_h", "ip", "Responder address.", "flows"),
    Column("resp_p", "u16",
           "Responder port; for ICMP the code of the originator's first message (as "
           "Zeek).", "flows"),
    Column("icmp_family", "category",
           "ICMP flows: echo, timestamp, router, neighbor, mld, ..., error (an ICMP "
           "error whose quoted flow is not in the capture) or typeN.", "flows"),
    Column("encap", "category",
           "Overlay the flow was carried in (vxlan, geneve, ipip, gre, ...), none if "
           "never seen encapsulated.", "flows"),
    Column("vni", "u32", "VXLAN/Geneve VNI (GRE key) of that overlay.", "flows"),
    Column("conn_state", "category",
           "Zeek conn_state: S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH (UDP: "
           "SF, S0, SHR; other protocols OTH).", "flows"),
    Column("history", "str",
           "Zeek history letters (ShADadFfRrIiQqTtWw^), upper case = originator.", "flows"),
    Column("mid_flow", "bool",
           "TCP flow with no SYN at all: the capture started after the handshake; never "
           "a failed handshake (conn_state OTH/S1/..., not S0).", "flows"),
    Column("flipped", "bool",
           "The originator is not the first packet's sender (SYN seen later, or the "
           "port/ICMP-reply heuristic); history starts with ^ as in Zeek.", "flows"),
    Column("orig_state", "category",
           "Final Zeek TCP endpoint state of the originator (INACTIVE, SYN_SENT, "
           "SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET).", "flows"),
    Column("resp_state", "category", "Final Zeek TCP endpoint state of the responder.", "flows"),
    Column("orig_pkts", "i64",
           "Distinct packets the originator sent (IP fragments count one each).", "flows"),
    Column("orig_ip_bytes", "i64",
           "IP bytes the originator sent (sum of IP total lengths).", "flows"),
    Column("orig_bytes", "i64",
           "Payload bytes the originator sent, retransmitted TCP payload not counted.", "flows"),
    Column("resp_pkts", "i64", "Distinct packets the responder sent.", "flows"),
    Column("resp_ip_bytes", "i64", "IP bytes the responder sent.", "flows"),
    Column("resp_bytes", "i64",
           "Payload bytes the responder sent, retransmitted TCP payload not counted.", "flows"),
    Column("syn_retrans", "i64",
           "SYNs the originator sent after its first one (distinct packets).", "flows"),
    Column("synack_retrans", "i64", "SYN-ACKs the responder sent after its first one.", "flows"),
    Column("orig_retrans", "i64",
           "Originator TCP segments with payload that repeat sequence space already seen"
           " (retransmitted or out of order), Zeek's rule.", "flows"),
    Column("resp_retrans", "i64", "Responder TCP retransmitted segments.", "flows"),
    Column("orig_zero_windows", "i64",
           "Originator packets advertising a zero window (Zeek's rule).", "flows"),
    Column("resp_zero_windows", "i64", "Responder packets advertising a zero window.", "flows"),
    Column("rtt_syn_synack", "f64",
           "Seconds from the originator's last SYN to the first SYN-ACK.", "flows"),
    Column("rtt_synack_ack", "f64",
           "Seconds from the first SYN-ACK to the originator's first ACK.", "flows"),
    Column("rtt_handshake", "f64",
           "rtt_syn_synack + rtt_synack_ack: the round trip from the handshake.", "flows"),
    Column("icmp_errors", "i64",
           "ICMP errors quoting a packet of this flow (unreachable, time exceeded, "
           "packet too big, ...); not counted in the packet columns.", "flows"),
    Column("icmp_error_types", "str",
           "Their type/code pairs, e.g. '3/13' (sorted, comma-separated).", "flows"),
    Column("icmp_error_senders", "str",
           "Addresses that sent those errors (sorted, comma-separated).", "flows"),
    Column("orig_nodes", "str",
           "Nodes whose captures saw the originator's packets (sorted, comma-separated).", "flows"),
    Column("resp_nodes", "str", "Nodes whose captures saw the responder's packets.", "flows"),
    Column("orig_interfaces", "str",
           "node:interface places the originator's packets were seen (an SLL2 ifindex "
           "no interface list names shown as ifN).", "flows"),
    Column("resp_interfaces", "str",
           "node:interface places the responder's packets were seen.", "flows"),
    Column("orig_encaps", "str",
           "Encapsulations the originator's packets were seen in (none, vxlan, ...).", "flows"),
    Column("resp_encaps", "str", "Encapsulations the responder's packets were seen in.", "flows"),
    Column("orig_encapsulated", "bool",
           "Some sighting of an originator packet was tunnelled.", "flows"),
    Column("resp_encapsulated", "bool",
           "Some sighting of a responder packet was tunnelled.", "flows"),
    Column("orig_outer_pairs", "str",
           "Underlay outer_src>outer_dst pairs carrying the originator's packets.", "flows"),
    Column("resp_outer_pairs", "str",
           "Underlay outer_src>outer_dst pairs carrying the responder's packets: compare"
           " with orig_outer_pairs to spot asymmetric routes.", "flows"),
    Column("orig_vnis", "str", "VNIs seen on the originator's packets.", "flows"),
    Column("resp_vnis", "str", "VNIs seen on the responder's packets.", "flows"),
    Column("orig_ttl_min", "u8",
           "Lowest inner TTL / hop limit seen on the originator's packets.", "flows"),
    Column("orig_ttl_max", "u8", "Highest inner TTL seen on the originator's packets.", "flows"),
    Column("resp_ttl_min", "u8", "Lowest inner TTL seen on the responder's packets.", "flows"),
    Column("resp_ttl_max", "u8", "Highest inner TTL seen on the responder's packets.", "flows"),
    Column("orig_sightings", "i64",
           "Sightings of the originator's packets over all captures and interfaces.", "flows"),
    Column("resp_sightings", "i64", "Sightings of the responder's packets.", "flows"),
)

#: who each end is (tables derived from flows carry them too)
END_IDENTITIES: tuple[Column, ...] = (*identity_columns("orig", "the originator", "flows"),
                                      *identity_columns("resp", "the responder", "flows"))

FLOWS = register(Table(
    "flows", "one bidirectional flow (a connection, or a UDP/ICMP exchange ended by a timeout)",
    columns(FLOW_COLUMNS, NAT_COLUMNS, END_IDENTITIES),
    time="ts", evidence=("flow_id",),
    brief=("flow_id", "ts", "proto", "orig_h", "orig_p", "resp_h", "resp_p", "conn_state",
           "history", "duration", "orig_bytes", "resp_bytes", "orig_identity", "resp_identity",
           "nat", "service_ip")))
