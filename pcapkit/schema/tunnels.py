"""The tunnel delivery table: per node pair and tunnel, what the overlay delivered.

Built by ``pcapkit.analyses.tunnels`` from the sightings: a packet that node A sent
encapsulated to node B's underlay address is *delivered* when B's capture saw it too (the
same ``packet_id``), *lost* when it did not. Only packets A sent while B was capturing
count, so a capture that started late or stopped early is not overlay loss.
"""

from __future__ import annotations

from pcapkit.schema import Column, Table, register

TUNNEL_PAIRS = register(Table(
    "tunnel_pairs", "one overlay tunnel from one node to another (node pair, tunnel, VNI)", (
        Column("src_node", "category",
               "Node that encapsulated the packets (owner of the underlay source).", "flows"),
        Column("dst_node", "category",
               "Node the tunnel leads to (owner of the underlay destination).", "flows"),
        Column("src_underlay", "ip", "Underlay source address (outer_src).", "flows"),
        Column("dst_underlay", "ip", "Underlay destination address (outer_dst).", "flows"),
        Column("tunnel", "category",
               "Outermost tunnel: vxlan, geneve, ipip, gre, ...", "flows"),
        Column("tunnel_port", "u16",
               "UDP destination port of the tunnel (4789, 8472, 6081); null for IP "
               "tunnels.", "flows"),
        Column("vni", "u32", "VXLAN/Geneve VNI (GRE key); null when none.", "flows"),
        Column("sent", "i64",
               "Distinct packets src_node's capture saw leave through the tunnel while "
               "dst_node was capturing (and early enough to arrive before it stopped).",
               "flows"),
        Column("delivered", "i64",
               "Of those, packets dst_node's capture saw (encapsulated on its NIC or "
               "decapsulated inside).", "flows"),
        Column("undecapsulated", "i64",
               "Delivered packets dst_node saw only encapsulated, never decapsulated, "
               "although its captures show decapsulated traffic (a firewall on the "
               "tunnel port, a bad checksum, a VNI or port mismatch); counted when the "
               "capture shows inner interfaces only.", "flows"),
        Column("lost", "i64", "Sent packets dst_node's capture never saw.", "flows"),
        Column("loss_rate", "f64",
               "(lost + undecapsulated) / sent: the share the overlay did not "
               "deliver.", "flows"),
        Column("flows", "i64", "Flows (flows.flow_id) the sent packets belong to.", "flows"),
        Column("lost_flows", "i64",
               "Flows with at least one lost or undecapsulated packet.", "flows"),
        Column("bad_checksums", "i64",
               "Packets of this tunnel with a wrong outer UDP checksum, as captured away "
               "from src_node (the sender's own capture is not counted: checksum offload "
               "fills the field after the capture point).", "flows"),
        Column("icmp_unreachable", "i64",
               "ICMP destination-unreachable errors quoting this tunnel's outer header "
               "(a firewall rejecting the tunnel port, or no tunnel socket).", "flows"),
        Column("first_ts", "ts", "First packet sent (ts_corrected).", "flows"),
        Column("last_ts", "ts", "Last packet sent.", "flows"),
        Column("verdict", "category",
               "healthy (every packet delivered), lossy (some not), blocked (none of "
               "them, or ICMP unreachable for the tunnel port) or bad-checksum.", "flows"),
        Column("reason", "str", "The verdict in words, with the counts.", "flows"),
        Column("evidence_packet_ids", "list",
               "packet_id of the earliest undelivered (and bad-checksum) packets, at most "
               "20: the finding's evidence.", "flows"),
    ), time="first_ts", evidence=("evidence_packet_ids",)))
