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
from pcapkit.flows.build import (
    FlowPart,
    assemble_flows,
    complete_flows,
    finish_flows,
    flow_part,
)
from pcapkit.flows.options import FlowOptions
from pcapkit.partition.keys import flow_share_of

#: one pass assembles the flows of this many distinct packets or more in shares of about
#: this size, in one process too (docs/scale.md: the stage's sorts are cheaper on shorter
#: arrays)
FLOW_SHARE_ROWS = 262144


def assemble_flows_sized(distinct: pd.DataFrame, sightings: pd.DataFrame, *,
                         cluster: Cluster | None = None, options: FlowOptions | None = None
                         ) -> tuple[pd.DataFrame, pd.Series]:
    """``assemble_flows``, in shares of about ``FLOW_SHARE_ROWS`` distinct packets when the
    incident has several such (the same tables, in less time)."""
    shares = len(distinct) // FLOW_SHARE_ROWS
    if shares < 2:
        return assemble_flows(distinct, sightings, cluster=cluster, options=options)
    return assemble_flows_partitioned(distinct, sightings, shares, cluster=cluster,
                                      options=options)


def assemble_flows_partitioned(distinct: pd.DataFrame, sightings: pd.DataFrame, shares: int,
                               *, cluster: Cluster | None = None,
                               options: FlowOptions | None = None
                               ) -> tuple[pd.DataFrame, pd.Series]:
    """``assemble_flows(distinct, sightings, cluster=..., options=...)``, computed one share
    of ``shares`` at a time (``Capture.compute`` spreads the same shares over processes)."""
    cut = FlowShares(distinct, sightings, shares, options)
    return cut.assemble([cut.part(s) for s in range(cut.shares)], cluster)


class FlowShares:
    """An incident's distinct packets cut into ``shares`` for the flow stage: each share's
    part (:meth:`part`, in any process), then the flows of all (:meth:`assemble`). Cut
    finer than the processes, the stage is cheaper even in one (its sorts are on shorter
    arrays)."""

    def __init__(self, distinct: pd.DataFrame, sightings: pd.DataFrame, shares: int,
                 options: FlowOptions | None = None) -> None:
        self.distinct, self.sightings, self.options = distinct, sightings, options
        share = flow_share_of(distinct, shares)
        self._sighting_share = _sighting_shares(distinct, sightings, share)
        self._here = [np.flatnonzero(share == s) for s in range(max(shares, 1))]
        self.shares = len(self._here)

    def part(self, s: int) -> FlowPart:
        """Share ``s``'s flows, its ICMP errors that quote no flow of it set aside."""
        return flow_part(self.distinct.iloc[self._here[s]],
                         self.sightings[self._sighting_share == s], options=self.options,
                         defer_errors=True)

    def assemble(self, parts: list[FlowPart], cluster: Cluster | None = None
                 ) -> tuple[pd.DataFrame, pd.Series]:
        """The flows table and each distinct packet's flow id, from every share's part:
        the set-aside errors as one more part, then numbering, links and identities once."""
        distinct, sightings, options = self.distinct, self.sightings, self.options
        parts = list(parts)
        rows = [h[part.rows] for h, part in zip(self._here, parts, strict=True)]
        errors = np.sort(np.concatenate([h[part.deferred] for h, part in
                                         zip(self._here, parts, strict=True)]))
        if len(errors):
            wanted = distinct["packet_id"].iloc[errors]
            part = flow_part(distinct.iloc[errors],
                             sightings[sightings["packet_id"].isin(wanted)], options=options)
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
