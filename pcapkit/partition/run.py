"""An incident analysed a share at a time, with every per-packet table on disk.

The steps, each a task an engine maps over files or shares (this process, a local pool
or a Dask cluster: :mod:`pcapkit.engines`), with only small results travelling back:

1. ``decode`` (per file, streamed batch by batch): rows split into shares by
   ``partition_of`` and written to the store; back come the file's row count, interfaces,
   read errors, capture points and snapshot vote.
2. ``candidates`` (per share): clock-offset candidates; the offsets are solved once from
   all of them, as one pass does. In a large incident they are first sought among the
   rows whose fingerprint is below a threshold (``clock_sample_below``), reading only the
   columns the clock pass needs: those rows hold the first bursts whenever they hold
   enough.
3. ``group`` (per share): sightings grouped on corrected times, tables written with
   share-local packet ids, with the sort key of each packet (first corrected time,
   incident row); packet ids are then numbered across shares by merging those keys a
   window at a time (``number_shares``).
4. ``flows`` (per share, with the ICMP errors that quote its pairs): packet ids made
   incident-wide, flows of the share (``flow_part``), the rows the DNS stage reads.
5. once: the set-aside ICMP errors' flows, flow numbering, Service-DNAT links and
   identities (``finish_flows``/``complete_flows``).
6. ``dns`` (per share, on the engine when there are many DNS rows), when the run's
   ``dns`` is first read: the share's DNS sightings collapsed into distinct messages,
   with their capture points and the ICMP errors that quote ports; then once, the DNS
   transactions over all of them.

The tables equal those of one pass over the whole incident (tests/partition); see
docs/scale.md for the design and its measurements.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pcapkit.analyses.context import PacketContext, merge_contexts, packet_context
from pcapkit.cluster import Cluster
from pcapkit.column_arrays import int_isin, nullable
from pcapkit.decode.config import DecodeConfig
from pcapkit.decode.files import Decoded, iter_decode
from pcapkit.decode.table import concat_tables
from pcapkit.dnstx.icmp import quotes_ports
from pcapkit.dnstx.messages import (
    MESSAGE_COLUMNS,
    PACKET_COLUMNS,
    distinct_messages,
    node_capture_ends,
    sighting_points,
)
from pcapkit.dnstx.options import DnsOptions
from pcapkit.engines.base import give_back_memory
from pcapkit.errors import CaptureError, PcapkitError
from pcapkit.flows.build import FlowPart, complete_flows, finish_flows, flow_part
from pcapkit.flows.natview import folded_flow_ids
from pcapkit.flows.options import FlowOptions
from pcapkit.ingest import Inputs
from pcapkit.ingest.links import name_interfaces
from pcapkit.partition.keys import flow_share_of, partition_of
from pcapkit.partition.store import PartStore, SplitWriter
from pcapkit.vantage.build import (
    CLOCK_SAMPLE_LIMIT,
    POINT_COLUMNS,
    Rows,
    Vantage,
    _sightings,
    clock_candidates,
    finish,
    group_rows,
    offsets_from_candidates,
    point_table,
    prepare_rows,
)
from pcapkit.vantage.fingerprint import FINGERPRINT_COLUMNS, packet_fingerprints
from pcapkit.vantage.points import capture_points, file_spans, snapshot_vote, vote_rows

#: packets a decode task reads at a time
BATCH = 262144
#: the clock sample holds this many rows per burst the estimate keeps (a packet seen at
#: two capture points is two rows and one burst; one seen at one point makes none)
SAMPLE_MARGIN = 6
#: what the clock pass reads of a share's rows (prepare_rows and clock_candidates)
CLOCK_COLUMNS = tuple(dict.fromkeys(("_file", "_row", "ts", "pkt_type", "ttl", "outer_src",
                                     *POINT_COLUMNS, *FINGERPRINT_COLUMNS)))


@dataclass(frozen=True)
class Plan:
    """What every task of one run needs to know (picklable)."""

    root: str
    shares: int
    config: DecodeConfig
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None
    window_ns: int = 1_000_000_000
    clock_window_ns: int = 300_000_000_000
    flow_options: FlowOptions = field(default_factory=FlowOptions)
    clock_limit: int = CLOCK_SAMPLE_LIMIT

    @property
    def store(self) -> PartStore:
        return PartStore(self.root)


# 1. decode -----------------------------------------------------------------------------

@dataclass
class FileSummary:
    """What the decode task sends back about one file."""

    index: int
    name: str
    rows: int
    dns_rows: int
    interfaces: pd.DataFrame
    errors: list[CaptureError]
    points: pd.DataFrame
    vote: tuple[str, str, str] | None
    span: tuple[int, int] | None = None   # first and last capture time, ns


def decode_task(plan: Plan, cluster: Cluster | None,
                item: tuple[int, str, str, Mapping[int, str] | None]) -> FileSummary:
    """Decode one file into the store a batch at a time (memory stays at one batch
    whatever the file's size), each batch's rows split by share; ``item``: the file's
    index, path, shown name and node's interface names (``Inputs.interface_names``)."""
    index, path, name, links = item
    decoded = SplitWriter(plan.store, "decoded", f"f{index:06d}")
    messages = SplitWriter(plan.store, "dns", f"f{index:06d}")
    rows = dns_rows = 0
    points, votes, spans, interfaces, errors = [], [], [], None, []
    for batch in iter_decode(path, config=plan.config, batch_size=BATCH):
        batch = (batch.renamed({str(path): name}) if name != str(path) else batch)
        batch = name_interfaces(batch, {name: links} if links else {}) \
            .between(plan.since, plan.until)
        packets, dns = batch.packets, batch.dns
        interfaces = batch.interfaces
        errors.extend(batch.errors)
        where = pd.Index(packets["frame"].to_numpy(dtype=np.int64)).get_indexer(
            dns["frame"].to_numpy(dtype=np.int64)) if len(dns) else np.zeros(0, np.int64)
        has_dns = np.zeros(len(packets), dtype=bool)
        has_dns[where[where >= 0]] = True
        packets = packets.assign(_file=np.int32(index),
                                 _row=np.arange(rows, rows + len(packets), dtype=np.int64),
                                 _dns=has_dns)
        share = partition_of(packets, plan.shares)
        dns_share = np.where(where >= 0, share[np.maximum(where, 0)], 0) if len(share) \
            else np.zeros(len(dns), np.int64)
        decoded.add(packets, share)
        messages.add(dns, dns_share)
        points.append(point_table(packets))
        spans.append(file_spans(packets).get(name))
        votes.append(vote_rows(packets))
        rows += len(packets)
        dns_rows += len(dns)
    decoded.flush()
    messages.flush()
    votes = pd.concat(votes, ignore_index=True) if votes else vote_rows(pd.DataFrame())
    columns = [c for c in votes.columns if c != "count"]
    votes = votes.groupby(columns, dropna=False, sort=False)["count"].sum().reset_index() \
        if len(votes) else votes
    return FileSummary(
        index=index, name=name, rows=rows, dns_rows=dns_rows,
        interfaces=interfaces if interfaces is not None else pd.DataFrame(),
        errors=errors,
        points=pd.concat(points, ignore_index=True).drop_duplicates(ignore_index=True)
        if points else pd.DataFrame(),
        vote=snapshot_vote(votes, name, cluster) if len(votes) else None,
        span=_span([s for s in spans if s is not None]))


def _span(spans: list[tuple[int, int]]) -> tuple[int, int] | None:
    return (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None


# 2-3. vantage ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Incident:
    """What the whole incident's files say, for the share tasks."""

    points: pd.DataFrame          # capture points (one row per file)
    point_table: pd.DataFrame     # every (file, interface, if_index, direction), numbered
    offsets: np.ndarray           # file index -> its first row in the incident
    weights: np.ndarray           # sightings per node, in the points' node order


def _share_rows(plan: Plan, incident: Incident, share: int, *,
                columns: Sequence[str] | None = None, below: int | None = None
                ) -> tuple[Rows | None, np.ndarray | None]:
    """The share's packet rows as read from the store (``columns``: only those), ready
    for grouping (None: none), and whether each holds a DNS message (None: not read);
    ``below``: only the rows whose fingerprint is below it."""
    packets = plan.store.read_all("decoded", share, columns=columns)
    if packets is None:
        return None, None
    if below is not None:
        hashes, eligible = packet_fingerprints(packets)
        packets = packets.take(np.flatnonzero(eligible & (hashes < np.uint64(below))))
    row = incident.offsets[packets.pop("_file").to_numpy(np.int64)] + \
        packets.pop("_row").to_numpy(np.int64)
    has_dns = packets.pop("_dns").to_numpy(bool) if "_dns" in packets else None
    return prepare_rows(packets, incident.points, row=row, point_table=incident.point_table,
                        weights=incident.weights), has_dns


def candidates_task(plan: Plan, incident: Incident, below: int | None, share: int) -> bool:
    """The share's clock candidates (among the rows whose fingerprint is ``below``, None:
    all), kept in the store (whether it has any)."""
    rows, _ = _share_rows(plan, incident, share, columns=CLOCK_COLUMNS, below=below)
    if rows is None:
        return False
    plan.store.write("candidates", share, "candidates",
                     clock_candidates(rows, plan.clock_window_ns, plan.clock_limit))
    return True


def clock_offsets(plan: Plan, incident: Incident, engine, below: int | None) -> pd.DataFrame:
    """The clock offsets, from the first ``plan.clock_limit`` bursts in fingerprint order,
    sought first among the rows whose fingerprint is ``below`` (None: among all). Every
    sighting of a packet has its fingerprint, so those rows hold every burst of the
    fingerprints below: when they hold that many bursts, they are the first of all;
    otherwise every row is searched."""
    for threshold in dict.fromkeys([below, None]):
        held = engine.map(functools.partial(candidates_task, plan, incident, threshold),
                          list(range(plan.shares)))
        kept, pending, rows = None, [], 0
        for share in (s for s, has in enumerate(held) if has):
            pending.append(plan.store.read("candidates", share, "candidates"))
            rows += len(pending[-1])
            if rows >= 4 * plan.clock_limit:  # folded a few shares at a time, not one
                kept, pending, rows = first_bursts([kept, *pending], plan.clock_limit), [], 0
        kept = first_bursts([kept, *pending], plan.clock_limit)
        if threshold is None or burst_count(kept) >= plan.clock_limit:
            break
    names = [str(n) for n in pd.unique(incident.points["node"].astype(str))]
    return offsets_from_candidates([kept] if kept is not None else [], names,
                                   incident.weights, plan.clock_limit)


def burst_count(candidates: pd.DataFrame | None) -> int:
    """Bursts among clock candidates."""
    if candidates is None or not len(candidates):
        return 0
    return len(candidates[["burst_hash", "burst_ns"]].drop_duplicates())


def clock_sample_below(rows: int, limit: int = CLOCK_SAMPLE_LIMIT) -> int | None:
    """The fingerprint threshold of the clock sample of an incident of ``rows`` packet
    rows: ``SAMPLE_MARGIN`` rows per burst wanted, as a share of the hash range; None
    when that is most of the incident."""
    fraction = SAMPLE_MARGIN * limit / rows if rows else 1.0
    return int(fraction * 2.0 ** 64) if fraction < 0.5 else None


def first_bursts(frames: Sequence[pd.DataFrame | None],
                 limit: int = CLOCK_SAMPLE_LIMIT) -> pd.DataFrame | None:
    """The candidates of the first ``limit`` bursts in (fingerprint, time) order among
    ``frames``: the ones ``offsets_from_candidates`` keeps of them, so folding the shares'
    candidates in a few at a time keeps memory at a few times ``limit`` bursts and solves
    the same offsets."""
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return None
    frame = concat_tables(frames) if len(frames) > 1 else frames[0]
    burst_hash = frame["burst_hash"].to_numpy(dtype=np.uint64)
    burst_ns = frame["burst_ns"].to_numpy(dtype=np.int64)
    order = np.lexsort((burst_ns, burst_hash))
    key_h, key_t = burst_hash[order], burst_ns[order]
    starts = np.r_[True, (key_h[1:] != key_h[:-1]) | (key_t[1:] != key_t[:-1])]
    keep = np.sort(order[(np.cumsum(starts) - 1) < limit])
    return frame.take(keep).reset_index(drop=True)


#: packets the numbering step sorts at a time
NUMBER_WINDOW = 1 << 20


@dataclass
class GroupKeys:
    """What grouping a share sends back: where each node's capture ended in it (ns) and
    its packet context (what the analyses need of the whole incident's packets, merged
    over the shares). Each packet's sort key, its first corrected time and incident row
    by local id, stays in the store (``keys``), already in order."""

    node_ends: dict[str, int] = field(default_factory=dict)
    context: PacketContext | None = None


def group_task(plan: Plan, incident: Incident, offsets: pd.DataFrame,
               share: int) -> GroupKeys:
    """Group the share's sightings (share-local packet ids) and keep its tables: the rows
    DNS reads, and the packets (every sighting), distinct packets and sightings by the
    share their flows are in (``flow_share_of``: an ICMP error goes where the pair it
    quotes is), so that a share's flows find all their packets in one share."""
    rows, has_dns = _share_rows(plan, incident, share)
    store = plan.store
    if rows is None:
        empty = np.zeros(0, np.int64)
        store.write_array("keys", share, "first_ns", empty)
        store.write_array("keys", share, "first_row", empty)
        return GroupKeys()
    part = group_rows(rows, offsets, plan.window_ns)
    store.write_array("keys", share, "first_ns", part.first_ns)
    store.write_array("keys", share, "first_row", part.first_row)
    view = finish(part, part.local_id, offsets)
    packets = view.packets.assign(_row=rows.row)
    store.write("grouped", share, "dns-rows", _dns_rows(packets, has_dns))
    target = flow_share_of(view.distinct, plan.shares)
    # the share of every local packet id (the distinct table holds each id once)
    target_of = np.zeros(len(part.first_ns), dtype=np.int64)
    target_of[view.distinct["packet_id"].to_numpy(np.int64)] = target
    packet_target = target_of[packets["packet_id"].to_numpy(np.int64)]
    sighting_target = target_of[view.sightings["packet_id"].to_numpy(np.int64)]
    for t in np.unique(target):
        store.write("grouped", share, f"distinct-to{int(t)}",
                    view.distinct[target == t].reset_index(drop=True))
        store.write("grouped", share, f"sightings-to{int(t)}",
                    view.sightings[sighting_target == t].reset_index(drop=True))
        store.write("grouped", share, f"packets-to{int(t)}",
                    packets[packet_target == t].reset_index(drop=True))
    return GroupKeys(node_capture_ends(packets), packet_context(packets))


def number_shares(store: PartStore, shares: int, window: int = NUMBER_WINDOW) -> None:
    """Number every share's packets incident-wide, by earliest sighting (first corrected
    time, then incident row), as one pass numbers them: the ``ids`` of each share's local
    ids, written to the store. Each share's keys are sorted already, so the shares are
    merged a window of first times at a time (about ``window`` packets, read from the
    mapped key files): memory stays at one window whatever the incident's size."""
    ns = [store.read_array("keys", s, "first_ns", mapped=True) for s in range(shares)]
    rows = [store.read_array("keys", s, "first_row", mapped=True) for s in range(shares)]
    total = sum(len(a) for a in ns)
    ids = [store.new_array("ids", s, "ids", len(a)) for s, a in enumerate(ns)]
    # window edges: first times at even steps of a sample of every share's sorted keys
    sample = np.sort(np.concatenate([a[::max(1, len(a) // 256)] for a in ns])) if total \
        else np.zeros(0, np.int64)
    windows = max(1, -(-total // window))
    edges = np.unique(sample[np.linspace(0, len(sample), windows + 1)[1:-1].astype(np.int64)])
    cuts = [np.concatenate([[0], np.searchsorted(a, edges, side="left"), [len(a)]])
            for a in ns]
    numbered = 0
    for w in range(len(edges) + 1):
        spans = [(c[w], c[w + 1]) for c in cuts]
        first_ns = np.concatenate([a[lo:hi] for a, (lo, hi) in zip(ns, spans, strict=True)])
        first_row = np.concatenate([a[lo:hi] for a, (lo, hi) in zip(rows, spans, strict=True)])
        rank = np.empty(len(first_ns), dtype=np.int64)
        rank[np.lexsort((first_row, first_ns))] = numbered + np.arange(len(first_ns))
        start = 0
        for out, (lo, hi) in zip(ids, spans, strict=True):
            out[lo:hi] = rank[start:start + hi - lo]
            start += hi - lo
        numbered += len(first_ns)
    for out in ids:
        out.flush()


# 4. flows --------------------------------------------------------------------------------

def _with_ids(table: pd.DataFrame, ids: np.ndarray) -> pd.DataFrame:
    """``table`` with its share-local packet ids made incident-wide (``ids``)."""
    local = table["packet_id"].to_numpy(np.int64)
    return table.assign(packet_id=pd.array(np.asarray(ids[local]), dtype="Int64"))


def _flow_tables(plan: Plan, share: int,
                 keep: Callable[[np.ndarray], np.ndarray] | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The distinct packets and sightings of the flows of ``share``, from every share
    that holds some, with incident-wide packet ids, in one pass's order; ``keep``: only
    the rows of the packet ids it marks (picked as Arrow, only those made pandas)."""
    store = plan.store
    distinct, sightings = [], []
    for source in range(plan.shares):
        if not store.path("grouped", source, f"distinct-to{share}").exists():
            continue
        ids = store.read_array("ids", source, "ids", mapped=source != share)
        rows = None if keep is None else \
            lambda table, ids=ids: keep(np.asarray(ids[table.column("packet_id").to_numpy()],
                                                   dtype=np.int64))
        distinct.append(_with_ids(store.read("grouped", source, f"distinct-to{share}",
                                             rows=rows), ids))
        sightings.append(_with_ids(store.read("grouped", source, f"sightings-to{share}",
                                              rows=rows), ids))
    if not distinct:
        return None
    distinct = concat_tables(distinct)
    order = np.argsort(distinct["packet_id"].to_numpy(np.int64), kind="stable")
    return distinct.take(order).reset_index(drop=True), _sightings(concat_tables(sightings))


@dataclass
class FlowResult:
    part: FlowPart
    deferred: int


def flows_task(plan: Plan, share: int) -> FlowResult:
    """The flows of the share's pairs (``flow_part``); the ICMP errors that quote none of
    them are kept aside for the incident-wide step."""
    store = plan.store
    tables = _flow_tables(plan, share)
    if tables is None:
        return FlowResult(_empty_part(), 0)
    distinct, sightings = tables
    part = flow_part(distinct, sightings, options=plan.flow_options, defer_errors=True)
    store.write("flows", share, "packet_flow", pd.DataFrame(
        {"packet_id": part.packet_ids, "flow": part.packet_flow}))
    if len(part.deferred):
        errors = distinct.iloc[part.deferred].reset_index(drop=True)
        store.write("deferred", share, "distinct", errors)
        store.write("deferred", share, "sightings", sightings[sightings["packet_id"].isin(
            errors["packet_id"])].reset_index(drop=True))
    return FlowResult(_light(part), len(part.deferred))


def _dns_rows(packets: pd.DataFrame, has_dns: np.ndarray) -> pd.DataFrame:
    """The packet rows the DNS stage reads: the sightings of DNS messages (``has_dns``,
    marked by the decode task) and the ICMP errors that quote ports (pcapkit.dnstx links
    them to queries)."""
    keep = has_dns | quotes_ports(packets)
    columns = [c for c in (*PACKET_COLUMNS, "_row") if c in packets.columns]
    return packets.loc[keep, columns].reset_index(drop=True)


def _light(part: FlowPart) -> FlowPart:
    """The part without its per-packet arrays (kept in the store)."""
    empty = np.zeros(0, np.int64)
    return FlowPart(table=part.table, ends=part.ends, addresses=part.addresses,
                    points=part.points, rows=empty, packet_ids=empty, packet_flow=empty,
                    first_packet=part.first_packet, deferred=empty)


def _empty_part() -> FlowPart:
    """The flows of a share without packets (none, with every column)."""
    from pcapkit.decode.files import decode_empty
    from pcapkit.vantage import seen_once

    return flow_part(seen_once(decode_empty().packets).distinct, None)


# the driver ------------------------------------------------------------------------------

@dataclass
class PartitionedRun:
    """The results of a partitioned run: the small tables in memory, the per-packet ones
    in ``store`` (read on demand: :meth:`vantage`)."""

    plan: Plan
    files: list[FileSummary]
    points: pd.DataFrame
    clock_offsets: pd.DataFrame
    flows: pd.DataFrame
    flow_maps: list[np.ndarray]
    links_fold: np.ndarray | None
    #: what the DNS transactions are built from when first read (:attr:`dns`): the
    #: cluster, and the DNS options with every node's capture end
    dns_inputs: tuple[Cluster | None, DnsOptions] | None = None
    #: the analyses' packet context of the whole incident (every share's merged)
    context: PacketContext | None = None
    #: the engine the tasks ran on (the analyses' shares run there too)
    engine: object = None
    _vantage: Vantage | None = None
    #: the store made for this run (removed with the run), None when the caller gave one
    owner: PartStore | None = None
    _flow_rows_written: bool = False
    _dns_table: pd.DataFrame | None = None

    @property
    def dns(self) -> pd.DataFrame:
        """The DNS transactions, built when first read. ``Capture.compute`` reads them
        after the analyses' facts, so the parent's DNS step (its largest) never holds its
        memory while the workers hold theirs for the facts tasks."""
        if self._dns_table is None:
            self.check_open()  # its shares' messages are in the store
            cluster, options = self.dns_inputs or (None, DnsOptions())
            self._dns_table = _dns(self, cluster, options)
            give_back_memory()
        return self._dns_table

    @property
    def store(self) -> PartStore:
        self.check_open()
        return self.plan.store

    def check_open(self) -> None:
        """A PcapkitError once the run's store was removed (``Capture.close``): what is
        read from it then would be empty, not the run's tables."""
        if not Path(self.plan.root).is_dir():
            raise PcapkitError("this run in shares was closed, and its tables on disk with "
                               "it: read the tables you need before close()")

    @property
    def errors(self) -> list[CaptureError]:
        return [e for f in self.files for e in f.errors]

    @property
    def interfaces(self) -> pd.DataFrame:
        return concat_tables([f.interfaces for f in self.files if len(f.interfaces)])

    @property
    def dns_messages(self) -> pd.DataFrame:
        """Every DNS message as decoded (a row per sighting), in one pass's order: read
        from the store when asked, not kept (no rule reads it)."""
        return _dns_messages(self)

    def packet_flows(self, share: int, table: pd.DataFrame | None = None) -> pd.DataFrame:
        """(packet_id, flow_id) of the packets of one share's flows (``table``: of those of
        its (packet_id, flow) rows, None: of all, read from the store)."""
        table = self.store.read("flows", share, "packet_flow") if table is None else table
        if table is None or not len(table):
            return _no_links("flow_id")
        flow = self.flow_maps[share][table["flow"].to_numpy(np.int64)]
        if self.links_fold is not None:
            flow = self.links_fold[flow]
        return pd.DataFrame({"packet_id": table["packet_id"].to_numpy(np.int64),
                             "flow_id": flow})

    @property
    def bounded(self) -> bool:
        """Whether the analyses read this run a share at a time (every flow's packets in
        one share); not when DNAT-linked flows are folded into one (``merge_nat``), whose
        two sides are in two shares."""
        return self.links_fold is None and self.context is not None

    def share_facts(self, prepared: Mapping[str, object], cluster: Cluster | None
                    ) -> dict[str, list]:
        """Every analysis's facts of every share (``prepared``: analysis name -> what its
        ``prepare`` said), one task per share on the run's engine, each share's tables read
        once (:func:`pcapkit.partition.share.facts_task`). A run without packets gives the
        facts of empty tables, as one pass does."""
        from pcapkit.partition.share import ShareTables, facts_task

        results = [r for r in self._map_shares(functools.partial(
            facts_task, self.plan, cluster, self.points, self.context), prepared)
            if r is not None]
        if not results:
            from pcapkit.analyses import analysis

            empty = self._empty_vantage()
            tables = ShareTables(
                packets=empty.packets, sightings=empty.sightings,
                distinct=empty.distinct.assign(flow_id=pd.array([], dtype="Int64")),
                flows=self.flows.iloc[:0], cluster=cluster, points=self.points,
                context=self.context)
            results = [{name: analysis(name).facts(tables, value)
                        for name, value in prepared.items()}]
        return {name: [r[name] for r in results] for name in prepared}

    def select(self, flows: np.ndarray, packets: np.ndarray
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The distinct packets (with flow_id) of ``flows`` and with ``packets`` ids, and
        every sighting of them, from every share (one task each, reading its distinct
        packets and sightings, not its packet table), in one pass's row order."""
        from pcapkit.partition.share import select_task

        parts = [r for r in self._map_shares(functools.partial(select_task, self.plan),
                                             {"flows": flows, "packets": packets})
                 if r is not None]
        if not parts:
            empty = self._empty_vantage()
            return (empty.distinct.assign(flow_id=pd.array([], dtype="Int64")),
                    empty.sightings)
        distinct = concat_tables([d for d, _ in parts])
        distinct = distinct.take(np.argsort(distinct["packet_id"].to_numpy(np.int64),
                                            kind="stable")).reset_index(drop=True)
        return distinct, _sightings(concat_tables([s for _, s in parts]))

    def _map_shares(self, task, prepared: Mapping[str, object]) -> list:
        """``task(item)`` for every share on the run's engine; the item (ShareItem) names
        the incident flow id of each of the share's flows and carries ``prepared``. The
        rows of the incident's flows table a share may hold are in the store
        (``flow-rows``), never copied into its item: 41 items at 20M held a second copy
        of the whole flows table in the parent."""
        from pcapkit.partition.share import ShareItem

        shares = self.plan.shares
        errors_map = self.flow_maps[shares] if len(self.flow_maps) > shares else None
        self._write_flow_rows()
        items = [ShareItem(share, self.flow_maps[share], errors_map, dict(prepared))
                 for share in range(shares)]
        engine = self.engine
        if engine is None:
            from pcapkit.engines.local import LocalEngine

            engine = LocalEngine(1)
        give_back_memory()  # what the parent freed is not held beside the workers' tasks
        return engine.map(task, items)

    def _write_flow_rows(self) -> None:
        """The flows table's rows by the share whose packets they are (``flow-rows``;
        share ``shares``: the flows of the ICMP errors that quoted no flow a share saw,
        which every share reads), once."""
        store, shares = self.store, self.plan.shares
        if self._flow_rows_written:
            return
        ids = self.flows["flow_id"].to_numpy(np.int64)
        owner = np.full(int(ids.max()) + 1 if len(ids) else 0, shares, dtype=np.int64)
        for share, flow_map in enumerate(self.flow_maps[:shares]):
            owner[flow_map[flow_map < len(owner)]] = share
        store.write_split("flow-rows", "flows", self.flows, owner[ids])
        store.write("flow-rows", shares, "columns", self.flows.iloc[:0])  # for a share with none
        self._flow_rows_written = True

    def decoded(self, inputs: Inputs | None = None) -> Decoded:
        """The decoded tables as one pass would hold them (the vantage packets stand for
        the decoder's), with the inputs' own problems (unreadable archives) among the
        errors."""
        problems = list(inputs.problems) if inputs is not None else []
        return Decoded(self.vantage().packets, self.dns_messages, self.interfaces,
                       [*problems, *self.errors])

    def vantage(self) -> Vantage:
        """Every share's vantage tables together, as one pass gives them (this holds every
        packet in memory: for checks and small incidents)."""
        if self._vantage is None:
            self._vantage = self._read_vantage()
        return self._vantage

    def _read_vantage(self) -> Vantage:
        store, shares = self.store, self.plan.shares
        ids = [store.read_array("ids", s, "ids") for s in range(shares)]
        packets = [_with_ids(p, ids[s]) for s in range(shares) for t in range(shares)
                   if (p := store.read("grouped", s, f"packets-to{t}")) is not None]
        if not packets:  # nothing readable: the empty tables one pass gives
            return self._empty_vantage()
        packets = concat_tables(packets)
        packets = packets.take(np.argsort(packets.pop("_row").to_numpy(np.int64),
                                          kind="stable")).reset_index(drop=True)
        distinct = [_with_ids(d, ids[s]) for s in range(shares) for t in range(shares)
                    if (d := store.read("grouped", s, f"distinct-to{t}")) is not None]
        distinct = concat_tables(distinct)
        distinct = distinct.take(np.argsort(distinct["packet_id"].to_numpy(np.int64),
                                            kind="stable")).reset_index(drop=True)
        return Vantage(packets=packets, sightings=_sightings(packets), distinct=distinct,
                       clock_offsets=self.clock_offsets)

    def _empty_vantage(self) -> Vantage:
        from pcapkit.decode.files import decode_empty
        from pcapkit.vantage import build_sightings

        return build_sightings(decode_empty(), self.points)

    def distinct_flow_ids(self, distinct: pd.DataFrame) -> pd.Series:
        """The flow_id of every row of ``distinct`` (<NA> outside flows)."""
        maps = pd.concat([self.packet_flows(s) for s in range(len(self.flow_maps))],
                         ignore_index=True)
        where = pd.Index(maps["packet_id"]).get_indexer(
            distinct["packet_id"].to_numpy(np.int64))
        flows = np.append(maps["flow_id"].to_numpy(np.int64), -1)  # -1: in no flow
        ids = flows[np.where(where >= 0, where, len(flows) - 1)]
        return pd.Series(nullable(ids, "Int64"), index=distinct.index, name="flow_id")


def run_partitioned(files: Sequence[str | os.PathLike], shares: int, *,
                    names: Mapping[str, str] | None = None,
                    interface_names: Mapping[str, Mapping[int, str]] | None = None,
                    cluster: Cluster | None = None,
                    nodes: Mapping[str, str] | None = None,
                    inferred: Mapping[str, tuple[str, str, str]] | None = None,
                    config: DecodeConfig | None = None, engine=None,
                    root: str | os.PathLike | None = None,
                    since: pd.Timestamp | None = None, until: pd.Timestamp | None = None,
                    window: float = 1.0, clock_window: float = 300.0,
                    flow_options: FlowOptions | None = None,
                    dns_options: DnsOptions | None = None,
                    clock_limit: int = CLOCK_SAMPLE_LIMIT,
                    clock_sample: int | None | str = "auto") -> PartitionedRun:
    """Decode, vantage and flows of ``files`` in ``shares`` shares (see the module
    docstring); ``engine`` maps the tasks (None: this process); ``root``: where the run
    makes its store's directory (None: the system's temporary directory), removed with the
    run. ``names``: path -> shown name; ``interface_names``: shown name -> ifindex ->
    interface name (as ``Inputs.label`` applies them in one pass). ``clock_limit``: the
    bursts the clock estimate keeps; ``clock_sample``: the clock sample's fingerprint
    threshold (None: no sample; ``"auto"``: ``clock_sample_below`` of the rows decoded)."""
    from pcapkit.engines.local import LocalEngine

    engine = engine or LocalEngine(1)
    store = PartStore(inside=root)
    plan = Plan(root=str(store.root), shares=max(1, shares),
                config=DecodeConfig.of(config, None), since=since, until=until,
                window_ns=int(window * 1e9), clock_window_ns=int(clock_window * 1e9),
                flow_options=flow_options or FlowOptions(), clock_limit=clock_limit)
    names = names or {}
    links = interface_names or {}
    items = [(i, str(p), shown, links.get(shown)) for i, p in enumerate(files)
             for shown in [names.get(str(p), str(p))]]
    summaries = engine.map(functools.partial(decode_task, plan, cluster), items,
                           weights=[_size(p) for p in files])
    incident = _incident(summaries, cluster, nodes, inferred)
    share_ids = list(range(plan.shares))
    below = clock_sample_below(sum(s.rows for s in summaries), plan.clock_limit) \
        if clock_sample == "auto" else clock_sample
    offsets = clock_offsets(plan, incident, engine, below)
    keys = engine.map(functools.partial(group_task, plan, incident, offsets), share_ids)
    number_shares(plan.store, plan.shares)
    node_ends = [k.node_ends for k in keys]
    context = merge_contexts([k.context for k in keys if k.context]
                             or [packet_context(_empty_packets())])
    del keys
    give_back_memory()
    results = engine.map(functools.partial(flows_task, plan), share_ids)
    parts = [r.part for r in results]
    errors_part = _deferred_part(plan)
    if errors_part is not None:
        parts.append(errors_part)
        plan.store.write("flows", plan.shares, "packet_flow", pd.DataFrame(
            {"packet_id": errors_part.packet_ids, "flow": errors_part.packet_flow}))
    table, maps, links = finish_flows(parts, cluster=cluster, options=plan.flow_options)
    empty_ids = pd.Series(pd.array([], dtype="Int64"), name="flow_id")
    flows, _ = complete_flows(table, empty_ids, links, cluster=cluster,
                              options=plan.flow_options)
    fold = folded_flow_ids(np.arange(len(table)), links, len(table)) \
        if plan.flow_options.merge_nat else None
    del results, parts, errors_part, table  # in ``flows`` now: not through the DNS step
    give_back_memory()
    run = PartitionedRun(plan=plan, files=summaries, points=incident.points,
                         clock_offsets=offsets, flows=flows, flow_maps=maps, links_fold=fold,
                         context=context,
                         engine=engine, owner=store if store.owned else None)
    ends: dict[str, int] = {}
    for found in node_ends:
        for node, end in found.items():
            ends[node] = max(end, ends.get(node, end))
    run.dns_inputs = (cluster, _with_capture_ends(dns_options or DnsOptions(), ends))
    return run


def _with_capture_ends(options: DnsOptions, ends: dict[str, int]) -> DnsOptions:
    """``options`` with each node's capture end, from every share's packets (the DNS
    stage sees only DNS rows); a time the user gave wins, as in one pass."""
    given = options.capture_end
    if given is not None and not isinstance(given, Mapping) or not ends:
        return options
    merged = {node: pd.Timestamp(end, unit="ns", tz="UTC") for node, end in ends.items()}
    merged.update(dict(given or {}))
    return dataclasses.replace(options, capture_end=merged)


def _dns_messages(run: PartitionedRun, columns: Sequence[str] | None = None
                  ) -> pd.DataFrame:
    """Every share's DNS messages (``columns``: only those) in one pass's row order (files
    in order, rows in order)."""
    store, order = run.store, {f.name: f.index for f in run.files}
    messages = concat_tables([m for s in range(run.plan.shares)
                              if (m := store.read_all("dns", s, columns=columns)) is not None])
    if not len(messages):
        return _empty_dns()
    return _in_file_order(messages, order)


@dataclass
class DnsPart:
    """What the DNS transactions need of one share's DNS sightings (every sighting of a
    message is in its share): its distinct messages, their capture points and the packet
    rows holding ICMP errors that quote ports (with their incident row, ``_row``), and the
    share's flow of each message's packet (``packet_id``, ``flow``: a DNS message is never
    an ICMP error, so its flow is its share's)."""

    share: int
    messages: pd.DataFrame
    points: pd.DataFrame
    errors: pd.DataFrame
    flows: pd.DataFrame


def dns_task(plan: Plan, order: Mapping[str, int], capture_end, share: int) -> bool:
    """The share's ``DnsPart``, kept in the store (whether it has one: not without DNS
    rows); ``order``: file name -> index, ``capture_end``: ``DnsOptions.capture_end``,
    with every node's. Arrow carries its tables back faster than pickling does."""
    part = dns_part(plan, order, capture_end, share)
    if part is None:
        return False
    for name in DNS_PART_TABLES:
        plan.store.write("dns-part", share, name, getattr(part, name))
    return True


def dns_part(plan: Plan, order: Mapping[str, int], capture_end,
             share: int) -> DnsPart | None:
    """The share's ``DnsPart`` (None: it has no DNS rows)."""
    store = plan.store
    rows = store.read("grouped", share, "dns-rows")
    if rows is None or not len(rows):
        return None
    rows = _with_ids(rows, store.read_array("ids", share, "ids"))
    rows = rows.take(np.argsort(rows["_row"].to_numpy(np.int64), kind="stable")) \
        .reset_index(drop=True)
    dns = store.read_all("dns", share, columns=MESSAGE_COLUMNS)
    dns = _empty_dns()[list(MESSAGE_COLUMNS)] if dns is None else _in_file_order(dns, order)
    messages = distinct_messages(dns, rows, capture_end)
    flows = store.read("flows", share, "packet_flow")
    flows = flows[int_isin(flows["packet_id"].to_numpy(np.int64),
                           messages["packet_id"].to_numpy(np.int64))].reset_index(drop=True) \
        if flows is not None else _no_links("flow")
    return DnsPart(share=share, messages=messages, points=sighting_points(dns, rows),
                   errors=rows[quotes_ports(rows)], flows=flows)


#: the tables of a DnsPart a DNS task keeps in the store
DNS_PART_TABLES = ("messages", "points", "errors", "flows")


def _in_file_order(table: pd.DataFrame, order: Mapping[str, int]) -> pd.DataFrame:
    """Rows of the decoder's tables in one pass's order: files in order, frames in order."""
    key = table["file"].astype(object).map(order).to_numpy(np.int64)
    return table.take(np.lexsort((table["frame"].to_numpy(np.int64), key))) \
        .reset_index(drop=True)


def _dns(run: PartitionedRun, cluster: Cluster | None,
         options: DnsOptions) -> pd.DataFrame:
    """DNS transactions from every share's ``DnsPart`` (``dns_task``, on the run's engine,
    or here when there are few DNS rows; kept in the store): its messages in one pass's
    order (by packet id), its ICMP errors in incident row order."""
    from pcapkit.dnstx.build import transactions_of
    from pcapkit.engines.forked import MIN_SHARE

    order = {f.name: f.index for f in run.files}
    end = options.capture_end
    end = dict(end) if isinstance(end, Mapping) else end  # a plain dict travels to workers
    task = functools.partial(dns_task, run.plan, order, end)
    shares = list(range(run.plan.shares))
    give_back_memory()  # what the analyses freed, before the parent's largest step
    # a few DNS messages are not worth starting the engine's workers for
    engine = run.engine if sum(f.dns_rows for f in run.files) >= MIN_SHARE else None
    held = engine.map(task, shares) if engine is not None else [task(s) for s in shares]
    held = [share for share, has in zip(shares, held, strict=True) if has]
    store = run.store
    flows = [run.packet_flows(s, store.read("dns-part", s, "flows")) for s in held]
    if held:
        messages = store.read_sorted("dns-part", held, "messages", by="packet_id")
        points = pd.concat([store.read("dns-part", s, "points") for s in held],
                           ignore_index=True)
        errors = store.read_sorted("dns-part", held, "errors", by="_row").drop(columns="_row")
    else:
        messages = distinct_messages(_empty_dns()[list(MESSAGE_COLUMNS)], None,
                                     options.capture_end)
        points, errors = sighting_points(_empty_dns(), None), None
    flows = pd.concat(flows, ignore_index=True) if flows else _no_links("flow_id")
    packet_flows = pd.DataFrame({"packet_id": flows["packet_id"].to_numpy(np.int64),
                                 "flow_id": nullable(flows["flow_id"].to_numpy(np.int64),
                                                     "Int64")})
    return transactions_of(messages, lambda: points, errors, cluster, options=options,
                           packet_flows=packet_flows)


def _no_links(flow: str) -> pd.DataFrame:
    """No (packet_id, ``flow``) links: a share's local flow (``flow``) or the incident's
    (``flow_id``)."""
    return pd.DataFrame({"packet_id": np.zeros(0, np.int64), flow: np.zeros(0, np.int64)})


def _empty_packets() -> pd.DataFrame:
    from pcapkit.decode.files import decode_empty
    from pcapkit.vantage import seen_once

    return seen_once(decode_empty().packets).packets


def _empty_dns() -> pd.DataFrame:
    from pcapkit.decode.files import decode_empty

    return decode_empty().dns


def _deferred_part(plan: Plan) -> FlowPart | None:
    store = plan.store
    held = [s for s in range(plan.shares) if store.path("deferred", s, "distinct").exists()]
    if not held:
        return None
    distinct = concat_tables([store.read("deferred", s, "distinct") for s in held])
    distinct = distinct.take(np.argsort(distinct["packet_id"].to_numpy(np.int64),
                                        kind="stable")).reset_index(drop=True)
    sightings = concat_tables([store.read("deferred", s, "sightings") for s in held])
    return flow_part(distinct, _sightings(sightings), options=plan.flow_options)


def _incident(summaries: Sequence[FileSummary], cluster: Cluster | None,
              nodes: Mapping[str, str] | None,
              inferred: Mapping[str, tuple[str, str, str]] | None) -> Incident:
    """The capture points, point numbering, row offsets and node weights of all files."""
    with_rows = [s for s in summaries if s.rows]
    files = pd.DataFrame({"file": pd.Categorical([s.name for s in with_rows],
                                                 categories=[s.name for s in with_rows])})
    light = Decoded(files, pd.DataFrame(), concat_tables(
        [s.interfaces for s in summaries if len(s.interfaces)]) if summaries else
        pd.DataFrame({"file": []}), [])
    points = capture_points(light, cluster, nodes, inferred=inferred,
                            snapshot_votes={s.name: s.vote for s in summaries},
                            spans={s.name: s.span for s in summaries if s.span is not None})
    offsets = np.zeros(max([s.index for s in summaries], default=-1) + 1, dtype=np.int64)
    start = 0
    for s in summaries:
        offsets[s.index] = start
        start += s.rows
    stream_of = dict(zip(points["file"].astype(str), points["stream"].astype(str),
                         strict=True))
    table = pd.concat([s.points.assign(file=s.points["file"].map(stream_of).fillna(
        s.points["file"])) for s in with_rows], ignore_index=True) \
        .drop_duplicates(ignore_index=True) if with_rows else pd.DataFrame()
    node_of = dict(zip(points["file"].astype(str), points["node"].astype(str), strict=True))
    names = [str(n) for n in pd.unique(points["node"].astype(str))]
    weights = np.zeros(len(names), dtype=np.int64)
    for s in with_rows:
        weights[names.index(node_of[s.name])] += s.rows
    return Incident(points=points, point_table=table, offsets=offsets, weights=weights)


def _size(path: str | os.PathLike) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0
