"""The NAT columns of linked flows, and the merged one-row-per-connection view.

Linking (``pcapkit.flows.nat``) finds the service-side and backend-side flows of one
DNAT'd connection. Here both rows get ``nat``, ``nat_side``, ``nat_peer_flow_id``,
``service_ip``/``service_port``, ``backend_ip``/``backend_port``, and the service side
``nat_conn_state``. :func:`merge_sides` folds each pair into its service-side row: the
counters, state and history stay the client's, the path columns cover both sides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pcapkit.column_arrays import nullable
from pcapkit.flows.nat import Links
from pcapkit.flows.path import PATH_SETS
from pcapkit.flows.tcpstate import CONN_STATES
from pcapkit.schema.flows import FLOWS

_ADDRESS_COLUMNS = [column.name for column in FLOWS.columns if column.kind == "ip"]


def _strings(values: pd.Series) -> np.ndarray:
    return values.astype(object).to_numpy(dtype=object, na_value=None, copy=True)


def _ints(values: pd.Series) -> np.ndarray:
    return values.to_numpy(dtype=np.int64, na_value=-1, copy=True)


def add_nat_columns(table: pd.DataFrame, links: Links) -> pd.DataFrame:
    """``table`` (one row per flow, row i = flow_id i) with the NAT_COLUMNS filled in for
    every linked pair (null elsewhere)."""
    n = len(table)
    s, b = links.service, links.backend
    nat = np.full(n, None, dtype=object)
    side = np.full(n, None, dtype=object)
    peer = np.full(n, -1, dtype=np.int64)
    service_ip = np.full(n, None, dtype=object)
    backend_ip = np.full(n, None, dtype=object)
    service_port = np.full(n, -1, dtype=np.int64)
    backend_port = np.full(n, -1, dtype=np.int64)
    peer_state = np.full(n, None, dtype=object)
    if len(links):
        resp_h, resp_p = _strings(table["resp_h"]), _ints(table["resp_p"])
        state = _strings(table["conn_state"])
        for rows in (s, b):
            nat[rows] = "dnat"
            service_ip[rows], service_port[rows] = resp_h[s], resp_p[s]
            backend_ip[rows], backend_port[rows] = resp_h[b], resp_p[b]
        side[s], side[b] = "service", "backend"
        peer[s], peer[b] = b, s
        peer_state[s] = state[b]
    out = table.copy()
    out["nat"] = pd.array(nat, dtype="string")
    out["nat_side"] = pd.array(side, dtype="string")
    out["nat_peer_flow_id"] = nullable(peer, "Int64")
    out["service_ip"] = pd.array(service_ip, dtype="string")
    out["service_port"] = nullable(service_port, "UInt16")
    out["backend_ip"] = pd.array(backend_ip, dtype="string")
    out["backend_port"] = nullable(backend_port, "UInt16")
    out["nat_conn_state"] = pd.Categorical(peer_state, categories=list(CONN_STATES))
    return out


def _union_labels(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Element-wise union of two arrays of sorted comma-separated sets, one Python set
    operation per distinct pair of values (not per row)."""
    if not len(first):
        return first
    codes, combos = pd.MultiIndex.from_arrays([first, second]).factorize()
    unions = np.array([",".join(sorted({item for part in combo if isinstance(part, str)
                                        for item in part.split(",") if item}))
                       for combo in combos], dtype=object)
    return unions[codes]


def merge_sides(table: pd.DataFrame, flow_id: pd.Series,
                links: Links) -> tuple[pd.DataFrame, pd.Series]:
    """One row per connection: each linked pair becomes its service-side row, whose
    counters, conn_state and history (what the client saw) are kept, with ``nat_side =
    "merged"`` and the path columns (nodes, interfaces, encapsulations, underlay pairs,
    VNIs, TTL range, sightings) covering both sides; the backend side's encap/vni are used
    when the service side was never tunnelled. Backend-side rows are dropped and their
    packets' flow ids point to the service-side row; flow ids are not renumbered."""
    if not len(links):
        return table, flow_id
    s, b = links.service, links.backend
    out = table.copy()
    for direction in ("orig", "resp"):
        for name in PATH_SETS:
            column = f"{direction}_{name}"
            values = _strings(out[column])
            values[s] = _union_labels(values[s], values[b])
            out[column] = pd.array(values, dtype="string")
        flag = f"{direction}_encapsulated"
        values = out[flag].to_numpy(dtype=bool, na_value=False, copy=True)
        values[s] |= values[b]
        out[flag] = pd.array(values, dtype="boolean")
        count = f"{direction}_sightings"
        values = out[count].to_numpy(dtype=np.int64, na_value=0, copy=True)
        values[s] += values[b]
        out[count] = pd.array(values, dtype="Int64")
        for bound, pick in (("ttl_min", np.minimum), ("ttl_max", np.maximum)):
            column = f"{direction}_{bound}"
            values = out[column].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
            both = ~np.isnan(values[s]) & ~np.isnan(values[b])
            values[s] = np.where(both, pick(values[s], values[b]),
                                 np.where(np.isnan(values[s]), values[b], values[s]))
            out[column] = nullable(np.nan_to_num(values, nan=-1).astype(np.int64), "UInt8")
    encap = _strings(out["encap"])
    untunnelled = np.flatnonzero(np.isin(encap[s], [None, "none"]))
    if len(untunnelled):
        vni = _ints(out["vni"])
        encap[s[untunnelled]] = encap[b[untunnelled]]
        vni[s[untunnelled]] = vni[b[untunnelled]]
        out["encap"] = pd.Categorical(encap)
        out["vni"] = nullable(vni, "UInt32")
    side = _strings(out["nat_side"])
    side[s] = "merged"
    out["nat_side"] = pd.array(side, dtype="string")
    keep = np.ones(len(out), dtype=bool)
    keep[b] = False
    out = out[keep].reset_index(drop=True)
    for column in _ADDRESS_COLUMNS:  # the backends' addresses went with their rows
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].cat.remove_unused_categories()
    ids = folded_flow_ids(flow_id.to_numpy(dtype=np.int64, na_value=-1), links, len(table))
    return out, pd.Series(nullable(ids, "Int64"), index=flow_id.index, name=flow_id.name)


def folded_flow_ids(ids: np.ndarray, links: Links, n_flows: int) -> np.ndarray:
    """Flow ids (-1: none) with each backend-side flow's replaced by its service side's,
    as merge_sides folds them."""
    remap = np.arange(n_flows, dtype=np.int64)
    remap[links.backend] = links.service
    out = np.asarray(ids, dtype=np.int64).copy()
    valid = out >= 0
    out[valid] = remap[out[valid]]
    return out

