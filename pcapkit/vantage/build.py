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
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.util import hash_array

from pcapkit.column_arrays import NAT_NS, codes_of, dense_factorize, per_row, times_ns
from pcapkit.errors import PcapkitError
from pcapkit.schema.convert import STRING, conform, to_kind
from pcapkit.schema.decode import PACKETS
from pcapkit.schema.vantage import DISTINCT, SIGHTINGS
from pcapkit.vantage.clock import chain_offsets, estimate_pairs, pair_samples
from pcapkit.vantage.fingerprint import (
    FINGERPRINT_COLUMNS,
    IP_FINGERPRINT_COLUMNS,
    packet_fingerprints,
)
from pcapkit.vantage.grouping import (
    attach_truncated,
    find_bursts,
    fingerprint_order,
    group_sightings,
)
from pcapkit.vantage.points import node_of_rows, stream_of_rows

if TYPE_CHECKING:
    from pcapkit.decode.files import Decoded

IN_TYPES = ("host", "broadcast", "multicast", "otherhost")
OUT_TYPES = ("outgoing",)
CLOCK_SAMPLE_LIMIT = 200_000  # bursts kept for the clock estimate (see clock_candidates)

@dataclass
class Vantage:
    """Every sighting of every packet, the distinct packets and the clock offsets."""

    packets: pd.DataFrame
    sightings: pd.DataFrame
    distinct: pd.DataFrame
    clock_offsets: pd.DataFrame


def packet_direction(pkt_type: pd.Series) -> pd.Categorical:
    """'in', 'out' or null per row, from the Linux cooked packet type."""
    codes, names = codes_of(pkt_type)
    per_category = np.array([0 if c in OUT_TYPES else 1 if c in IN_TYPES else -1 for c in names],
                            dtype=np.int8)
    row = per_row(codes, per_category, -1)
    return pd.Categorical.from_codes(row.astype(np.int8), categories=["out", "in"],
                                     validate=False)


def build_sightings(decoded: Decoded, points: pd.DataFrame, *, window: float = 1.0,
                    clock_window: float = 300.0) -> Vantage:
    """Recognise each packet across files and interfaces and estimate node clock offsets.

    ``window``: the most two sightings of one packet may be apart after clock correction,
    seconds. ``clock_window``: the wider window of the first pass, which must exceed the
    clock offsets to be found. Raises PcapkitError for bad windows or points that miss files.

    The steps are public so that a partitioned run (``pcapkit.partition``) can do the
    same work a share of the packets at a time: :func:`prepare_rows` per share,
    :func:`clock_candidates` per share, :func:`offsets_from_candidates` once over all of
    them, :func:`group_rows` per share and :func:`number_packets` once.
    """
    check_windows(window, clock_window)
    rows = prepare_rows(decoded.packets, points)
    candidates = clock_candidates(rows, int(clock_window * 1e9))
    offsets = offsets_from_candidates([candidates], rows.names, rows.weights)
    part = group_rows(rows, offsets, int(window * 1e9))
    return finish(part, number_packets([part])[0], offsets)


def check_windows(window: float, clock_window: float) -> None:
    """A PcapkitError unless both windows are non-negative numbers of seconds."""
    for name, value in (("window", window), ("clock_window", clock_window)):
        if not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
            raise PcapkitError(f"{name} must be a non-negative number of seconds, not {value!r}")


@dataclass
class Rows:
    """Packet rows with what grouping needs per row: node, direction, capture point,
    fingerprint and time. ``row`` numbers each row in the whole incident's packet table
    (the tie-break of packet numbering); ``names``/``weights`` are the incident's nodes
    and their sighting counts, the same for every share of one incident."""

    packets: pd.DataFrame
    node: pd.Categorical
    direction: pd.Categorical
    ts_ns: np.ndarray
    hashes: np.ndarray
    eligible: np.ndarray
    keys: np.ndarray
    row: np.ndarray
    names: list[str]
    weights: np.ndarray

    @property
    def node_codes(self) -> np.ndarray:
        return np.asarray(self.node.codes, dtype=np.int64)

    @cached_property
    def by_fingerprint(self) -> np.ndarray:
        """The eligible rows sorted by (fingerprint, node time, row), computed once: the
        clock pass uses it as is, the grouping pass re-sorts only what the clock
        correction reorders (``grouping.resorted``)."""
        return fingerprint_order(self.hashes, self.eligible, self.ts_ns)

    def take(self, positions: np.ndarray) -> Rows:
        """The rows at ``positions``, with the incident-wide names and weights kept."""
        return Rows(self.packets.take(positions).reset_index(drop=True),
                    self.node[positions], self.direction[positions], self.ts_ns[positions],
                    self.hashes[positions], self.eligible[positions], self.keys[positions],
                    self.row[positions], self.names, self.weights)


def prepare_rows(packets: pd.DataFrame, points: pd.DataFrame, *,
                 row: np.ndarray | None = None, point_table: pd.DataFrame | None = None,
                 weights: np.ndarray | None = None) -> Rows:
    """Node, direction, capture point and fingerprint of every row of a packet table.

    For a table that is one share of an incident read on its own, give what only the whole
    incident knows: ``row``, each row's position in the incident's packet table;
    ``point_table``, the incident's capture points (:func:`point_table`); ``weights``,
    sightings per node (in the order of ``points``' nodes)."""
    packets = packets.copy(deep=False).reset_index(drop=True)
    node = node_of_rows(packets, points) if len(packets) else pd.Categorical(
        [], categories=pd.Index(points["node"].astype(str).unique(), dtype=object))
    direction = packet_direction(packets["pkt_type"]) if "pkt_type" in packets else \
        pd.Categorical([None] * len(packets), categories=["out", "in"])
    hashes, eligible = packet_fingerprints(packets)
    node_codes = np.asarray(node.codes, dtype=np.int64)
    names = [str(c) for c in node.categories]
    codes = np.asarray(direction.codes)
    # a capture point is a stream's (its rotated files are one), not a file's
    by_stream = packets.assign(file=stream_of_rows(packets, points)) if len(packets) \
        and "stream" in points else packets
    return Rows(packets=packets, node=node, direction=direction, ts_ns=times_ns(packets["ts"]),
                hashes=hashes, eligible=eligible,
                keys=_point_ids(by_stream, codes) if point_table is None
                else _listed_point_ids(by_stream, codes, point_table),
                row=np.arange(len(packets), dtype=np.int64) if row is None
                else np.asarray(row, dtype=np.int64), names=names,
                weights=np.bincount(node_codes[node_codes >= 0], minlength=len(names))
                if weights is None else np.asarray(weights))


@dataclass
class Grouped:
    """One share's packets grouped: ``local_id`` per row numbers its packets by their
    earliest sighting (corrected time, then incident row); ``first_rows`` is that
    sighting's position per local id, ``first_ns``/``first_row`` its sort key."""

    rows: Rows
    corrected_ns: np.ndarray
    local_id: np.ndarray
    first_rows: np.ndarray

    @property
    def first_ns(self) -> np.ndarray:
        return self.corrected_ns[self.first_rows]

    @property
    def first_row(self) -> np.ndarray:
        return self.rows.row[self.first_rows]


def group_rows(rows: Rows, offsets: pd.DataFrame, window_ns: int) -> Grouped:
    """Clock-corrected times and the packet groups of ``rows`` (one share or all)."""
    node_codes = rows.node_codes
    per_node = offsets.set_index("node")["offset_s"].reindex(rows.names).fillna(0.0).to_numpy()
    shift = np.round(per_node * 1e9).astype(np.int64)
    ts_ns = rows.ts_ns
    corrected_ns = np.where(ts_ns == NAT_NS, NAT_NS,  # a packet without a time keeps none
                            ts_ns - (shift[node_codes] if len(shift) else 0))
    groups = group_sightings(rows.hashes, rows.eligible, corrected_ns, rows.keys, window_ns,
                             rows.by_fingerprint)
    groups = _attach_truncated(rows.packets, groups, rows.eligible, corrected_ns, rows.keys,
                               window_ns)
    local_id, first_rows = _number_packets(groups, corrected_ns, rows.row)
    return Grouped(rows, corrected_ns, local_id, first_rows)


def number_packets(parts: list[Grouped]) -> list[np.ndarray]:
    """The incident-wide ``packet_id`` of every row of each share: packets numbered by
    their earliest sighting (corrected time, then row) across all shares."""
    first_ns = np.concatenate([p.first_ns for p in parts]) if parts else np.zeros(0, np.int64)
    first_row = np.concatenate([p.first_row for p in parts]) if parts else first_ns
    rank = np.empty(len(first_ns), dtype=np.int64)
    rank[np.lexsort((first_row, first_ns))] = np.arange(len(first_ns))
    out, start = [], 0
    for part in parts:
        n = len(part.first_rows)
        out.append(rank[start:start + n][part.local_id])
        start += n
    return out


def finish(part: Grouped, packet_id: np.ndarray, offsets: pd.DataFrame) -> Vantage:
    """The vantage tables of one share (or the whole incident) with its ``packet_id``s."""
    rows = part.rows
    packets = rows.packets
    added = {"node": rows.node, "direction": rows.direction, "packet_id": packet_id,
             "ts_corrected": part.corrected_ns, "point_id": rows.keys}
    for name, values in added.items():
        packets[name] = to_kind(values, PACKETS[name].kind)
    # local ids run in the same order as the incident-wide ones: count with them
    return Vantage(packets=packets, sightings=_sightings(packets),
                   distinct=_distinct(packets, part.local_id, part.first_rows,
                                      rows.node_codes, rows.names),
                   clock_offsets=offsets)


def seen_once(packets: pd.DataFrame) -> Vantage:
    """The vantage view of a table whose every row is a packet of its own, seen once (one
    capture read alone, or a distinct-packet table without its sightings): the tables
    build_sightings gives, with nothing to match.

    A column the stage adds is kept where the table has it (a distinct-packet table keeps
    its packet_id); else node ``unknown``, direction from the SLL packet type, packet_id =
    row number, ts_corrected = ts (no clock to correct) and point_id (:func:`point_ids_of`).
    Decoder columns the table lacks stay absent from the sightings too.
    """
    table = packets.copy(deep=False).reset_index(drop=True)
    n = len(table)
    if "node" not in table:
        table["node"] = pd.Categorical.from_codes(np.zeros(n, np.int8), categories=["unknown"])
    if "direction" not in table:
        table["direction"] = packet_direction(table["pkt_type"]) if "pkt_type" in table else \
            pd.Categorical([None] * n, categories=["out", "in"])
    added = {"packet_id": np.arange(n, dtype=np.int64),
             "ts_corrected": table["ts"] if "ts" in table
             else np.full(n, NAT_NS, dtype=np.int64),
             "point_id": point_ids_of(table)}
    for name, values in added.items():
        if name not in table:
            table[name] = to_kind(values, PACKETS[name].kind)
    node_codes, names = codes_of(table["node"])
    weights = np.bincount(node_codes[node_codes >= 0], minlength=len(names))
    rows = np.arange(n, dtype=np.int64)
    present = [name for name in SIGHTINGS.names if name in table]
    sightings = _sightings(table) if len(present) == len(SIGHTINGS.names) else \
        table[present].sort_values("packet_id", kind="stable").reset_index(drop=True)
    return Vantage(packets=table, sightings=sightings,
                   distinct=_distinct(table, rows, rows, node_codes, list(names)),
                   clock_offsets=chain_offsets(list(names), weights, []))


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


#: what names a capture point besides its direction (a column a table lacks is left out)
POINT_COLUMNS = ("file", "interface", "if_index")


def point_table(packets: pd.DataFrame) -> pd.DataFrame:
    """The capture points of a packet table in order of first appearance, as
    ``_point_ids`` numbers them: (file, interface, if_index, direction code); the tables
    of consecutive parts of an incident (its files in order), concatenated, each file
    replaced by its stream (``capture_points``' ``stream``) and de-duplicated, number the
    incident's points (``prepare_rows(point_table=...)``)."""
    direction = np.asarray(packet_direction(packets["pkt_type"]).codes) if "pkt_type" in \
        packets else np.full(len(packets), -1, np.int8)
    return _first_points(packets, direction)[1]


def _first_points(packets: pd.DataFrame, direction: np.ndarray
                  ) -> tuple[np.ndarray, pd.DataFrame]:
    """(the table's own point id per row, the point columns of each id's first row)."""
    ids = _point_ids(packets, direction)
    first = np.unique(ids, return_index=True)[1]
    rows = packets.iloc[first]
    frame = {name: rows[name].astype(object).fillna("\0").astype(str).to_numpy()
             for name in POINT_COLUMNS if name in rows}
    return ids, pd.DataFrame({**frame,
                              "direction": np.asarray(direction, dtype=np.int64)[first]})


def _listed_point_ids(packets: pd.DataFrame, direction: np.ndarray,
                      points: pd.DataFrame) -> np.ndarray:
    """The position in ``points`` (a concatenated ``point_table``) of every row's point."""
    ids, own = _first_points(packets, direction)
    index = pd.MultiIndex.from_frame(points.drop_duplicates(ignore_index=True))
    found = index.get_indexer(pd.MultiIndex.from_frame(own))
    if (found < 0).any():
        raise PcapkitError("a packet's capture point is not in the incident's point table")
    return found.astype(np.int64)[ids]


def _point_ids(packets: pd.DataFrame, direction: np.ndarray) -> np.ndarray:
    """The capture point of every row: one dense id (numbered by first appearance) per
    (file, interface, if_index, direction code); a column the table lacks is left out."""
    parts = [codes_of(packets[name])[0] for name in POINT_COLUMNS if name in packets]
    parts.append(np.asarray(direction, dtype=np.int64))
    combined = np.zeros(len(packets), dtype=np.int64)
    span = 1
    for codes in parts:   # mixed radix, renumbered before it could overflow
        width = int(codes.max(initial=-1)) + 2
        if span * width >= 2**62:
            combined = pd.factorize(combined)[0].astype(np.int64)
            span = int(combined.max(initial=0)) + 1
        combined = combined * width + (codes + 1)
        span *= width
    return pd.factorize(combined)[0].astype(np.int64)


def point_ids_of(table: pd.DataFrame) -> np.ndarray:
    """The capture point (``point_id``) of every row of a packet or sightings table: its
    column when the table has one, else worked out as build_sightings does from the columns
    the table has (direction from the SLL ``pkt_type`` when it has no ``direction``). A
    column it lacks is left out, so more rows share a point: the safe side for the checks
    that refuse what one point saw twice."""
    if "point_id" in table.columns:
        return table["point_id"].to_numpy(dtype=np.int64, na_value=-1)
    if "direction" in table.columns:
        direction = codes_of(table["direction"])[0]
    elif "pkt_type" in table.columns:
        direction = np.asarray(packet_direction(table["pkt_type"]).codes)
    else:
        direction = np.full(len(table), -1, dtype=np.int64)
    return _point_ids(table, direction)


def clock_candidates(rows: Rows, clock_window_ns: int,
                     limit: int = CLOCK_SAMPLE_LIMIT) -> pd.DataFrame:
    """The sightings that may serve the clock estimate: packets seen on several nodes
    within the wide first-pass window, in bursts where no vantage key repeats; at most
    the ``limit`` bursts first in (fingerprint, time) order, so that the candidates of
    several shares, thinned again by :func:`offsets_from_candidates`, are exactly those
    of the whole incident. One row per sighting (``CANDIDATE_COLUMNS``)."""
    if len(rows.names) < 2:
        return pd.DataFrame({c: np.zeros(0, np.int64) for c in CANDIDATE_COLUMNS})
    node_codes = rows.node_codes
    bursts = find_bursts(rows.hashes, rows.eligible, rows.ts_ns, rows.keys, clock_window_ns,
                         rows.by_fingerprint)
    clean = ~bursts.repeated
    order = bursts.order[clean]
    burst = bursts.burst[clean]
    nodes = node_codes[order]
    first = np.r_[True, burst[1:] != burst[:-1]] if len(burst) else np.zeros(0, bool)
    changes = np.r_[False, (nodes[1:] != nodes[:-1]) & ~first[1:]] if len(burst) else first
    shared_burst = np.zeros(int(burst.max()) + 1 if len(burst) else 0, dtype=bool)
    shared_burst[burst[changes]] = True
    keep = shared_burst[burst]
    order, burst = order[keep], burst[keep]
    starts = np.r_[True, burst[1:] != burst[:-1]] if len(burst) else np.zeros(0, bool)
    burst_hash = rows.hashes[order][starts]
    burst_ns = rows.ts_ns[order][starts]
    chosen = np.zeros(len(burst_hash), dtype=bool)
    chosen[:limit] = True    # bursts arrive sorted by (fingerprint, time)
    index = np.cumsum(starts) - 1
    keep = chosen[index] if len(index) else np.zeros(0, bool)
    order, index = order[keep], index[keep]
    packets = rows.packets
    direction_sign = np.array([1, -1], dtype=np.int64)
    dir_codes = np.asarray(rows.direction.codes)[order]
    return pd.DataFrame({
        "burst_hash": burst_hash[index], "burst_ns": burst_ns[index],
        "node": node_codes[order], "ts": rows.ts_ns[order],
        "ttl": (packets["ttl"].to_numpy(dtype=np.int64, na_value=-1)[order]
                if "ttl" in packets else np.full(len(order), -1, np.int64)),
        "direction": np.where(dir_codes >= 0, direction_sign[np.maximum(dir_codes, 0)], 0),
        "tunnelled": (packets["outer_src"].notna().to_numpy()[order] if "outer_src" in packets
                      else np.zeros(len(order), bool)),
        "src": _address_hashes(packets["src"], order),
        "dst": _address_hashes(packets["dst"], order),
    })


CANDIDATE_COLUMNS = ("burst_hash", "burst_ns", "node", "ts", "ttl", "direction", "tunnelled",
                     "src", "dst")


def offsets_from_candidates(candidates: list[pd.DataFrame], names: list[str],
                            weights: np.ndarray,
                            limit: int = CLOCK_SAMPLE_LIMIT) -> pd.DataFrame:
    """The clock_offsets table from the candidates of every share (:func:`clock_candidates`,
    node codes into ``names``): the first ``limit`` bursts in (fingerprint, time) order."""
    frame = pd.concat(candidates, ignore_index=True) if candidates else pd.DataFrame()
    if len(names) < 2 or not len(frame):
        return chain_offsets(names, weights, [])
    burst_hash = frame["burst_hash"].to_numpy(dtype=np.uint64)
    burst_ns = frame["burst_ns"].to_numpy(dtype=np.int64)
    order = np.lexsort((burst_ns, burst_hash))
    key_h, key_t = burst_hash[order], burst_ns[order]
    starts = np.r_[True, (key_h[1:] != key_h[:-1]) | (key_t[1:] != key_t[:-1])]
    burst = np.cumsum(starts) - 1
    keep = burst < limit
    order, burst = order[keep], burst[keep]
    take = {c: frame[c].to_numpy()[order] for c in CANDIDATE_COLUMNS}
    samples = pair_samples(burst, take["node"], take["ts"], take["ttl"], take["direction"],
                           take["tunnelled"].astype(bool), take["src"], take["dst"])
    return chain_offsets(names, weights, estimate_pairs(samples, names))


def _address_hashes(addresses: pd.Series, rows: np.ndarray) -> np.ndarray:
    """A 63-bit hash of each address text at ``rows``: one value per address whichever
    share it is in (codes differ between shares), comparable for equality."""
    codes, labels = codes_of(addresses.iloc[rows])
    per_label = (hash_array(np.asarray(labels, dtype=object), categorize=False)
                 >> np.uint64(1)).astype(np.int64)
    return per_row(codes, per_label, -1)


def _number_packets(groups: np.ndarray, corrected_ns: np.ndarray,
                    row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Packet ids numbered by first sighting (corrected time, then ``row``); the position
    of each packet's earliest sighting."""
    n = len(groups)
    if not n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.lexsort((row, corrected_ns))
    size = int(groups.max()) + 1
    codes, uniques = dense_factorize(groups[order], size)  # group ids are below n
    renumber = np.empty(size, dtype=np.int64)
    renumber[uniques] = np.arange(len(uniques))
    packet_id = renumber[groups]
    first_position = np.r_[True, codes[1:] > np.maximum.accumulate(codes)[:-1]]
    first_rows = order[first_position]
    return packet_id, first_rows


def _sightings(packets: pd.DataFrame) -> pd.DataFrame:
    order = np.lexsort((packets["ts_corrected"].to_numpy(dtype="datetime64[ns]").view(np.int64),
                        packets["packet_id"].to_numpy(dtype=np.int64)))
    return conform(packets[SIGHTINGS.names].take(order).reset_index(drop=True), SIGHTINGS)


def _distinct(packets: pd.DataFrame, packet_id: np.ndarray, first_rows: np.ndarray,
              node_codes: np.ndarray, names: list[str]) -> pd.DataFrame:
    distinct = packets.take(first_rows).reset_index(drop=True)
    count = np.bincount(packet_id, minlength=len(first_rows))
    distinct["n_sightings"] = to_kind(count, DISTINCT["n_sightings"].kind)
    distinct["nodes"] = to_kind(_node_lists(packet_id, node_codes, names, len(first_rows)),
                                DISTINCT["nodes"].kind)
    return distinct


def _node_lists(packet_id: np.ndarray, node_codes: np.ndarray, names: list[str],
                n_packets: int) -> pd.Series:
    """Sorted comma-separated node names per packet, via a node bitmask per packet."""
    if not n_packets:
        return pd.Series([], dtype=STRING)
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
    return pd.Series(as_arrow, dtype=STRING)


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
    return pd.Series(as_arrow, dtype=STRING)


__all__ = ["Vantage", "build_sightings", "packet_direction", "point_ids_of", "seen_once",
           "prepare_rows", "clock_candidates", "offsets_from_candidates", "group_rows",
           "number_packets", "finish"]
