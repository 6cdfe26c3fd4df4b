"""The flow stage a share at a time: the same flows table and packet flow ids as
``assemble_flows`` over the whole incident.

Per share (``flow_share_of``: ICMP errors with the pair they quote): keys, flows and their
counters, paths and ends (``flow_part``), with the errors that quote no flow of the share
set aside. Those set-aside errors, from every share, are one more part: errors from one
router to one host form one flow whichever conversations they quote. Once: flows
numbered by their first packet, Service-DNAT links, identities (``finish_flows``,
``complete_flows``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pcapkit.cluster import Cluster
from pcapkit.column_arrays import nullable
from pcapkit.flows.build import FlowPart, complete_flows, finish_flows, flow_part
from pcapkit.flows.options import FlowOptions
from pcapkit.partition.keys import flow_share_of


def assemble_flows_partitioned(distinct: pd.DataFrame, sightings: pd.DataFrame, shares: int,
                               *, cluster: Cluster | None = None,
                               options: FlowOptions | None = None
                               ) -> tuple[pd.DataFrame, pd.Series]:
    """``assemble_flows(distinct, sightings, cluster=..., options=...)``, computed one share
    of ``shares`` at a time."""
    share = flow_share_of(distinct, shares)
    sighting_share = _sighting_shares(distinct, sightings, share)
    parts: list[FlowPart] = []
    rows, set_aside = [], []
    for s in range(max(shares, 1)):
        here = np.flatnonzero(share == s)
        part = flow_part(distinct.iloc[here], sightings[sighting_share == s], options=options,
                         defer_errors=True)
        parts.append(part)
        rows.append(here[part.rows])
        set_aside.append(here[part.deferred])
    errors = np.sort(np.concatenate(set_aside))
    if len(errors):
        wanted = distinct["packet_id"].iloc[errors]
        part = flow_part(distinct.iloc[errors], sightings[sightings["packet_id"].isin(wanted)],
                         options=options)
        parts.append(part)
        rows.append(errors[part.rows])
    table, local, links = finish_flows(parts, cluster=cluster, options=options)
    ids = np.full(len(distinct), -1, dtype=np.int64)
    for where, part, flow in zip(rows, parts, local, strict=True):
        ids[where] = flow[part.packet_flow]
    ids = pd.Series(nullable(ids, "Int64"), index=distinct.index, name="flow_id")
    return complete_flows(table, ids, links, cluster=cluster, options=options)


def _sighting_shares(distinct: pd.DataFrame, sightings: pd.DataFrame,
                     share: np.ndarray) -> np.ndarray:
    """The share of each sighting: its packet's."""
    pid = distinct["packet_id"].to_numpy(dtype=np.int64)
    where = pd.Index(pid).get_indexer(sightings["packet_id"].to_numpy(dtype=np.int64))
    return np.where(where >= 0, share[np.maximum(where, 0)], -1)
