"""The MTU event table: per flow and sending end, packets the path could not carry.

Built by ``pcapkit.analyses.mtu`` from the distinct packets of each TCP flow and the ICMP
errors that quote it: segments never acknowledged although the peer acknowledged smaller
ones, ICMP fragmentation-needed (3/4) and ICMPv6 packet-too-big (2/0) with the MTU they
report (linked to the flow they quote, or through the tunnel's outer header to the flow
inside), and the overlay's header overhead. A segment larger than any MTU that the
peer acknowledged (a TSO/GSO capture on the sender) is not an event.
"""

from __future__ import annotations

from pcapkit.schema import Column, Table, columns, identity_columns, register

#: Values of ``verdict``.
VERDICTS = ("blackhole", "overlay_too_big", "pmtud_working", "recovered_without_icmp",
            "too_big_reported")

MTU_COLUMNS: tuple[Column, ...] = (
    Column("flow_id", "i64", "Flow (flows.flow_id) whose packets were too big.", "flows"),
    Column("ts", "ts",
           "Time of the first event: the first never-acknowledged segment of stuck_len, or "
           "the first ICMP error about the sender's packets.", "flows"),
    Column("sender", "category",
           "End that sent the packets too big for the path: orig or resp.", "flows"),
    Column("proto", "category", "Transport of the flow (tcp, udp, ...).", "flows"),
    Column("orig_h", "ip", "Flow originator address.", "flows"),
    Column("orig_p", "u16", "Originator port.", "flows"),
    Column("resp_h", "ip", "Flow responder address.", "flows"),
    Column("resp_p", "u16", "Responder port.", "flows"),
    Column("encap", "category",
           "Overlay the sender's packets were seen in (vxlan, geneve, ipip, ...; none).",
           "flows"),
    Column("encap_overhead", "u16",
           "Bytes the overlay adds to each inner packet (outer IP, UDP, tunnel header, inner"
           " Ethernet): measured from captured frames, else VXLAN/Geneve 50, IPIP 20, GRE "
           "24 (+20 over IPv6); null when not encapsulated.", "flows"),
    Column("max_len", "u32",
           "Largest IP packet (inner ip_len) the sender sent with DF set (every IPv6 "
           "packet).", "flows"),
    Column("max_acked_len", "u32",
           "Largest segment of the sender the peer acknowledged; null when none was.", "flows"),
    Column("stuck_len", "u32",
           "Largest segment of the sender never acknowledged; null when every segment was.",
           "flows"),
    Column("stuck_sends", "i64",
           "Times segments of stuck_len were sent without being acknowledged (first sends "
           "and retransmissions).", "flows"),
    Column("stuck_retrans", "i64",
           "Retransmissions among them (a sequence number sent again at that size).", "flows"),
    Column("smaller_after", "bool",
           "The sender sent smaller segments after the first stuck or reported one (it "
           "lowered its segment size).", "flows"),
    Column("smaller_delivered", "bool",
           "One of those smaller segments was acknowledged: the connection made progress.",
           "flows"),
    Column("icmp_mtu", "u32",
           "Smallest next-hop MTU of the ICMP frag-needed / packet-too-big errors quoting "
           "the sender's packets; null when none.", "flows"),
    Column("icmp_from", "str", "Address that sent the first of those errors.", "flows"),
    Column("underlay_mtu", "u32",
           "Smallest MTU of ICMP frag-needed / packet-too-big errors quoting the tunnel "
           "packets (outer header) that carried the sender's packets.", "flows"),
    Column("outer_len", "u32",
           "Stuck_len (else max_len) plus encap_overhead: the underlay packet it needed.",
           "flows"),
    Column("verdict", "category",
           "blackhole (segments of stuck_len retransmitted and never acknowledged, larger "
           "than anything acknowledged, and the sender never went smaller), "
           "overlay_too_big (an underlay ICMP error: the overlay's headers do not fit), "
           "pmtud_working (ICMP reported an MTU and the sender went smaller), "
           "recovered_without_icmp (stuck, then smaller segments got through: MTU probing),"
           " too_big_reported (an ICMP error and nothing more in the capture).", "flows"),
    Column("reason", "str", "The verdict in words, with the sizes and MTUs behind it.",
           "flows"),
    Column("stuck_packet_id", "i64",
           "Packet_id of the first never-acknowledged segment of stuck_len.", "flows"),
    Column("last_stuck_packet_id", "i64",
           "Packet_id of the last send (the latest retransmission) of a stuck segment.",
           "flows"),
    Column("icmp_packet_id", "i64",
           "Packet_id of the first ICMP error (inner or underlay) about the sender's "
           "packets.", "flows"),
)

MTU_EVENTS = register(Table(
    "mtu_events", "one flow's sending end whose packets the path did not carry or an ICMP "
                  "error said were too big",
    columns(MTU_COLUMNS, identity_columns("orig", "the originator", "flows"),
            identity_columns("resp", "the responder", "flows")),
    time="ts", evidence=("stuck_packet_id", "last_stuck_packet_id", "icmp_packet_id")))
