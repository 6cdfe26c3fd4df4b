"""Where each flow direction was seen: nodes, interfaces, tunnels, underlay pairs, TTLs.

Built from the sightings table (one row per time any capture saw a packet), so a packet seen
on a pod veth, the bridge, the VXLAN device and the underlay NIC contributes all four
places. Set-valued columns are sorted, comma-separated strings so they stay parquet-friendly
and easy to compare: ``orig_outer_pairs == "192.168.100.11>192.168.100.12"`` while
``resp_outer_pairs == "192.168.100.13>192.168.100.11"`` is an asymmetric underlay route.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pcapkit.column_arrays import codes_of, dense_factorize
from pcapkit.flows.groups import set_labels
from pcapkit.ingest.links import names_device

#: Set-valued path columns per direction and what they list.
PATH_SETS = ("nodes", "interfaces", "encaps", "outer_pairs", "vnis")


def _group_of_sightings(packet_ids: np.ndarray, pid: np.ndarray,
                        group: np.ndarray) -> np.ndarray:
    """(flow*2 + direction) of each sighting's packet, -1 when not in a flow."""
    if not len(pid):
        return np.full(len(packet_ids), -1, dtype=np.int64)
    low, high = int(pid.min()), int(pid.max())
    if low >= 0 and high < 4 * (len(pid) + len(packet_ids)) + 1024:
        lookup = np.full(high + 1, -1, dtype=np.int64)
        lookup[pid] = group
        valid = (packet_ids >= 0) & (packet_ids <= high)
        out = np.full(len(packet_ids), -1, dtype=np.int64)
        out[valid] = lookup[packet_ids[valid]]
        return out
    where = pd.Index(pid).get_indexer(packet_ids)
    return np.where(where >= 0, group[np.maximum(where, 0)], -1)


def flow_of_sightings(packet_ids: np.ndarray, pid: np.ndarray,
                      flow: np.ndarray) -> np.ndarray:
    """The flow of each sighting's packet (``pid``/``flow``: every packet in a flow), -1 when
    its packet is in none."""
    return _group_of_sightings(packet_ids, pid, flow)


def interface_labels(sightings: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """"node:interface" per sighting: the interface's device name (a pcapng interface's,
    or the one the node's interface list gives an SLL2 ifindex: ingest/links.py); an SLL2
    ifindex nothing names is ``if<n>`` (a capture on ``any`` names no device). Codes of
    the labels per row, numbered by first appearance, and the labels.

    A sightings table's capture points (``point_id``: file, interface, ifindex and
    direction) each name one place, so the labels are worked out on each point's first row
    and spread through the point ids (no hash over every row)."""
    if "point_id" in sightings.columns and len(sightings):
        ids = sightings["point_id"].to_numpy(dtype=np.int64, na_value=-1)
        if ids.min() >= 0:
            point, points = dense_factorize(ids)
            first = np.full(len(points), len(ids), dtype=np.int64)
            np.minimum.at(first, point, np.arange(len(ids), dtype=np.int64))
            place, labels = _row_labels(sightings.iloc[first])
            return place[point], labels
    return _row_labels(sightings)


def _row_labels(sightings: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``interface_labels`` from each row's node, interface and ifindex."""
    node, node_labels = codes_of(sightings["node"]) if "node" in sightings.columns else (
        np.zeros(len(sightings), np.int64), np.array(["unknown"], dtype=object))
    iface, iface_labels = codes_of(sightings["interface"]) if "interface" in sightings.columns \
        else (np.full(len(sightings), -1, np.int64), np.array([], dtype=object))
    index = (sightings["if_index"].to_numpy(dtype=np.int64, na_value=-1)
             if "if_index" in sightings.columns else np.full(len(sightings), -1, np.int64))
    # One int64 per (node, interface, ifindex): 15 + 15 + 33 bits.
    combined = ((np.maximum(node, -1) + 1) << 48) | ((np.maximum(iface, -1) + 1) << 33) \
        | (np.maximum(index, -1) + 1)
    codes, packed = pd.factorize(combined)
    uniques = [(int(p >> 48) - 1, int((p >> 33) & 0x7FFF) - 1, int(p & ((1 << 33) - 1)) - 1)
               for p in packed]
    labels = []
    for n, i, x in uniques:
        given = str(iface_labels[i]) if i >= 0 else ""
        where = (given if names_device(given) else f"if{x}" if x >= 0
                 else given or "?")
        labels.append(f"{node_labels[n] if n >= 0 else 'unknown'}:{where}")
    # one place per label: a device seen through -i any and through its own capture
    # (dumpcap -i any -i eth0) is one place, node1:eth0
    same, unique = pd.factorize(np.array(labels, dtype=object))
    return same[codes].astype(np.int64), np.asarray(unique, dtype=object)


def _outer_pairs(sightings: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if not {"outer_src", "outer_dst"} <= set(sightings.columns):
        return np.full(len(sightings), -1, np.int64), np.array([], dtype=object)
    src, src_labels = codes_of(sightings["outer_src"])
    dst, dst_labels = codes_of(sightings["outer_dst"])
    both = (src >= 0) & (dst >= 0)
    key = np.where(both, src * (len(dst_labels) + 1) + dst, -1)
    codes, uniques = pd.factorize(key[both])
    out = np.full(len(key), -1, dtype=np.int64)
    out[both] = codes
    width = len(dst_labels) + 1
    labels = np.array([f"{src_labels[u // width]}>{dst_labels[u % width]}" for u in uniques],
                      dtype=object)
    return out, labels


def flow_paths(sightings: pd.DataFrame, pid: np.ndarray, group: np.ndarray,
               n_flows: int) -> dict[str, np.ndarray]:
    """Path columns per flow: ``orig_<x>`` and ``resp_<x>`` for x in PATH_SETS, plus
    ``*_encapsulated``, ``*_sightings``, ``*_ttl_min`` and ``*_ttl_max``."""
    n_groups = 2 * n_flows
    packet_ids = pd.to_numeric(sightings["packet_id"]).to_numpy(dtype=np.int64, na_value=-1) \
        if len(sightings) else np.zeros(0, np.int64)
    g = _group_of_sightings(packet_ids, pid, group)
    keep = np.flatnonzero(g >= 0)
    seen = sightings.iloc[keep]
    g = g[keep]
    sets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    sets["nodes"] = codes_of(seen["node"]) if "node" in seen.columns else (
        np.zeros(len(seen), np.int64), np.array(["unknown"], dtype=object))
    sets["interfaces"] = interface_labels(seen)
    encap_codes, encap_labels = (codes_of(seen["encap"]) if "encap" in seen.columns else
                                 (np.full(len(seen), -1, np.int64), np.array([], object)))
    sets["encaps"] = (encap_codes, encap_labels)
    sets["outer_pairs"] = _outer_pairs(seen)
    sets["vnis"] = codes_of(seen["vni"]) if "vni" in seen.columns else (
        np.full(len(seen), -1, np.int64), np.array([], dtype=object))
    per_group: dict[str, np.ndarray] = {
        name: set_labels(g, codes, labels, n_groups) for name, (codes, labels) in sets.items()}
    tunnel = np.isin(encap_labels, ["none"], invert=True)
    wrapped = (encap_codes >= 0) & tunnel[np.maximum(encap_codes, 0)] if len(encap_labels) \
        else np.zeros(len(g), bool)
    per_group["encapsulated"] = np.bincount(g[wrapped], minlength=n_groups) > 0
    per_group["sightings"] = np.bincount(g, minlength=n_groups).astype(np.int64)
    ttl = (seen["ttl"].to_numpy(dtype=np.float64, na_value=np.nan) if "ttl" in seen.columns
           else np.full(len(g), np.nan))
    low = np.full(n_groups, np.nan)
    high = np.full(n_groups, np.nan)
    ok = ~np.isnan(ttl)
    if ok.any():  # ufunc.at over the groups: no per-group frame (groupby) needed
        np.fmin.at(low, g[ok], ttl[ok])
        np.fmax.at(high, g[ok], ttl[ok])
    per_group["ttl_min"], per_group["ttl_max"] = low, high
    out: dict[str, np.ndarray] = {}
    for name, values in per_group.items():
        out[f"orig_{name}"] = values[0::2]
        out[f"resp_{name}"] = values[1::2]
    return out
