"""The SNAT conflict table: TCP connection attempts that collided on a source NAT tuple.

Built by the ``snat_conflicts`` analysis (:mod:`pcapkit.analyses.snat`) from the flows and
their packets; the snat-port-reuse rules read it.
"""

from __future__ import annotations

from pcapkit.schema import Column, Table, columns, register
from pcapkit.schema.flows import END_IDENTITIES, FLOWS

#: values ``kind`` is made of (comma-separated, in this order)
KINDS = ("held_at_snat", "stale_tuple")

SNAT_CONFLICTS = register(Table(
    "snat_conflicts", "one TCP connection attempt that collided with another connection on a "
                      "source NAT tuple (the client's flow and each translated try linked)",
    columns(
        tuple(FLOWS[name] for name in ("flow_id", "ts", "proto")),
        (
            Column("orig_h", "ip",
                   "The source whose ports collided: the translated address (the node's, "
                   "after masquerade) of the try that collided, or the client's own when "
                   "no translation was captured.", "flows"),
            Column("orig_p", "u16", "The source port of that try.", "flows"),
        ),
        tuple(FLOWS[name] for name in ("resp_h", "resp_p")),
        (
            Column("flow_ids", "list",
                   "Every flow of the attempt (the client's own, each translated try) and "
                   "of the connection that held the tuple before it: the evidence.", "flows"),
            Column("client_h", "ip",
                   "The client before SNAT (the pod's address) when its side was captured, "
                   "else the address the capture saw (orig_h).", "flows"),
            Column("client_p", "u16", "Its source port.", "flows"),
            Column("client", "str",
                   "The client as a person names it: its pod (namespace/name) when the "
                   "snapshot knows it, else its identity, else its address.", "flows"),
            Column("client_identity", "str",
                   "The client's identity (its workload when the snapshot knows it, as "
                   "orig_identity is for other tables).", "flows"),
            Column("snat_seen", "bool",
                   "Both sides of the translation were captured (the client's flow before "
                   "SNAT and a translated one, linked by the SYN's sequence number, which "
                   "masquerade never rewrites).", "flows"),
            Column("kind", "str",
                   "How it collided, comma-separated: held_at_snat (the client's first "
                   "SYNs never left the node: they went out translated only later, while "
                   "other connections held the address's tuples to this destination), "
                   "stale_tuple (the server answered the SYN with an ACK of an older "
                   "connection on the tuple, TIME_WAIT or still open, and the client reset).",
                   "flows"),
            Column("node", "str", "Node whose captures saw the translation (or the try).",
                   "flows"),
            Column("syn_sends", "i64", "SYNs the client sent for the attempt.", "flows"),
            Column("connect_delay_s", "f64",
                   "Seconds from the client's first SYN to the first SYN-ACK of the attempt; "
                   "NaN when none came.", "flows"),
            Column("completed", "bool", "The attempt got a SYN-ACK in the end.", "flows"),
            Column("previous_flow_id", "i64",
                   "The connection that used the translated tuple before (for stale_tuple "
                   "the one the server still held; null when it was before the capture).",
                   "flows"),
            Column("previous_client", "str",
                   "Who held the tuple before: that connection's client before SNAT (its "
                   "pod or workload when known), else its address.", "flows"),
            Column("previous_gap_s", "f64",
                   "Seconds from that connection's last packet to this SYN.", "flows"),
            Column("holders", "i64",
                   "For held_at_snat: other connections from the translated address to the "
                   "destination that were open when the client's first SYN was held.",
                   "flows"),
            Column("held_recent", "i64",
                   "For held_at_snat: those that had closed less than conntrack's TIME_WAIT "
                   "(120 s) before: conntrack still held their tuples.", "flows"),
            Column("clients", "str",
                   "Every client in this destination's conflicts on this node and address "
                   "(the rows' and the previous holders'), comma-separated: the same on "
                   "every row of one destination.", "flows"),
            Column("reason", "str", "What happened, in words.", "flows"),
        ),
        END_IDENTITIES),
    doc="The analysis links a pod's flow before SNAT to its translated flows by the first "
        "SYN's sequence number (same destination, within two minutes), then flags the "
        "attempts whose SYN was held at the node while the address's tuples to that "
        "destination were in use, or was answered by a bare ACK the client reset (the "
        "server still held the tuple). orig_* is the translated source (the node), "
        "client_* the pod before SNAT; IP-only without a capture of the pod side.",
    time="ts", evidence=("flow_ids",)))
