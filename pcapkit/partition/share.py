"""One share of a partitioned run as the analyses read it, and the task that gives its facts.

A share holds whole flows: every packet, sighting and distinct packet of its flows (the
ICMP errors counted on them included), with incident-wide packet and flow ids, in one
pass's row order. :class:`ShareTables` offers them under the names a Capture does
(``packets``, ``sightings``, ``distinct`` with ``flow_id``, ``flows``, ``cluster``,
``points``, ``context``), so an analysis's ``facts`` reads a share as it reads a whole
incident. :func:`facts_task` runs every analysis's facts on one share, reading its tables
once; only the small facts travel back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pcapkit.analyses.context import PacketContext
from pcapkit.cluster import Cluster
from pcapkit.column_arrays import int_isin, nullable
from pcapkit.decode.table import concat_tables


@dataclass
class ShareTables:
    """The tables of one share (see the module docstring)."""

    packets: pd.DataFrame
    sightings: pd.DataFrame
    distinct: pd.DataFrame
    flows: pd.DataFrame
    cluster: Cluster | None
    points: pd.DataFrame
    context: PacketContext
    _shared: dict[str, Any] = field(default_factory=dict)

    def shared(self, key: str, build: Callable[[ShareTables], Any]) -> Any:
        """``build(self)`` once per share (what the Capture's ``shared`` is to one pass:
        only for results that stand on the incident-wide context, never on the share's
        rows alone)."""
        if key not in self._shared:
            self._shared[key] = build(self)
        return self._shared[key]


@dataclass(frozen=True)
class ShareItem:
    """What the facts task of one share is sent: the share, the incident flow id of each
    of its flows (``flow_map``, and ``errors_map`` for the flows of the ICMP errors that
    quoted no flow a share saw) and what each analysis's ``prepare`` said. The rows of
    the incident's flows table it may hold are in the store (``flow-rows``)."""

    share: int
    flow_map: np.ndarray
    errors_map: np.ndarray | None
    prepared: Mapping[str, Any]


def share_tables(plan, share: int, item: ShareItem, cluster: Cluster | None,
                 points: pd.DataFrame, context: PacketContext) -> ShareTables | None:
    """The tables of ``share`` read from the run's store (None: it holds no packet)."""
    from pcapkit.partition.run import _flow_tables, _with_ids

    tables = _flow_tables(plan, share)
    if tables is None:
        return None
    distinct, sightings = tables
    store = plan.store
    packets = []
    for source in range(plan.shares):
        part = store.read("grouped", source, f"packets-to{share}")
        if part is not None:
            ids = store.read_array("ids", source, "ids", mapped=source != share)
            packets.append(_with_ids(part, ids))
    packets = concat_tables(packets) if packets else sightings.iloc[:0].assign(_row=0)
    packets = packets.take(np.argsort(packets.pop("_row").to_numpy(np.int64),
                                      kind="stable")).reset_index(drop=True)
    flow_id = _flow_lookup(store, plan.shares, share, item)(
        distinct["packet_id"].to_numpy(np.int64))
    distinct = distinct.assign(flow_id=nullable(flow_id, "Int64"))
    flows = _flow_rows(store, plan.shares, share)
    ids = flows["flow_id"].to_numpy(np.int64)
    flows = flows[int_isin(ids, flow_id[flow_id >= 0])]
    return ShareTables(packets=packets, sightings=sightings, distinct=distinct,
                       flows=flows.reset_index(drop=True), cluster=cluster, points=points,
                       context=context)


def _flow_rows(store, shares: int, share: int) -> pd.DataFrame:
    """The rows of the incident's flows table the share may hold (its own and those of
    the set-aside ICMP errors), in flow_id order as the table has them."""
    parts = [t for part in (share, shares)
             if (t := store.read("flow-rows", part, "flows")) is not None]
    if not parts:
        return store.read("flow-rows", shares, "columns")
    flows = concat_tables(parts)
    return flows.take(np.argsort(flows["flow_id"].to_numpy(np.int64), kind="stable")) \
        .reset_index(drop=True)


def _flow_lookup(store, shares: int, share: int, item: ShareItem
                 ) -> Callable[[np.ndarray], np.ndarray]:
    """A function giving the incident flow id of packet ids of the share (-1: in no
    flow), from the share's packet flows and the set-aside errors' read once."""
    keys, values = [], []
    for part, flow_map in ((share, item.flow_map), (shares, item.errors_map)):
        table = store.read("flows", part, "packet_flow") if flow_map is not None else None
        if table is not None and len(table):
            keys.append(table["packet_id"].to_numpy(np.int64))
            values.append(flow_map[table["flow"].to_numpy(np.int64)])
    if not keys:
        return lambda ids: np.full(len(ids), -1, dtype=np.int64)
    index = pd.Index(np.concatenate(keys))
    found = np.append(np.concatenate(values), -1)

    def flow_ids(ids: np.ndarray) -> np.ndarray:
        where = index.get_indexer(ids)
        return found[np.where(where >= 0, where, len(found) - 1)]
    return flow_ids


def facts_task(plan, cluster: Cluster | None, points: pd.DataFrame,
               context: PacketContext, item: ShareItem) -> dict[str, Any] | None:
    """Every analysis's facts of one share (None: the share holds no packet). The memory
    freed after reading the tables and after each analysis goes back to the system
    (``give_back_memory``): the reads' concatenated and sorted copies were 90 MiB of a
    worker's 500 at the 5M benchmark's peak, held through the analyses."""
    from pcapkit.analyses import analysis
    from pcapkit.engines.base import give_back_memory

    tables = share_tables(plan, item.share, item, cluster, points, context)
    if tables is None:
        return None
    facts = {}
    for name, prepared in item.prepared.items():
        give_back_memory()
        facts[name] = analysis(name).facts(tables, prepared)
    return facts


def select_task(plan, item: ShareItem) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The distinct packets (with flow_id) of the flows ``item.prepared["flows"]`` and
    with the ids ``item.prepared["packets"]`` in one share, and every sighting of them,
    as :func:`select` gives them (None: the share holds no packet). Each source's
    rows are picked as Arrow and only those made pandas: converting whole tables to keep
    a finding's few packets was most of the task."""
    from pcapkit.partition.run import _flow_tables

    flow_of = _flow_lookup(plan.store, plan.shares, item.share, item)
    flows, wanted = item.prepared["flows"], item.prepared["packets"]
    # whether a row is kept depends on its packet id alone: its sightings go with it
    tables = _flow_tables(plan, item.share,
                          keep=lambda ids: chosen(flow_of(ids), ids, flows, wanted))
    if tables is None:
        return None
    distinct, sightings = tables
    return distinct.assign(flow_id=nullable(
        flow_of(distinct["packet_id"].to_numpy(np.int64)), "Int64")), sightings


def select(distinct: pd.DataFrame, sightings: pd.DataFrame, flows: np.ndarray,
           packets: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of ``distinct`` (with ``flow_id``) in the ``flows`` or with the ``packets``
    ids, and the rows of ``sightings`` of those packets: what a finding's evidence reads."""
    ids = distinct["packet_id"].to_numpy(dtype=np.int64)
    keep = chosen(distinct["flow_id"].to_numpy(dtype=np.int64, na_value=-1), ids, flows,
                  packets)
    seen = int_isin(sightings["packet_id"].to_numpy(dtype=np.int64, na_value=-1), ids[keep])
    return distinct[keep].reset_index(drop=True), sightings[seen].reset_index(drop=True)


def chosen(flow_of: np.ndarray, ids: np.ndarray, flows: np.ndarray,
           packets: np.ndarray) -> np.ndarray:
    """Which distinct packets (their flow ids, -1: none, and packet ids) are in the
    ``flows`` or among the ``packets``."""
    return int_isin(flow_of, np.asarray(flows, dtype=np.int64)) | \
        int_isin(ids, np.asarray(packets, dtype=np.int64))
