"""Assemble the vantage view: packet ids across sightings, clock offsets, distinct packets.

Steps (all vectorised):
1. node per row from the capture points, direction from the SLL packet type;
2. fingerprint of the innermost IP packet (``fingerprint``);
3. first pass on raw times with a wide window (``clock_window``), keeping only bursts in which
   no vantage key repeats (unambiguous matches), to estimate clock offsets (``clock``);
4. second pass on corrected times with ``window``: packet ids (``grouping``), then
   snaplen-cut copies attached to fuller copies of the same packet;
5. tables: ``packets`` (+ node, direction, packet_id, ts_corrected), ``sightings``,
   ``distinct`` (earliest sighting per packet + n_sightings, nodes), ``clock_offsets``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from pcapkit.errors import PcapkitError
from pcapkit.vantage.categories import as_categorical, per_row
from pcapkit.vantage.clock import CLOCK_COLUMNS, chain_offsets, estimate_pairs, pair_samples
from pcapkit.vantage.fingerprint import (
    FINGERPRINT_COLUMNS,
    IP_FINGERPRINT_COLUMNS,
    packet_fingerprints,
)
from pcapkit.vantage.grouping import attach_truncated, find_bursts, group_sightings
from pcapkit.vantage.points import node_of_rows

if TYPE_CHECKING:
    from pcapkit.decode.files import Decoded

IN_TYPES = ("host", "broadcast", "multicast", "otherhost")
OUT_TYPES = ("outgoing",)
CLOCK_SAMPLE_LIMIT = 200_000  # packets kept for the clock estimate (see _thin_bursts)

SIGHTING_COLUMNS: dict[str, str] = {
    "packet_id": "Distinct packet this sighting belongs to (same id on every vantage point).",
    "file": "Capture file of the sighting.",
    "frame": "Frame number in that file.",
    "node": "Node the file was captured on.",
    "interface": "Capture interface (pcapng name, else the interface index).",
    "if_index": "Linux ifindex from SLL2 (tcpdump -i any): tells veth, bridge, tunnel, NIC apart.",
    "direction": "'out' (SLL outgoing), 'in' (host/broadcast/multicast/otherhost), null if unknown.",
    "encap": "Tunnel stack around the packet at this vantage point ('none' when bare).",
    "vni": "VXLAN/Geneve VNI of the sighting.",
    "outer_src": "Underlay source address (tunnelled sightings).",
    "outer_dst": "Underlay destination address (tunnelled sightings).",
    "ttl": "Innermost TTL at this vantage point (decreases hop by hop).",
    "outer_ttl": "Outer TTL at this vantage point.",
    "ts": "Capture time as recorded by the node.",
    "ts_corrected": "Capture time shifted by the node's estimated clock offset.",
}
PACKET_EXTRA_COLUMNS: dict[str, str] = {
    "node": "Node the file was captured on (capture point).",
    "direction": "'in' / 'out' from the SLL packet type; null when the link type has none.",
    "packet_id": "Distinct packet id, shared by all sightings of one packet.",
    "ts_corrected": "ts minus the node's clock offset against the reference node.",
}
DISTINCT_EXTRA_COLUMNS: dict[str, str] = {
    "n_sightings": "How many times (interfaces, nodes) the packet was captured.",
    "nodes": "Sorted comma-separated names of the nodes that saw it.",
}


@dataclass
class Vantage:
    """Every sighting of every packet, the distinct packets and the clock offsets."""

    packets: pd.DataFrame
    sightings: pd.DataFrame
    distinct: pd.DataFrame
    clock_offsets: pd.DataFrame


def packet_direction(pkt_type: pd.Series) -> pd.Categorical:
    """'in', 'out' or null per row, from the Linux cooked packet type."""
    kind = as_categorical(pkt_type)
    names = [str(c) for c in kind.categories]
    per_category = np.array([0 if c in OUT_TYPES else 1 if c in IN_TYPES else -1 for c in names],
                            dtype=np.int8)
    row = per_row(np.asarray(kind.codes), per_category, -1)
    return pd.Categorical.from_codes(row.astype(np.int8), categories=["out", "in"],
                                     validate=False)


def build_sightings(decoded: Decoded, points: pd.DataFrame, *, window: float = 1.0,
                    clock_window: float = 300.0) -> Vantage:
    """Recognise each packet across files and interfaces and estimate node clock offsets.

    ``window``: the most two sightings of one packet may be apart after clock correction,
    seconds. ``clock_window``: the wider window of the first pass, which must exceed the
    clock offsets to be found. Raises PcapkitError for bad windows or points that miss files.
    """
    for name, value in (("window", window), ("clock_window", clock_window)):
        if not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
            raise PcapkitError(f"{name} must be a non-negative number of seconds, not {value!r}")
    packets = decoded.packets.copy(deep=False).reset_index(drop=True)
    node = node_of_rows(packets, points) if len(packets) else pd.Categorical(
        [], categories=pd.Index(points["node"].astype(str).unique(), dtype=object))
    direction = packet_direction(packets["pkt_type"]) if "pkt_type" in packets else \
        pd.Categorical([None] * len(packets), categories=["out", "in"])
    ts_ns = packets["ts"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    hashes, eligible = packet_fingerprints(packets)
    keys = _vantage_keys(packets, direction)
    node_codes = np.asarray(node.codes, dtype=np.int64)
    names = [str(c) for c in node.categories]
    weights = np.bincount(node_codes[node_codes >= 0], minlength=len(names))

    offsets = _clock_offsets(packets, hashes, eligible, ts_ns, keys, node_codes, names, weights,
                             direction, int(clock_window * 1e9))
    per_node = offsets.set_index("node")["offset_s"].reindex(names).fillna(0.0).to_numpy()
    shift = np.round(per_node * 1e9).astype(np.int64)
    corrected_ns = ts_ns - (shift[node_codes] if len(shift) else 0)
    groups = group_sightings(hashes, eligible, corrected_ns, keys, int(window * 1e9))
    groups = _attach_truncated(packets, groups, eligible, corrected_ns, keys, int(window * 1e9))
    packet_id, first_rows = _number_packets(groups, corrected_ns)

    packets["node"] = node
    packets["direction"] = direction
    packets["packet_id"] = pd.array(packet_id, dtype="Int64")
    packets["ts_corrected"] = pd.Series(corrected_ns.view("datetime64[ns]"),
                                        index=packets.index).dt.tz_localize("UTC")
    return Vantage(packets=packets, sightings=_sightings(packets),
                   distinct=_distinct(packets, packet_id, first_rows, node_codes, names),
                   clock_offsets=offsets)


def _attach_truncated(packets: pd.DataFrame, groups: np.ndarray, eligible: np.ndarray,
                      corrected_ns: np.ndarray, keys: np.ndarray, window_ns: int) -> np.ndarray:
    """Second chance for snaplen-cut copies (see ``grouping.attach_truncated``)."""
    if "truncated" not in packets or "ip_id" not in packets:
        return groups
    truncated = packets["truncated"].to_numpy(dtype=bool, na_value=False)
    if not truncated.any():
        return groups
    ip_hashes, _ = packet_fingerprints(packets, IP_FINGERPRINT_COLUMNS)
    usable = eligible & packets["ip_id"].notna().to_numpy()
    completeness = np.zeros(len(packets), dtype=np.int64)
    for name in FINGERPRINT_COLUMNS:
        if name in packets:
            completeness += packets[name].notna().to_numpy()
    return attach_truncated(groups, ip_hashes, usable, truncated, completeness, corrected_ns,
                            keys, window_ns)


def _vantage_keys(packets: pd.DataFrame, direction: pd.Categorical) -> np.ndarray:
    """One integer per (file, interface, if_index, direction): a single vantage point."""
    parts = []
    for name in ("file", "interface"):
        if name not in packets:
            parts.append(np.zeros(len(packets), np.int64))
            continue
        parts.append(np.asarray(as_categorical(packets[name]).codes, dtype=np.int64) + 1)
    if "if_index" in packets:
        codes, _ = pd.factorize(packets["if_index"].to_numpy(dtype=np.int64, na_value=-1))
        parts.append(codes.astype(np.int64))
    parts.append(np.asarray(direction.codes, dtype=np.int64) + 1)
    combined = np.zeros(len(packets), dtype=np.int64)
    for part in parts:
        combined = combined * (int(part.max()) + 1 if len(part) else 1) + part
    return combined


def _clock_offsets(packets: pd.DataFrame, hashes: np.ndarray, eligible: np.ndarray,
                   ts_ns: np.ndarray, keys: np.ndarray, node_codes: np.ndarray,
                   names: list[str], weights: np.ndarray, direction: pd.Categorical,
                   clock_window_ns: int) -> pd.DataFrame:
    """Clock offset of every node (CLOCK_COLUMNS), from packets seen on several nodes within
    the wide first-pass window, in bursts where no vantage key repeats."""
    if len(names) < 2:
        return chain_offsets(names, weights, [])
    bursts = find_bursts(hashes, eligible, ts_ns, keys, clock_window_ns)
    clean = ~bursts.repeated
    rows = bursts.order[clean]
    burst = bursts.burst[clean]
    nodes = node_codes[rows]
    first = np.r_[True, burst[1:] != burst[:-1]] if len(burst) else np.zeros(0, bool)
    changes = np.r_[False, (nodes[1:] != nodes[:-1]) & ~first[1:]] if len(burst) else first
    shared_burst = np.zeros(int(burst.max()) + 1 if len(burst) else 0, dtype=bool)
    shared_burst[burst[changes]] = True
    keep = shared_burst[burst]
    rows, burst = rows[keep], burst[keep]
    rows, burst = _thin_bursts(rows, burst, CLOCK_SAMPLE_LIMIT)
    if not len(rows):
        return chain_offsets(names, weights, [])
    src, dst = _shared_codes(packets["src"], packets["dst"], rows)
    direction_sign = np.array([1, -1], dtype=np.int64)
    dir_codes = np.asarray(direction.codes)[rows]
    ttl = (packets["ttl"].to_numpy(dtype=np.int64, na_value=-1)[rows] if "ttl" in packets
           else np.full(len(rows), -1, np.int64))
    tunnelled = (packets["outer_src"].notna().to_numpy()[rows] if "outer_src" in packets
                 else np.zeros(len(rows), bool))
    samples = pair_samples(
        burst, node_codes[rows], ts_ns[rows], ttl,
        np.where(dir_codes >= 0, direction_sign[np.maximum(dir_codes, 0)], 0),
        tunnelled, src, dst)
    return chain_offsets(names, weights, estimate_pairs(samples, names))


def _thin_bursts(rows: np.ndarray, burst: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep at most ``limit`` packets for the clock estimate, evenly spread over the bursts."""
    if not len(burst):
        return rows, burst
    unique = burst[np.r_[True, burst[1:] != burst[:-1]]]  # bursts arrive sorted
    if len(unique) <= limit:
        return rows, burst
    chosen = np.zeros(int(unique[-1]) + 1, dtype=bool)
    chosen[unique[np.linspace(0, len(unique) - 1, limit).astype(np.int64)]] = True
    keep = chosen[burst]
    return rows[keep], burst[keep]


def _shared_codes(src: pd.Series, dst: pd.Series,
                  rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of two address columns at ``rows``, in one code space (so src == dst compares)."""
    cats = [as_categorical(src), as_categorical(dst)]
    space = pd.Index(np.concatenate([np.asarray(c.categories.astype(str), dtype=object)
                                     for c in cats])).unique()
    out = [per_row(np.asarray(cat.codes)[rows], space.get_indexer(cat.categories.astype(str)), -1)
           for cat in cats]
    return out[0], out[1]


def _number_packets(groups: np.ndarray, corrected_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Packet ids numbered by first sighting time; the row of each packet's earliest sighting."""
    n = len(groups)
    if not n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.lexsort((np.arange(n), corrected_ns))
    codes, uniques = pd.factorize(groups[order])
    renumber = np.empty(int(groups.max()) + 1, dtype=np.int64)
    renumber[uniques] = np.arange(len(uniques))
    packet_id = renumber[groups]
    first_position = np.r_[True, codes[1:] > np.maximum.accumulate(codes)[:-1]]
    first_rows = order[first_position]
    return packet_id, first_rows


def _sightings(packets: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in SIGHTING_COLUMNS if c in packets]
    order = np.lexsort((packets["ts_corrected"].to_numpy(dtype="datetime64[ns]").view(np.int64),
                        packets["packet_id"].to_numpy(dtype=np.int64)))
    return packets[columns].take(order).reset_index(drop=True)


def _distinct(packets: pd.DataFrame, packet_id: np.ndarray, first_rows: np.ndarray,
              node_codes: np.ndarray, names: list[str]) -> pd.DataFrame:
    distinct = packets.take(first_rows).reset_index(drop=True)
    count = np.bincount(packet_id, minlength=len(first_rows))
    distinct["n_sightings"] = pd.array(count, dtype="Int64")
    distinct["nodes"] = _node_lists(packet_id, node_codes, names, len(first_rows))
    return distinct


def _node_lists(packet_id: np.ndarray, node_codes: np.ndarray, names: list[str],
                n_packets: int) -> pd.Series:
    """Sorted comma-separated node names per packet, via a node bitmask per packet."""
    if not n_packets:
        return pd.Series([], dtype="str")
    rank = {name: i for i, name in enumerate(sorted(names))}
    if len(names) > 62:  # too many for a 64-bit mask
        return _node_lists_many(packet_id, node_codes, names, n_packets, rank)
    bit = np.array([np.int64(1) << rank[name] for name in names] + [0], dtype=np.int64)
    masks = np.zeros(n_packets, dtype=np.int64)
    np.bitwise_or.at(masks, packet_id, bit[np.where(node_codes >= 0, node_codes, -1)])
    if len(names) <= 20:  # few nodes: a lookup table over every possible mask
        present = np.bincount(masks, minlength=1)
        unique_masks = np.flatnonzero(present)
        lookup = np.zeros(len(present), dtype=np.int64)
        lookup[unique_masks] = np.arange(len(unique_masks))
        inverse = lookup[masks]
    else:
        unique_masks, inverse = np.unique(masks, return_inverse=True)
    ordered = sorted(names)
    labels = [",".join(n for i, n in enumerate(ordered) if int(m) >> i & 1)
              for m in unique_masks]
    as_arrow = pa.array(labels, pa.large_string()).take(pa.array(inverse))
    return pd.Series(as_arrow, dtype=pd.StringDtype("pyarrow", na_value=np.nan))


def _node_lists_many(packet_id: np.ndarray, node_codes: np.ndarray, names: list[str],
                     n_packets: int, rank: dict[str, int]) -> pd.Series:
    """The same as the bitmask path for any number of nodes: each packet's node set
    gets an order-free 64-bit hash (a sum of random weights, one per node), each
    distinct set is labelled once from one packet that has it."""
    ranks = np.array([rank[name] for name in names], dtype=np.int64)
    seen = node_codes >= 0
    pairs = np.unique(packet_id[seen].astype(np.int64) * len(names) + ranks[node_codes[seen]])
    packet, node = pairs // len(names), pairs % len(names)
    weights = np.random.default_rng(0x5EED).integers(1, 2**63, size=len(names), dtype=np.uint64)
    key = np.zeros(n_packets, dtype=np.uint64)
    np.add.at(key, packet, weights[node])
    unique_keys, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    ordered = sorted(names)
    starts = np.searchsorted(packet, first, side="left")
    stops = np.searchsorted(packet, first, side="right")
    labels = [",".join(ordered[r] for r in node[a:b]) for a, b in zip(starts, stops, strict=True)]
    as_arrow = pa.array(labels, pa.large_string()).take(pa.array(inverse.ravel()))
    return pd.Series(as_arrow, dtype=pd.StringDtype("pyarrow", na_value=np.nan))


__all__ = ["CLOCK_COLUMNS", "DISTINCT_EXTRA_COLUMNS", "PACKET_EXTRA_COLUMNS",
           "SIGHTING_COLUMNS", "Vantage", "build_sightings", "packet_direction"]
