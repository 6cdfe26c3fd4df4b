"""The vantage stage's tables: capture points, sightings, distinct packets, clock offsets.

A packet captured on the pod's veth, the bridge, the tunnel device and the NIC (and on the
other node) is one *distinct* packet seen four or more times; each time is a *sighting*.
"""

from __future__ import annotations

from pcapkit.schema import Column, Table, columns, register
from pcapkit.schema.decode import PACKETS

CAPTURE_POINTS = register(Table("capture_points", "one capture file and the node it was "
                                "taken on", (
    Column("file", "category", "Capture file, as in the packet table.", "vantage"),
    Column("node", "category",
           "Node the file was captured on ('unknown' / 'unknown:<file>' when "
           "undecided).", "vantage"),
    Column("node_source", "category",
           "What decided: user, retina (a Retina capture or tarball name), pcapng, "
           "directory, filename, snapshot or unknown.", "vantage"),
    Column("node_evidence", "str",
           "The text or address that decided, for the user to check.", "vantage"),
    Column("pod", "category",
           "Pod whose traffic the file holds, from Inspektor Gadget interface metadata "
           "(several: comma-separated, sorted); NA when the file does not say.", "vantage"),
    Column("namespace", "category", "Namespace of that pod (several: comma-separated).",
           "vantage"),
    Column("container", "category",
           "Container the gadget captured in (several: comma-separated).", "vantage"),
    Column("pod_evidence", "str",
           "The interface text that named the pod, for the user to check.", "vantage"),
    Column("stream", "category",
           "The capture the file is a part of, named by its first file: files of one node "
           "and interfaces that follow one another in time (tcpdump -C/-G rotation, "
           "editcap -c) are one capture point, so a packet sent again across the cut is a "
           "retransmission, not a second sighting.", "vantage"),
)))

SIGHTINGS = register(Table("sightings", "one sighting of a distinct packet, ordered by "
                           "packet_id then time", columns((
    PACKETS["packet_id"], PACKETS["file"], PACKETS["frame"], PACKETS["node"],
    PACKETS["interface"], PACKETS["if_index"], PACKETS["direction"], PACKETS["point_id"],
    PACKETS["encap"], PACKETS["vni"], PACKETS["outer_src"], PACKETS["outer_dst"],
    PACKETS["ttl"],
    PACKETS["outer_ttl"], PACKETS["ts"], PACKETS["ts_corrected"],
), stage="vantage"), time="ts_corrected", evidence=("packet_id",)))

DISTINCT = register(Table("distinct", "one distinct packet, as its earliest sighting shows it",
                          columns(PACKETS.columns, (
    Column("n_sightings", "i64",
           "How many times (interfaces, nodes) the packet was captured.", "vantage"),
    Column("nodes", "str", "Sorted comma-separated names of the nodes that saw it.", "vantage"),
    Column("flow_id", "i64",
           "Flow the packet belongs to (flows.flow_id; an ICMP error gets the flow it "
           "quotes); null for packets in no flow (not IP).", "flows"),
)), time="ts_corrected", evidence=("packet_id",)))

CLOCK_OFFSETS = register(Table("clock_offsets", "one node (clock domain) of the capture", (
    Column("node", "category", "Node (clock domain) of the capture.", "vantage"),
    Column("reference_node", "category",
           "Node the offsets are relative to: the one with the most sightings.", "vantage"),
    Column("offset_s", "f64",
           "Estimated clock of this node minus clock of the reference, seconds; "
           "ts_corrected = ts - offset_s.", "vantage"),
    Column("spread_s", "f64",
           "Interquartile range of the per-packet offset samples, seconds (NaN without"
           " an estimate).", "vantage"),
    Column("samples", "i64",
           "Packets seen on both nodes of the pair the estimate came from.", "vantage"),
    Column("method", "str",
           "How the offset was estimated (two-way median, one direction only, none "
           "...).", "vantage"),
)))
