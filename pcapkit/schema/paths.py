"""The flow_paths table: the two directions of every flow compared, and why they differ.

Built by the ``flow_paths`` analysis (:mod:`pcapkit.analyses.paths`); the asymmetric-route
rules read it.
"""

from __future__ import annotations

from pcapkit.schema import Column, Table, columns, register
from pcapkit.schema.flows import END_IDENTITIES, FLOWS

#: the words ``reason`` is made of, in the order they are listed
REASONS = ("encap_one_way", "underlay_pair_differs", "one_direction_at_point",
           "next_hop_mac_differs", "ttl_differs", "split_routing")

FLOW_PATHS = register(Table(
    "flow_paths", "one flow, its two directions' paths compared",
    columns(
        tuple(FLOWS[name] for name in (
            "flow_id", "ts", "last_ts", "proto", "orig_h", "orig_p", "resp_h", "resp_p",
            "conn_state", "history", "mid_flow", "nat_side", "nat_peer_flow_id")),
        (
            Column("asymmetric", "bool",
                   "The two directions took different paths (reason says how); false "
                   "when nothing differs or the flow is exempt.", "flows"),
            Column("reason", "str",
                   "Why, comma-separated: " + ", ".join(REASONS) + " (see "
                   "docs/analyses.md); empty when symmetric.", "flows"),
            Column("detail", "str",
                   "The differing paths in words, e.g. 'node1: orig in vxlan "
                   "192.168.100.11>192.168.100.12, resp never encapsulated'.", "flows"),
            Column("failed", "bool",
                   "The flow failed: a handshake that never completed, retransmissions or "
                   "a reset.", "flows"),
            Column("failure", "str",
                   "How it failed, e.g. 'SYN sent 3 times; SYN-ACK sent 3 times'.", "flows"),
            Column("one_way_points", "str",
                   "Capture points (node:interface) that saw one direction only while they "
                   "were capturing when the other passed, with the direction they saw.",
                   "flows"),
            Column("points_both", "i64",
                   "Capture points (node:interface) that saw both directions.", "flows"),
            Column("exempt", "category",
                   "Why the flow is never judged asymmetric: 'istio' (sidecar or ztunnel "
                   "redirection ports), else null.", "flows"),
        ),
        END_IDENTITIES,
    ),
    doc="The analysis compares, per flow, where each direction was captured: per capture "
        "file whether it was tunnelled, the underlay node pairs, which "
        "capture points (file and interface) saw it while the other direction passed "
        "during their capture, the Ethernet neighbours each direction was sent to and came "
        "from at each point, the TTL each direction arrived with at each point, and "
        "SYN-ACKs a point saw without their SYN.",
    time="ts", evidence=("flow_id",)))
