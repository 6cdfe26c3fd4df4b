"""What the analyses need to know of the whole incident's packets before judging any part.

Several analyses judge one flow or one tunnel against the incident as a whole: was the
receiving node's capture running when the packet should have arrived (each capture file's
window), had the capture gone on long enough for silence to mean no answer (where it
ended), which node owns an underlay address (the tunnel endpoints each node's captures
show), did a file see an address its node owns. That is :class:`PacketContext`, made by
:func:`packet_context` from a packet table and merged by :func:`merge_contexts`: over the
whole table in one pass, per share in a partitioned run (pcapkit.partition), then merged;
the same functions either way, so both give the same context.

Every part is small: a row per file, per (file, address), per (node, underlay address).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pcapkit.column_arrays import (
    NAT_NS,
    codes_of,
    int_isin,
    packet_times_ns,
    per_row,
    shared_codes,
    sorted_unique,
)


@dataclass(frozen=True)
class PacketContext:
    """The incident-wide facts of its packet table.

    ``windows``: per capture file (index: its name) its node and first and last packet
    time (``packet_times_ns``: clock-corrected ns). ``end_ns``: the latest corrected
    capture time (NAT_NS: none). ``addresses``: the distinct (file, address) of every
    address a file's packets carry (inner and outer, source and destination). The
    underlay evidence of :func:`underlay_owners`: ``used`` (every underlay address of an
    encapsulated packet), ``sent``/``received`` (distinct (address, node): a node's capture
    saw a tunnel packet leave from, or arrive at, that address), ``tunnel_rows`` (per node,
    its captures' encapsulated sightings) and ``present`` (per (node, address), those of
    them holding the address as outer source or destination). ``too_big_ports``: the
    source ports (sorted, distinct) of the UDP packets that ICMP fragmentation-needed and
    packet-too-big errors quote, which name the tunnel flows such an error is about (a
    VXLAN or Geneve source port is the inner flow's hash). ``decap_nodes``: the nodes
    whose captures show tunnel packets decapsulated (a packet seen on the node both
    encapsulated and bare)."""

    windows: pd.DataFrame
    end_ns: int
    addresses: pd.DataFrame
    used: frozenset[str]
    sent: pd.DataFrame
    received: pd.DataFrame
    tunnel_rows: pd.Series
    present: pd.Series
    too_big_ports: np.ndarray
    decap_nodes: frozenset[str]

    def file_node(self) -> dict[str, str]:
        """Capture file -> the node it was taken on."""
        return dict(zip(self.windows.index.astype(str), self.windows["node"].astype(str),
                        strict=True))


def encapsulated(packets: pd.DataFrame) -> np.ndarray:
    """Mask of the sightings that carry an underlay header (a tunnel was decoded)."""
    return (packets["outer_src"].notna() & packets["outer_dst"].notna()).to_numpy()


def packet_context(packets: pd.DataFrame) -> PacketContext:
    """The context of ``packets`` (a vantage packet table: every sighting, with node,
    direction and corrected time)."""
    times = packet_times_ns(packets) if len(packets) else np.zeros(0, np.int64)
    file, files = codes_of(packets["file"]) if "file" in packets else (
        np.full(len(packets), -1, np.int64), np.zeros(0, object))
    node, nodes = codes_of(packets["node"]) if "node" in packets else (
        np.full(len(packets), -1, np.int64), np.zeros(0, object))
    known = (file >= 0) & (times != NAT_NS)
    frame = pd.DataFrame({"file": file[known], "node": node[known], "t": times[known]},
                         copy=False)
    spans = frame.groupby("file", sort=True).agg(node=("node", "first"), first=("t", "min"),
                                                 last=("t", "max"))
    windows = pd.DataFrame({"node": per_row(spans["node"].to_numpy(), nodes, None),
                            "first": spans["first"].to_numpy(np.int64),
                            "last": spans["last"].to_numpy(np.int64)},
                           index=pd.Index(files[spans.index.to_numpy()], dtype=object,
                                          name="file"))
    return PacketContext(windows=windows, end_ns=_end_ns(packets),
                         addresses=_file_addresses(packets, file, files, known),
                         **_underlay_evidence(packets, node, nodes),
                         too_big_ports=_too_big_ports(packets),
                         decap_nodes=_decap_nodes(packets, node, nodes))


def _decap_nodes(packets: pd.DataFrame, node: np.ndarray, nodes: np.ndarray) -> frozenset:
    if not len(packets) or not {"outer_src", "outer_dst", "packet_id"} <= set(packets):
        return frozenset()
    ids = packets["packet_id"].to_numpy(dtype=np.int64, na_value=-1)
    tunnelled = encapsulated(packets) & (ids >= 0)
    keys = ids * (len(nodes) + 1) + node  # one integer per (packet, node)
    bare = ~tunnelled & (ids >= 0) & (node >= 0)
    shown = np.unique(node[tunnelled & (node >= 0) & int_isin(keys, keys[bare])])
    return frozenset(str(n) for n in nodes[shown])


def too_big(ip_version: np.ndarray, proto: np.ndarray, icmp_type: np.ndarray,
            icmp_code: np.ndarray) -> np.ndarray:
    """ICMP fragmentation needed (3/4) and ICMPv6 packet too big (2)."""
    return (((ip_version == 4) & (icmp_type == 3) & (icmp_code == 4))
            | ((ip_version == 6) & (proto == 58) & (icmp_type == 2)))


def _too_big_ports(packets: pd.DataFrame) -> np.ndarray:
    names = ("ip_version", "proto", "icmp_type", "icmp_code", "icmp_orig_proto",
             "icmp_orig_sport")
    if not len(packets) or not set(names) <= set(packets.columns):
        return np.zeros(0, np.int64)
    ints = {n: packets[n].to_numpy(dtype=np.int64, na_value=-1) for n in names}
    errors = too_big(ints["ip_version"], ints["proto"], ints["icmp_type"], ints["icmp_code"])
    ports = ints["icmp_orig_sport"][errors & (ints["icmp_orig_proto"] == 17)]
    return np.unique(ports[ports >= 0])


def _end_ns(packets: pd.DataFrame) -> int:
    """The latest clock-corrected capture time (the node's own where none was corrected)."""
    column = "ts_corrected" if "ts_corrected" in packets.columns else "ts"
    stamps = packets[column].dropna() if column in packets.columns else pd.Series([])
    return int(stamps.max().value) if len(stamps) else NAT_NS


def _file_addresses(packets: pd.DataFrame, file: np.ndarray, files: np.ndarray,
                    known: np.ndarray) -> pd.DataFrame:
    """The distinct (file, address) of the sightings with a known time."""
    columns = [c for c in ("outer_src", "outer_dst", "src", "dst") if c in packets]
    if not columns or not known.any():
        return pd.DataFrame({"file": pd.Series([], dtype=object),
                             "address": pd.Series([], dtype=object)})
    codes, labels = shared_codes([packets[c] for c in columns])
    width = len(labels) + 1
    mine = file[known]
    keys = sorted_unique(np.concatenate([(mine * width + c[known])[c[known] >= 0]
                                         for c in codes]), (int(mine.max()) + 1) * width)
    return pd.DataFrame({"file": files[keys // width].astype(object),
                         "address": labels[keys % width].astype(object)})


def _underlay_evidence(packets: pd.DataFrame, node: np.ndarray, nodes: np.ndarray) -> dict:
    """The ``used``/``sent``/``received``/``tunnel_rows``/``present`` parts of the context,
    on integer codes (addresses in one code space, nodes, directions): a million tunnelled
    sightings cost a few uniques and bincounts, not string operations per row."""
    empty = pd.DataFrame({"address": pd.Series([], dtype=object),
                          "node": pd.Series([], dtype=object)})
    none = {"used": frozenset(), "sent": empty, "received": empty.copy(),
            "tunnel_rows": pd.Series([], dtype=np.int64, index=pd.Index([], name="node")),
            "present": pd.Series([], dtype=np.int64,
                                 index=pd.MultiIndex.from_arrays([[], []],
                                                                 names=["node", "address"]))}
    if not {"outer_src", "outer_dst"} <= set(packets.columns):
        return none
    rows = np.flatnonzero(encapsulated(packets))
    if not len(rows):
        return none
    (src, dst), labels = shared_codes([packets["outer_src"], packets["outer_dst"]])
    used = frozenset(labels[sorted_unique(np.concatenate([src[rows], dst[rows]]),
                                          len(labels))].astype(str))
    known_name = np.array([not str(n).startswith("unknown") for n in nodes] + [False])
    keep = rows[known_name[node[rows]]]
    if "direction" in packets:
        direction, directions = codes_of(packets["direction"])
        way = per_row(direction[keep], np.array([{"out": 1, "in": 2}.get(d, 0)
                                                 for d in directions], dtype=np.int64), 0)
    else:
        way = np.zeros(len(keep), dtype=np.int64)
    node, src, dst = node[keep], src[keep], dst[keep]
    width = len(labels)

    space = (len(nodes) + 1) * width

    def pairs(address: np.ndarray, mask: np.ndarray) -> pd.DataFrame:
        keys = sorted_unique(node[mask] * width + address[mask], space)
        return pd.DataFrame({"address": labels[keys % width].astype(object),
                             "node": nodes[keys // width].astype(object)})

    # a row holding the address as source or destination counts once
    holders = np.concatenate([node * width + src, (node * width + dst)[dst != src]])
    keys, counts = np.unique(holders, return_counts=True)
    present = pd.Series(counts.astype(np.int64), index=pd.MultiIndex.from_arrays(
        [nodes[keys // width].astype(object), labels[keys % width].astype(object)],
        names=["node", "address"]))
    at, per_node = np.unique(node, return_counts=True)
    return {"used": used, "sent": pairs(src, way == 1), "received": pairs(dst, way == 2),
            "tunnel_rows": pd.Series(per_node.astype(np.int64),
                                     index=pd.Index(nodes[at].astype(object), name="node")),
            "present": present}


def merge_contexts(parts: Sequence[PacketContext]) -> PacketContext:
    """One context of several packet tables (the shares of one incident: every sighting of
    a packet is in one share, every file's rows may be in all of them)."""
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
    windows = pd.concat([p.windows for p in parts])
    grouped = windows.groupby(level=0, sort=True)
    windows = pd.DataFrame({"node": grouped["node"].first(), "first": grouped["first"].min(),
                            "last": grouped["last"].max()})
    windows.index = windows.index.astype(object).rename("file")
    addresses = pd.concat([p.addresses for p in parts], ignore_index=True) \
        .drop_duplicates(ignore_index=True)
    addresses = addresses.sort_values(["file", "address"], ignore_index=True)

    def distinct(frames: list[pd.DataFrame]) -> pd.DataFrame:
        return pd.concat(frames, ignore_index=True).drop_duplicates(ignore_index=True) \
            .sort_values(["node", "address"], ignore_index=True)

    def summed(series: list[pd.Series]) -> pd.Series:
        kept = [s for s in series if len(s)]
        if not kept:
            return series[0]
        return pd.concat(kept).groupby(level=list(range(kept[0].index.nlevels)),
                                       sort=True).sum()

    return PacketContext(
        windows=windows, end_ns=max(p.end_ns for p in parts), addresses=addresses,
        used=frozenset().union(*(p.used for p in parts)),
        sent=distinct([p.sent for p in parts]), received=distinct([p.received for p in parts]),
        tunnel_rows=summed([p.tunnel_rows for p in parts]),
        present=summed([p.present for p in parts]),
        too_big_ports=np.unique(np.concatenate([p.too_big_ports for p in parts])),
        decap_nodes=frozenset().union(*(p.decap_nodes for p in parts)))
