"""The columns of the flow table: name -> one-line meaning (Zeek's conn.log vocabulary)."""

from __future__ import annotations

NAT_COLUMNS: dict[str, str] = {
    "nat": "'dnat' when the flow is one side of a Service DNAT'd connection (see "
           "nat_side), else null.",
    "nat_side": "service: the client -> Service IP flow (before the rewrite); backend: the "
                "client -> backend pod flow (after it); merged (merge_nat=True): both in one "
                "row.",
    "nat_peer_flow_id": "flow_id of the other side of the translation.",
    "service_ip": "Service cluster IP the client connected to (set on both linked flows).",
    "service_port": "Service port the client connected to.",
    "backend_ip": "Backend address kube-proxy rewrote the destination to.",
    "backend_port": "Backend (target) port.",
    "nat_conn_state": "Service side only: the backend side's conn_state, what happened "
                      "after the rewrite (e.g. conn_state S0 with nat_conn_state SF: the "
                      "replies were lost between the DNAT point and the client).",
}

FLOW_COLUMNS: dict[str, str] = {
    "flow_id": "Flow number, 0 = the flow that started first; flow_ids() gives it per packet.",
    "ts": "Time of the flow's first packet (ts_corrected, UTC), like Zeek's conn.log ts.",
    "last_ts": "Time of the flow's last packet.",
    "duration": "last_ts - ts in seconds (trailing packets after a close included, unlike Zeek).",
    "proto": "Transport: tcp, udp, icmp, icmp6, sctp, or the IP protocol number.",
    "ip_proto": "IP protocol number of the innermost header.",
    "orig_h": "Originator address (innermost IP): sent the first SYN, or see mid_flow/flipped.",
    "orig_p": "Originator port; for ICMP the type of the originator's first message (as Zeek).",
    "resp_h": "Responder address.",
    "resp_p": "Responder port; for ICMP the code of the originator's first message (as Zeek).",
    "icmp_family": "ICMP flows: echo, timestamp, router, neighbor, mld, ..., error (an ICMP "
                   "error whose quoted flow is not in the capture) or typeN.",
    "encap": "Overlay the flow was carried in (vxlan, geneve, ipip, gre, ...), none if never "
             "seen encapsulated.",
    "vni": "VXLAN/Geneve VNI (GRE key) of that overlay.",
    "conn_state": "Zeek conn_state: S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH "
                  "(UDP: SF, S0, SHR; other protocols OTH).",
    "history": "Zeek history letters (ShADadFfRrIiQqTtWw^), upper case = originator.",
    "mid_flow": "TCP flow with no SYN at all: the capture started after the handshake; never "
                "a failed handshake (conn_state OTH/S1/..., not S0).",
    "flipped": "The originator is not the first packet's sender (SYN seen later, or the port/"
               "ICMP-reply heuristic); history starts with ^ as in Zeek.",
    "orig_state": "Final Zeek TCP endpoint state of the originator (INACTIVE, SYN_SENT, "
                  "SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET).",
    "resp_state": "Final Zeek TCP endpoint state of the responder.",
    "orig_pkts": "Distinct packets the originator sent (IP fragments count one each).",
    "orig_ip_bytes": "IP bytes the originator sent (sum of IP total lengths).",
    "orig_bytes": "Payload bytes the originator sent, retransmitted TCP payload not counted.",
    "resp_pkts": "Distinct packets the responder sent.",
    "resp_ip_bytes": "IP bytes the responder sent.",
    "resp_bytes": "Payload bytes the responder sent, retransmitted TCP payload not counted.",
    "syn_retrans": "SYNs the originator sent after its first one (distinct packets).",
    "synack_retrans": "SYN-ACKs the responder sent after its first one.",
    "orig_retrans": "Originator TCP segments with payload that repeat sequence space already "
                    "seen (retransmitted or out of order), Zeek's rule.",
    "resp_retrans": "Responder TCP retransmitted segments.",
    "orig_zero_windows": "Originator packets advertising a zero window (Zeek's rule).",
    "resp_zero_windows": "Responder packets advertising a zero window.",
    "rtt_syn_synack": "Seconds from the originator's last SYN to the first SYN-ACK.",
    "rtt_synack_ack": "Seconds from the first SYN-ACK to the originator's first ACK.",
    "rtt_handshake": "rtt_syn_synack + rtt_synack_ack: the round trip from the handshake.",
    "icmp_errors": "ICMP errors quoting a packet of this flow (unreachable, time exceeded, "
                   "packet too big, ...); not counted in the packet columns.",
    "icmp_error_types": "Their type/code pairs, e.g. '3/13' (sorted, comma-separated).",
    "icmp_error_senders": "Addresses that sent those errors (sorted, comma-separated).",
    "orig_nodes": "Nodes whose captures saw the originator's packets (sorted, comma-separated).",
    "resp_nodes": "Nodes whose captures saw the responder's packets.",
    "orig_interfaces": "node:interface places the originator's packets were seen "
                       "(SLL2 ifindex shown as ifN).",
    "resp_interfaces": "node:interface places the responder's packets were seen.",
    "orig_encaps": "Encapsulations the originator's packets were seen in (none, vxlan, ...).",
    "resp_encaps": "Encapsulations the responder's packets were seen in.",
    "orig_encapsulated": "Some sighting of an originator packet was tunnelled.",
    "resp_encapsulated": "Some sighting of a responder packet was tunnelled.",
    "orig_outer_pairs": "Underlay outer_src>outer_dst pairs carrying the originator's packets.",
    "resp_outer_pairs": "Underlay outer_src>outer_dst pairs carrying the responder's packets: "
                        "compare with orig_outer_pairs to spot asymmetric routes.",
    "orig_vnis": "VNIs seen on the originator's packets.",
    "resp_vnis": "VNIs seen on the responder's packets.",
    "orig_ttl_min": "Lowest inner TTL / hop limit seen on the originator's packets.",
    "orig_ttl_max": "Highest inner TTL seen on the originator's packets.",
    "resp_ttl_min": "Lowest inner TTL seen on the responder's packets.",
    "resp_ttl_max": "Highest inner TTL seen on the responder's packets.",
    "orig_sightings": "Sightings of the originator's packets over all captures and interfaces.",
    "resp_sightings": "Sightings of the responder's packets.",
    **NAT_COLUMNS,
}

#: Columns enrich_flows() adds for each endpoint (prefix orig_ / resp_).
ENRICHED_FIELDS = ("kind", "namespace", "pod", "workload", "node", "service")


def columns_markdown() -> str:
    """The flow column table for docs/flows.md (kept in step by tests/flows/test_docs.py)."""
    lines = ["| column | meaning |", "|---|---|"]
    lines += [f"| `{name}` | {doc} |" for name, doc in FLOW_COLUMNS.items()]
    return "\n".join(lines) + "\n"
