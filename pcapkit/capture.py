"""The Capture object: one incident's captures (and cluster), as lazy tables.

``pcapkit.open(paths, snapshot=...)`` is where the batch CLI and a notebook
meet: every table is computed on first use and kept, and each is a plain
pandas DataFrame a user can keep working with. For a notebook it also has the findings
(``findings``, ``analyze``: what ``pcapkit analyze`` finds, through the same function),
narrowed views (``filter``: no decoding again), the workload graph, single packets in scapy
or Wireshark's dissection, the figures of :mod:`pcapkit.plots`, and an HTML summary; the
notebook side lives in :mod:`pcapkit.explore`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pandas as pd

from pcapkit.column_arrays import NAT_NS
from pcapkit.decode.cache import DecodeCache
from pcapkit.decode.config import DecodeConfig
from pcapkit.decode.files import Decoded, decode_files
from pcapkit.errors import PcapkitError
from pcapkit.partition.scale import Scale

if TYPE_CHECKING:
    import networkx as nx
    from matplotlib.figure import Figure
    from scapy.packet import Packet

    from pcapkit.analyses.context import PacketContext
    from pcapkit.cluster import Cluster
    from pcapkit.dnstx import DnsOptions
    from pcapkit.engines import Engine
    from pcapkit.explore.findings import Findings
    from pcapkit.explore.select import Selection
    from pcapkit.flows import FlowOptions
    from pcapkit.ingest import Inputs
    from pcapkit.partition.run import PartitionedRun
    from pcapkit.rules.tuning import Tuning
    from pcapkit.vantage import Vantage

PathLike = str | os.PathLike
T = TypeVar("T")


class Capture:
    """Capture files of one incident, seen from every node at once."""

    def __init__(self, paths: Iterable[PathLike] | PathLike, *,
                 snapshot: Cluster | PathLike | Iterable[PathLike] | None = None,
                 nodes: Mapping[str, str] | None = None, config: DecodeConfig | None = None,
                 window: float = 1.0, flow_options: FlowOptions | None = None,
                 dns_options: DnsOptions | None = None,
                 cache: DecodeCache | PathLike | None = None,
                 since: pd.Timestamp | str | None = None, until: pd.Timestamp | str | None = None,
                 workers: int | None = None, engine: str | Engine | None = None,
                 scheduler: str | None = None, memory_limit: int | None = None,
                 shares: int | None = None, work_dir: PathLike | None = None) -> None:
        self.paths = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
        self._scale = Scale.of(engine, scheduler, memory_limit, shares, workers, work_dir)
        _check_options(flow_options, dns_options)
        self._flow_options = flow_options
        self._dns_options = dns_options
        self._snapshot = snapshot
        self._nodes = dict(nodes) if nodes else None
        self._config = config
        self._window = window
        self._cache = cache
        self._since, self._until = capture_time(since, "since"), capture_time(until, "until")
        if self._since is not None and self._until is not None and self._since > self._until:
            raise PcapkitError(f"since ({self._since}) is after until ({self._until})")
        self._workers = workers
        self._derived: dict[str, pd.DataFrame] = {}
        self._shared: dict[str, object] = {}
        self._facts: dict[str, list] = {}
        #: the Capture this one was narrowed from (``filter``), and by what
        self.parent: Capture | None = None
        self.selection: Selection | None = None

    @cached_property
    def cluster(self) -> Cluster | None:
        """The cluster snapshot, if one was given."""
        from pcapkit.cluster import Cluster, load_snapshot

        if self._snapshot is None or isinstance(self._snapshot, Cluster):
            return self._snapshot
        if isinstance(self._snapshot, str | os.PathLike):
            return load_snapshot(self._snapshot)
        return load_snapshot(list(self._snapshot))

    @cached_property
    def inputs(self) -> Inputs:
        """The capture files behind ``paths``: directories expanded, tar archives (Retina's
        per-node tarballs) unpacked into a temporary directory kept while this Capture
        lives, each file's shown name (``archive!member``) and the host files beside it."""
        from pcapkit.ingest import Inputs

        return Inputs(self.paths, work_dir=self._scale.work_dir)

    @cached_property
    def _run(self) -> PartitionedRun | None:
        """The partitioned run behind the tables, when this Capture has an engine (None:
        one pass in this process). See docs/scale.md."""
        return self._scale.run(self)

    @cached_property
    def decoded(self) -> Decoded:
        """Every file decoded: packets, DNS messages, interfaces, read errors."""
        if self._run is not None:
            return self._run.decoded(self.inputs)
        cache = self._cache
        if cache is not None and not isinstance(cache, DecodeCache):
            cache = DecodeCache(cache)
        decoded = decode_files(self.inputs.paths, config=self._config, cache=cache,
                               workers=self._workers)
        return self.inputs.label(decoded).between(self._since, self._until)

    @property
    def errors(self) -> list:
        """Files that could not be read completely (file, byte offset, message)."""
        run = self._bounded_run
        if run is not None:
            return [*self.inputs.problems, *run.errors]
        return self.decoded.errors

    @property
    def interfaces(self) -> pd.DataFrame:
        """Every capture file's interfaces (link type, name ...)."""
        run = self._bounded_run
        return run.interfaces if run is not None else self.decoded.interfaces

    @cached_property
    def files(self) -> pd.DataFrame:
        """One row per capture file with packets: its ``packets`` and the ``first_ns`` and
        ``last_ns`` capture times (the node's clock), counted while decoding in a run cut
        into shares (no packet table is read for them)."""
        run = self._bounded_run
        if run is not None:
            rows = [(f.name, f.rows, *(f.span or (NAT_NS, NAT_NS))) for f in run.files
                    if f.rows]
        else:
            from pcapkit.vantage.points import file_spans

            packets = self.decoded.packets
            counts = packets.groupby("file", observed=True).size() if len(packets) else {}
            spans = file_spans(packets)
            rows = [(str(f), int(n), *spans.get(str(f), (NAT_NS, NAT_NS)))
                    for f, n in counts.items() if n]
        return pd.DataFrame(rows, columns=["file", "packets", "first_ns", "last_ns"]) \
            .astype({"file": object, "packets": np.int64, "first_ns": np.int64,
                     "last_ns": np.int64})

    @property
    def packet_count(self) -> int:
        """Packets read from every capture file."""
        return int(self.files["packets"].sum())

    @cached_property
    def points(self) -> pd.DataFrame:
        """Capture point of each file: the node it was taken on, and what said so."""
        from pcapkit.vantage import capture_points

        if self._run is not None:
            return self._run.points
        return capture_points(self.decoded, self.cluster, self._nodes,
                              inferred=self.inferred_nodes())

    def inferred_nodes(self) -> dict[str, tuple[str, str, str]]:
        """The nodes the inputs' names tell before any packet is read (Retina tarballs)."""
        cluster = self.cluster
        names = cluster.nodes["name"].dropna() if cluster is not None and \
            "name" in cluster.nodes else ()
        return self.inputs.nodes(names)

    @cached_property
    def host_state(self) -> pd.DataFrame:
        """What the host files beside the captures (Retina's metadata) say, one row per
        setting or counter, with the node of the capture beside them."""
        return self.inputs.host_state(self.points)

    @cached_property
    def vantage(self) -> Vantage:
        from pcapkit.vantage import build_sightings

        if self._run is not None:
            return self._run.vantage()
        return build_sightings(self.decoded, self.points, window=self._window)

    @property
    def packets(self) -> pd.DataFrame:
        """Every sighting of every packet, with node, direction and packet_id."""
        return self.vantage.packets

    @property
    def sightings(self) -> pd.DataFrame:
        return self.vantage.sightings

    @cached_property
    def distinct(self) -> pd.DataFrame:
        """One row per distinct packet (its earliest sighting), with the ``flow_id`` of the
        flow it belongs to: the link from a packet to its flow."""
        return self.vantage.distinct.assign(flow_id=self._flows[1].array)

    @property
    def clock_offsets(self) -> pd.DataFrame:
        run = self._bounded_run
        return run.clock_offsets if run is not None else self.vantage.clock_offsets

    @cached_property
    def _flows(self) -> tuple[pd.DataFrame, pd.Series]:
        from pcapkit.partition.flows import assemble_flows_sized

        if self._run is not None:
            return self._run.flows, self._run.distinct_flow_ids(self.vantage.distinct)
        return assemble_flows_sized(self.vantage.distinct, self.sightings, cluster=self.cluster,
                                    options=self._flow_options)

    @property
    def flows(self) -> pd.DataFrame:
        """Bidirectional flows with Zeek-like state, path per direction and identities."""
        run = self._bounded_run
        return run.flows if run is not None else self._flows[0]

    @cached_property
    def dns(self) -> pd.DataFrame:
        """DNS transactions: query/response pairs with status, retries, search paths, and
        the ``flow_id`` of the flow that carried each."""
        from pcapkit.dnstx import build_dns_transactions

        if self._run is not None:
            return self._run.dns
        return build_dns_transactions(self.decoded.dns, self.packets, self.cluster,
                                      options=self._dns_options,
                                      packet_flows=self.distinct[["packet_id", "flow_id"]])

    @cached_property
    def context(self) -> PacketContext:
        """What the analyses need of the whole incident's packets before judging any part:
        file windows, capture end, addresses per file, underlay evidence
        (:mod:`pcapkit.analyses.context`); a partitioned run merges its shares'."""
        from pcapkit.analyses.context import packet_context

        if self._run is not None and self._run.context is not None:
            return self._run.context
        return packet_context(self.packets)

    def table(self, name: str) -> pd.DataFrame:
        """Any registered table by its registry name (``pcapkit.schema.TABLES``): the
        stages' tables, or a derived table built (once) by the analysis that owns it."""
        stages = {"packets": lambda: self.packets, "interfaces": lambda: self.decoded.interfaces,
                  "dns_messages": lambda: self.dns_messages, "capture_points": lambda: self.points,
                  "sightings": lambda: self.sightings, "distinct": lambda: self.distinct,
                  "clock_offsets": lambda: self.clock_offsets, "flows": lambda: self.flows,
                  "dns": lambda: self.dns, "host_state": lambda: self.host_state}
        if name in stages:
            return stages[name]()
        if name not in self._derived:
            from pcapkit.analyses import analysis

            self._derived[name] = analysis(name).build(self)
            # only its own build reads an analysis's facts: they go now (20M in shares:
            # about 300 MiB of the parent's, which the DNS step then reuses); asked for
            # again, they are computed again
            self._facts.pop(name, None)
        return self._derived[name]

    def compute(self, names: Iterable[str]) -> None:
        """Build the tables ``names`` now, on this machine's cores (``workers``, default
        every CPU; at most one process per ``MIN_SHARE`` packets): the flows in shares
        beside the DNS transactions and the packet context, then the analyses, each task
        taken by the next free process. The tables are those reading each in turn gives
        (tests/test_compute.py). A run cut into shares spreads its own work, and a narrowed
        Capture cuts its tables from its parent's: both read the tables in turn."""
        from pcapkit.analyses import analyses
        from pcapkit.engines.forked import worker_count

        names = list(dict.fromkeys(names))
        if self._run is not None:  # its DNS step after the analyses' (see PartitionedRun.dns)
            names.sort(key=lambda name: name == "dns")
        registered = analyses()
        wanted = [n for n in names if n in registered and n not in self._derived]
        if self._run is None and self.parent is None and (
                {"flows", "dns", "distinct"} & set(names) or wanted) and len(self.packets):
            workers = worker_count(len(self.packets), self._workers)
            if workers > 1:
                self._flows_beside_dns(workers, dns="dns" in names or bool(wanted))
                if wanted:
                    self._spread_analyses(wanted, workers)
        for name in names:
            self.table(name)

    def _flows_beside_dns(self, workers: int, *, dns: bool) -> None:
        """The flows in ``2 * workers`` shares and, with ``dns``, two more tasks: the DNS
        transactions (their flow ids joined after) and the packet context the analyses
        stand on; over ``workers`` processes."""
        from pcapkit.analyses.context import packet_context
        from pcapkit.dnstx import build_dns_transactions
        from pcapkit.dnstx.build import with_flow_ids
        from pcapkit.engines.forked import run_pulled
        from pcapkit.partition.flows import FlowShares

        cluster, packets = self.cluster, self.packets
        need_dns = dns and "dns" not in self.__dict__
        need_context = dns and "context" not in self.__dict__
        cut = None if "_flows" in self.__dict__ else \
            FlowShares(self.vantage.distinct, self.sightings, 2 * workers, self._flow_options)

        def run(task: int | str) -> object:
            if task == "dns":
                return build_dns_transactions(self.decoded.dns, packets, cluster,
                                              options=self._dns_options)
            if task == "context":
                return packet_context(packets)
            return cut.part(task)

        # the longer tasks first, so the last one taken is a short flow share
        tasks: list[int | str] = ["dns"] * need_dns + ["context"] * need_context + \
            (list(range(cut.shares)) if cut is not None else [])
        done = dict(zip(tasks, run_pulled(tasks, run, workers), strict=True))
        if cut is not None:
            self._flows = cut.assemble([done[share] for share in range(cut.shares)], cluster)
        if need_dns:
            self.dns = with_flow_ids(done["dns"], self.distinct[["packet_id", "flow_id"]])
        if need_context:
            self.context = done["context"]

    def _spread_analyses(self, names: list[str], workers: int) -> None:
        """The derived tables ``names`` over ``workers`` processes, each analysis in one
        with those it reads (``analysis_groups``), the groups taken by the next free one."""
        from pcapkit.analyses import analysis_groups
        from pcapkit.engines.forked import run_pulled

        self.distinct, self.context  # noqa: B018 - what analyses stand on, built before forking

        def build(group: list[str]) -> dict[str, pd.DataFrame]:
            return {name: self.table(name) for name in group}

        for tables in run_pulled(analysis_groups(names), build, workers):
            self._derived.update(tables)

    def facts(self, name: str) -> list:
        """The facts of analysis ``name`` (its per-share part, :mod:`pcapkit.analyses`):
        one result per share of a partitioned run, every analysis's computed in one pass
        over the shares the first time any is asked for; ``[facts(self, prepare(self))]``
        in one pass over the whole incident. Kept until the analysis's table is built."""
        from pcapkit.analyses import analyses, analysis

        if name not in self._facts:
            run = self._bounded_run
            if run is not None:
                with_facts = {n: a for n, a in analyses().items() if a.facts is not None}
                prepared = {n: a.prepare(self) if a.prepare is not None else None
                            for n, a in with_facts.items()}
                self._facts.update(run.share_facts(prepared, self.cluster))
            else:
                found = analysis(name)
                if found.facts is None:
                    raise PcapkitError(f"the analysis {name!r} has no per-share facts")
                self._facts[name] = [found.facts(self, found.prepare(self)
                                                 if found.prepare is not None else None)]
        return self._facts[name]

    @property
    def _bounded_run(self) -> PartitionedRun | None:
        """The partitioned run to read a share at a time (None: read the tables): not for
        a narrowed Capture, whose tables are cut from its parent's."""
        run = self._run if self.parent is None else None
        return run if run is not None and run.bounded else None

    def evidence_tables(self, flows: Iterable[int] = (), packets: Iterable[int] = ()
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The distinct packets (with ``flow_id``) of the flows ``flows`` and with the ids
        ``packets``, and every sighting of them: what findings cite, read a share at a time
        in a run cut into shares (never the whole per-packet tables)."""
        from pcapkit.partition.share import select

        flow_ids = np.unique(np.asarray(list(flows), dtype=np.int64))
        packet_ids = np.unique(np.asarray(list(packets), dtype=np.int64))
        run = self._bounded_run
        if run is not None:
            return run.select(flow_ids, packet_ids)
        return select(self.distinct, self.sightings, flow_ids, packet_ids)

    def shared(self, key: str, build: Callable[[Capture], T]) -> T:
        """``build(self)``, computed once per Capture: an intermediate result several
        analyses stand on (which node owns each underlay address, say)."""
        if key not in self._shared:
            self._shared[key] = build(self)
        return self._shared[key]  # type: ignore[return-value]

    def evidence(self, *, flows: Iterable[int] = (), dns: Iterable[int] = (),
                 packets: Iterable[int] = ()) -> pd.DataFrame:
        """Every sighting (file, frame, node, interface, time ...) of the packets of the
        given flows (``flow_id``), DNS transactions (``tx_id``: their query and response,
        on both sides of a Service DNAT) and packets (``packet_id``): the packets a finding
        cites, through the ids."""
        tx = self.dns[self.dns["tx_id"].isin(pd.array(list(dns), dtype="Int64"))]
        packet_ids = pd.concat([
            pd.Series(pd.array(list(packets), dtype="Int64")),
            *(tx[column].dropna() for column in ("query_packet_id", "response_packet_id",
                                                 "nat_query_packet_id",
                                                 "nat_response_packet_id"))])
        return self.evidence_tables(flows, packet_ids.to_numpy(dtype=np.int64))[1]

    @property
    def dns_messages(self) -> pd.DataFrame:
        """Every DNS message as decoded (one row per sighting)."""
        run = self._run
        return run.dns_messages if run is not None else self.decoded.dns

    # -- findings -----------------------------------------------------------------------

    @cached_property
    def findings(self) -> Findings:
        """The core pack's findings (run once, kept), as ``pcapkit analyze`` reports them;
        of a narrowed Capture, its parent's findings with evidence in it."""
        if self.parent is not None:
            return self.parent.findings.within(self)
        return self.analyze()

    def analyze(self, rules: Iterable[PathLike] | PathLike = (), tuning: Tuning | PathLike |
                None = None, *, core: bool = True) -> Findings:
        """The findings of the core pack (``core``) plus the rule files or directories
        ``rules``, less what ``tuning`` (a tuning file or :class:`pcapkit.rules.Tuning`)
        disables or excludes: ``pcapkit analyze --rules ... --tuning ...``. A PcapkitError
        lists the problems of a broken rule."""
        from pcapkit.explore.findings import Findings
        from pcapkit.rules import analyze_capture, checked_pack, site_tuning

        site = site_tuning(tuning)
        if self.parent is not None:
            return self.parent.analyze(rules, site, core=core).within(self)
        pack = checked_pack(rules, core=core)
        return Findings.of(analyze_capture(self, pack.rules, site), self, pack.rules, site)

    # -- narrowing ----------------------------------------------------------------------

    def filter(self, *, pod: str | Iterable[str] | None = None,
               namespace: str | Iterable[str] | None = None,
               node: str | Iterable[str] | None = None,
               since: pd.Timestamp | str | None = None,
               until: pd.Timestamp | str | None = None,
               protocol: str | Iterable[str] | None = None) -> Capture:
        """A Capture of only the flows that pass every criterion given, with their packets
        and DNS transactions (:mod:`pcapkit.explore.select`: globs such as
        ``pod="shop/frontend-*"``, ``protocol="dns"``, ``since="08:01"``). It reuses this
        Capture's decoded tables (nothing is read or decoded again); its own derived
        tables are built from the narrowed ones."""
        from pcapkit.explore.select import Selection

        selection = Selection.of(self, pod=pod, namespace=namespace, node=node, since=since,
                                 until=until, protocol=protocol)
        flows, packets, dns = selection.masks(self)
        return self._narrowed(selection, flows, packets, dns)

    def _narrowed(self, selection: Selection, flows: np.ndarray, packets: np.ndarray,
                  dns: np.ndarray) -> Capture:
        """A copy sharing the decoded input, cluster and capture points, with the vantage,
        flow and DNS tables cut to the masked rows (of flows, distinct packets, DNS)."""
        import copy

        from pcapkit.column_arrays import int_isin
        from pcapkit.vantage import Vantage

        for name in ("cluster", "inputs", "decoded", "points", "host_state"):
            getattr(self, name)  # computed once, here, so that the child shares them
        distinct = self.vantage.distinct
        ids = distinct["packet_id"].to_numpy(dtype=np.int64)[packets]
        kept = {name: table[int_isin(table["packet_id"].to_numpy(dtype=np.int64,
                                                                 na_value=-1), ids)]
                for name, table in (("packets", self.packets), ("sightings", self.sightings))}
        child = copy.copy(self)
        for name in ("findings", "vantage", "_flows", "distinct", "dns", "context"):
            child.__dict__.pop(name, None)
        child.__dict__.update(
            vantage=Vantage(kept["packets"], kept["sightings"], distinct[packets],
                            self.clock_offsets),
            _flows=(self.flows[flows], self._flows[1][packets]),
            distinct=self.distinct[packets], dns=self.dns[dns])
        child._derived, child._shared, child._facts = {}, {}, {}
        child.parent, child.selection = self, selection
        return child

    # -- the graph, single packets, figures ---------------------------------------------

    def graph(self) -> nx.MultiDiGraph:
        """The workload graph (:mod:`pcapkit.explore.graph`): ends (workloads, pods,
        Services, nodes, external addresses, with a ``kind``) as nodes, one edge per flow
        with its packets, bytes, failed attempts and the ids of the findings on that pair."""
        from pcapkit.explore.graph import capture_graph

        return capture_graph(self)

    def packet(self, file: str, frame: int) -> Packet:
        """Frame ``frame`` of ``file`` (named as the tables name it, ``archive!member``
        included) as a scapy packet, read from the capture file."""
        from pcapkit.explore.frames import scapy_packet

        return scapy_packet(self, file, frame)

    def dissect(self, file: str, frame: int) -> object:
        """Wireshark's full dissection of frame ``frame`` of ``file``: a pyshark packet
        (``.layers``, ``pkt.ip.src`` ...); a PcapkitError when tshark is missing."""
        from pcapkit.explore.frames import dissect

        return dissect(self, file, frame)

    def ladder(self, flow_id: int | None = None, *,
               packet_ids: Iterable[int] | None = None) -> Figure:
        """The ladder (sequence) diagram of one flow across capture points."""
        from pcapkit.plots import ladder

        return ladder(self, flow_id, packet_ids=packet_ids)

    def plot_dns(self) -> Figure:
        """DNS latency over time by server, timeouts and retries marked."""
        from pcapkit.plots import plot_dns

        return plot_dns(self)

    def plot_graph(self) -> Figure:
        """The workload graph with its failing edges highlighted."""
        from pcapkit.plots import plot_graph

        return plot_graph(self)

    def plot_traffic(self) -> Figure:
        """Packets over time per node pair, with findings marked."""
        from pcapkit.plots import plot_traffic

        return plot_traffic(self)

    # -- display ------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        from pcapkit.explore.summary import capture_html

        return capture_html(self)

    def close(self) -> None:
        """Remove what this Capture keeps on disk (a run in shares' tables) now, rather
        than when it is collected; the tables already read stay usable (a run in shares
        builds its ``dns`` from the disk when first read). A narrowed Capture (``filter``)
        shares its parent's run: closing that is the parent's."""
        if self.parent is not None:
            return
        run = self.__dict__.get("_run")
        if run is not None and run.owner is not None:
            run.owner.close()
        made = not hasattr(self._scale.engine, "map")  # not an engine the caller gave
        if run is not None and made and hasattr(run.engine, "close"):
            run.engine.close()  # a Dask cluster this run started

    def __repr__(self) -> str:
        from pcapkit.explore.summary import capture_repr

        return capture_repr(self)


def capture_time(value: pd.Timestamp | str | float | None, name: str) -> pd.Timestamp | None:
    """A time bound as a UTC Timestamp: ISO 8601 text (no zone: UTC), a Timestamp or
    datetime, or seconds since the epoch (also as text); a PcapkitError naming ``name``
    otherwise. Read as the cluster snapshot reads times (``parse_time``)."""
    from pcapkit.cluster.snapshot.times import parse_time, to_timestamp

    if value is None:
        return None
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        value = float(value)
    ns = parse_time(value)
    if ns is None:
        raise PcapkitError(f"{name}: {value!r} is not a time (ISO 8601 such as "
                           "2026-12-02T10:15:00Z, or seconds since the epoch)")
    return to_timestamp(ns)


def _check_options(flow_options: object, dns_options: object) -> None:
    """A PcapkitError unless each options object is None or its stage's options class."""
    if flow_options is None and dns_options is None:
        return
    from pcapkit.dnstx import DnsOptions
    from pcapkit.flows import FlowOptions

    for name, value, kind in (("flow_options", flow_options, FlowOptions),
                              ("dns_options", dns_options, DnsOptions)):
        if value is not None and not isinstance(value, kind):
            raise PcapkitError(f"{name} must be a {kind.__module__.rsplit('.', 1)[0]}."
                               f"{kind.__name__}, not {type(value).__name__}")


def open(paths: Iterable[PathLike] | PathLike, *,  # noqa: A001 - the natural name
         snapshot: Cluster | PathLike | Iterable[PathLike] | None = None,
         nodes: Mapping[str, str] | None = None, config: DecodeConfig | None = None,
         window: float = 1.0, flow_options: FlowOptions | None = None,
         dns_options: DnsOptions | None = None,
         cache: DecodeCache | PathLike | None = None,
         since: pd.Timestamp | str | None = None, until: pd.Timestamp | str | None = None,
         workers: int | None = None, engine: str | Engine | None = None,
         scheduler: str | None = None, memory_limit: int | None = None,
         shares: int | None = None, work_dir: PathLike | None = None) -> Capture:
    """Open an incident's captures (files or directories) and, optionally, its cluster export.

    ``nodes`` maps a file to the node it was captured on when paths do not say;
    ``window`` is how close in time two sightings of one packet must be (seconds,
    after clock correction); ``flow_options`` (a :class:`pcapkit.flows.FlowOptions`) go
    to :func:`pcapkit.flows.assemble_flows` and ``dns_options`` (a
    :class:`pcapkit.dnstx.DnsOptions`) to :func:`pcapkit.dnstx.build_dns_transactions`;
    None: their defaults. ``cache``: a directory (or
    :class:`pcapkit.decode.cache.DecodeCache`) keeping decoded tables between runs;
    ``since``/``until``: only packets captured in that time range (ISO 8601, UTC when no
    zone is given); ``workers``: processes to decode a large file with (1: none).

    ``engine``: ``"local"`` (a process pool of ``workers``) or ``"dask"`` (a Dask cluster
    at ``scheduler``, e.g. ``tcp://host:8786``; None: a local one) or an
    :class:`pcapkit.engines.Engine`: the incident is analysed in shares, every
    per-packet table on disk, so memory stays within ``memory_limit`` bytes (default: a
    fraction of the machine's memory); ``shares`` fixes their number instead;
    ``work_dir`` is where the shares' tables are kept (default: a temporary directory;
    with a Dask cluster, one every worker sees). The tables are the same either way
    (docs/scale.md).
    """
    return Capture(paths, snapshot=snapshot, nodes=nodes, config=config, window=window,
                   flow_options=flow_options, dns_options=dns_options, cache=cache,
                   since=since, until=until, workers=workers, engine=engine,
                   scheduler=scheduler, memory_limit=memory_limit, shares=shares,
                   work_dir=work_dir)
