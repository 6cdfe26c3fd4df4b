"""Collapse the decoder's DNS table (one row per sighting) to one row per distinct message.

A DNS message captured on the pod veth, the bridge, the tunnel device and the underlay NIC
is one message seen four times. The vantage stage gives every sighting of the same packet
the same ``packet_id``; here the DNS rows are joined to the packet table on (file, frame),
grouped by ``packet_id`` and reduced to the earliest sighting (by ``ts_corrected``), which
keeps its node, interface, file and frame. Without a packet table every DNS row is its own
message (the single-file case).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pcapkit.cluster.snapshot.times import utc_ns
from pcapkit.column_arrays import NAT_NS, codes_of, labels_at, packet_times_ns, per_row, times_ns
from pcapkit.dnstx.arrays import as_column, joined_labels, plain_frame, positions_of
from pcapkit.errors import PcapkitError
from pcapkit.vantage import point_ids_of

#: the columns of the vantage packet table the DNS stage reads (sightings of DNS messages
#: and the ICMP errors that quote them): a run cut into shares keeps only these for it
PACKET_COLUMNS = ("file", "frame", "packet_id", "node", "ts", "ts_corrected", "interface",
                  "if_index", "point_id", "direction", "src", "dst", "sport", "dport",
                  "proto", "ip_version", "icmp_type", "icmp_code", "icmp_orig_src",
                  "icmp_orig_dst", "icmp_orig_proto", "icmp_orig_sport", "icmp_orig_dport")
_NEEDED_DNS = ("file", "frame", "ts", "src", "dst", "sport", "dport", "dns_id", "qr", "qname",
               "qtype_name", "rcode_name")
#: every column of the decoder's DNS table (pcapkit.schema.decode) that the transactions
#: read; a partitioned run reads only these from its store
MESSAGE_COLUMNS = (*_NEEDED_DNS, "interface", "transport", "tc", "ancount", "qtype",
                   "answers", "answer_addrs", "malformed", "incomplete")


def _row_keys(file: pd.Series, frame: pd.Series, files: pd.Index) -> np.ndarray:
    """One int64 per (file, frame): file position in ``files`` shifted past the frame bits."""
    file_codes, labels = codes_of(file)
    codes = per_row(file_codes, files.get_indexer(pd.Index(labels, dtype=object)), -1)
    frames = frame.to_numpy(dtype=np.int64, na_value=-1)
    return codes.astype(np.int64) << 40 | frames


def _sighting_frame(dns: pd.DataFrame, packets: pd.DataFrame | None) -> pd.DataFrame:
    """DNS rows with packet_id, node and t (ns, corrected clock) attached."""
    missing = [c for c in _NEEDED_DNS if c not in dns.columns]
    if missing:
        raise PcapkitError(f"DNS table lacks column {missing[0]!r}: pass the decoder's dns table")
    t = times_ns(dns["ts"])
    node = np.full(len(dns), "unknown", dtype=object)
    packet_id = np.arange(len(dns), dtype=np.int64)
    where = np.full(len(dns), -1, dtype=np.int64)
    if packets is not None and len(packets) and len(dns):
        for column in ("file", "frame"):
            if column not in packets.columns:
                raise PcapkitError(f"packet table lacks column {column!r}")
        # every file name, each once: the two tables' labels, not their rows
        files = pd.Index(pd.unique(np.concatenate([codes_of(packets["file"])[1],
                                                   codes_of(dns["file"])[1]])))
        where = positions_of(_row_keys(packets["file"], packets["frame"], files),
                             _row_keys(dns["file"], dns["frame"], files))
        found = where >= 0
        if "packet_id" in packets.columns:
            ids = packets["packet_id"].to_numpy(dtype=np.int64, na_value=-1)[where]
            offset = int(packets["packet_id"].max()) + 1 if packets["packet_id"].notna().any() \
                else 0
            ok = found & (ids >= 0)
            packet_id = np.where(ok, ids, offset + np.arange(len(dns)))
        if "node" in packets.columns:
            nodes = labels_at(packets["node"], where)
            node = np.where(found & (nodes != None), nodes, "unknown")  # noqa: E711
        if "ts_corrected" in packets.columns:
            corrected = packet_times_ns(packets)[where]
            t = np.where(found & (corrected != NAT_NS), corrected, t)
    return plain_frame({"packet_id": packet_id, "node": node, "t": t,
                        "row": np.arange(len(dns)), "packet_row": where})


def distinct_messages(dns: pd.DataFrame, packets: pd.DataFrame | None,
                      capture_end: pd.Timestamp | Mapping[str, pd.Timestamp] | None = None
                      ) -> pd.DataFrame:
    """One row per distinct DNS message: the fields of its earliest sighting plus

    ``t`` (int64 ns), ``node``, ``packet_id``, ``sightings`` (count), ``nodes`` (sorted
    comma-separated) and ``end_t`` (ns: the latest capture end among the nodes that saw it,
    used to tell a timeout from a capture that simply stopped). ``capture_end`` is
    ``DnsOptions.capture_end``.
    """
    sight = _sighting_frame(dns, packets)
    order = np.lexsort((sight["t"].to_numpy(), sight["packet_id"].to_numpy()))
    pid = sight["packet_id"].to_numpy()[order]
    first = np.ones(len(pid), dtype=bool)
    first[1:] = pid[1:] != pid[:-1]
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, len(pid)))
    group = np.cumsum(first) - 1
    earliest_rows = sight["row"].to_numpy()[order][starts]

    node_of_sighting = sight["node"].to_numpy()[order]
    nodes = node_of_sighting[starts].copy()
    multi = counts > 1
    if multi.any():
        seen_more = multi[group]
        joined = joined_labels(group[seen_more], node_of_sighting[seen_more], len(starts))
        nodes[multi] = joined[multi]

    ends = _node_ends(packets, sight, capture_end)
    names = list(ends)
    node_codes, node_names = pd.factorize(node_of_sighting)  # each node name looked up once
    lookup = per_row(node_codes, pd.Index(names, dtype=object).get_indexer(
        pd.Index(node_names, dtype=object)), -1)
    values = np.array([ends[n] for n in names], dtype=np.int64)
    end_of_sighting = np.where(lookup >= 0, values[lookup], ends["*"])
    end_t = np.maximum.reduceat(end_of_sighting, starts) if len(starts) else end_of_sighting

    out = dns.iloc[earliest_rows].reset_index(drop=True)
    out["packet_id"] = pid[starts]
    out["t"] = sight["t"].to_numpy()[order][starts]
    out["node"] = as_column(node_of_sighting[starts], out.index)
    out["nodes"] = as_column(nodes, out.index)
    out["sightings"] = counts
    out["end_t"] = end_t
    return out


def node_capture_ends(packets: pd.DataFrame) -> dict[str, int]:
    """Each node's last packet (ns, corrected clock when the table has it): where its
    capture ended. Per share of an incident, the maximum over shares is the incident's."""
    if "node" not in packets.columns or not len(packets):
        return {}
    t = pd.Series(packet_times_ns(packets))
    t = t.where(t != NAT_NS)
    keys, names = codes_of(packets["node"])
    per_node = t.groupby(keys).max()
    return {str(names[k]): int(v) for k, v in per_node.items() if k >= 0 and pd.notna(v)}


def _node_ends(packets: pd.DataFrame | None, sight: pd.DataFrame,
               capture_end: pd.Timestamp | Mapping[str, pd.Timestamp] | None
               ) -> dict[str, int]:
    """Capture end (ns) per node, and under "*" the overall end used for unknown nodes."""
    if capture_end is not None and not isinstance(capture_end, Mapping):
        return {"*": utc_ns(capture_end)}
    ends: dict[str, int] = {}
    if packets is not None and len(packets):
        ends.update(node_capture_ends(packets))
        t = packet_times_ns(packets)
        if (t != NAT_NS).any():
            ends["*"] = int(pd.Series(t).where(t != NAT_NS).max())
    if "*" not in ends:
        ends["*"] = int(sight["t"].max()) if len(sight) else 0
    if isinstance(capture_end, Mapping):
        for node, when in capture_end.items():
            ends[str(node)] = utc_ns(when)
        ends["*"] = max(ends.values())
    return ends


def sighting_points(dns: pd.DataFrame, packets: pd.DataFrame | None) -> pd.DataFrame:
    """(packet_id, point_id) of every sighting of every DNS message, without repeats.

    ``point_id`` is the capture point of the sighting's packet (the vantage stage's column,
    or worked out from a plain packet table's columns: ``vantage.point_ids_of``). A DNS row
    whose packet is not in the table (or without a packet table) is placed by its own file
    and interface, at points numbered after the packet table's.
    """
    sight = _sighting_frame(dns, packets)
    where = sight["packet_row"].to_numpy()
    found = where >= 0
    point = point_ids_of(dns[[c for c in ("file", "interface") if c in dns.columns]])
    if found.any():
        of_packets = point_ids_of(packets)
        point = np.where(found, of_packets[np.maximum(where, 0)],
                         point + int(of_packets.max(initial=-1)) + 1)
    return pd.DataFrame({"packet_id": sight["packet_id"].to_numpy(),
                         "point_id": point}).drop_duplicates()
