"""The Capture object: one incident's captures (and cluster), as lazy tables.

``pcapkit.open(paths, snapshot=...)`` is where the batch CLI and a notebook
meet: every table is computed on first use and kept, and each is a plain
pandas DataFrame a user can keep working with.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

import pandas as pd

from pcapkit.decode.cache import DecodeCache
from pcapkit.decode.config import DecodeConfig
from pcapkit.decode.files import Decoded, decode_files
from pcapkit.errors import PcapkitError

if TYPE_CHECKING:
    from pcapkit.cluster import Cluster
    from pcapkit.dnstx import DnsOptions
    from pcapkit.flows import FlowOptions
    from pcapkit.ingest import Inputs
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
                 workers: int | None = None) -> None:
        self.paths = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
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

        return Inputs(self.paths)

    @cached_property
    def decoded(self) -> Decoded:
        """Every file decoded: packets, DNS messages, interfaces, read errors."""
        cache = self._cache
        if cache is not None and not isinstance(cache, DecodeCache):
            cache = DecodeCache(cache)
        decoded = decode_files(self.inputs.paths, config=self._config, cache=cache,
                               workers=self._workers)
        return self.inputs.label(decoded).between(self._since, self._until)

    @property
    def errors(self) -> list:
        """Files that could not be read completely (file, byte offset, message)."""
        return self.decoded.errors

    @cached_property
    def points(self) -> pd.DataFrame:
        """Capture point of each file: the node it was taken on, and what said so."""
        from pcapkit.vantage import capture_points

        cluster = self.cluster
        names = cluster.nodes["name"].dropna() if cluster is not None and \
            "name" in cluster.nodes else ()
        return capture_points(self.decoded, cluster, self._nodes,
                              inferred=self.inputs.nodes(names))

    @cached_property
    def host_state(self) -> pd.DataFrame:
        """What the host files beside the captures (Retina's metadata) say, one row per
        setting or counter, with the node of the capture beside them."""
        return self.inputs.host_state(self.points)

    @cached_property
    def vantage(self) -> Vantage:
        from pcapkit.vantage import build_sightings

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
        return self.vantage.clock_offsets

    @cached_property
    def _flows(self) -> tuple[pd.DataFrame, pd.Series]:
        from pcapkit.flows import assemble_flows

        return assemble_flows(self.vantage.distinct, self.sightings, cluster=self.cluster,
                              options=self._flow_options)

    @property
    def flows(self) -> pd.DataFrame:
        """Bidirectional flows with Zeek-like state, path per direction and identities."""
        return self._flows[0]

    @cached_property
    def dns(self) -> pd.DataFrame:
        """DNS transactions: query/response pairs with status, retries, search paths, and
        the ``flow_id`` of the flow that carried each."""
        from pcapkit.dnstx import build_dns_transactions

        return build_dns_transactions(self.decoded.dns, self.packets, self.cluster,
                                      options=self._dns_options,
                                      packet_flows=self.distinct[["packet_id", "flow_id"]])

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
        return self._derived[name]

    def shared(self, key: str, build: Callable[[Capture], T]) -> T:
        """``build(self)``, computed once per Capture: an intermediate result several
        analyses stand on (which node owns each underlay address, say)."""
        if key not in self._shared:
            self._shared[key] = build(self)
        return self._shared[key]  # type: ignore[return-value]

    def evidence(self, *, flows: Iterable[int] = (), dns: Iterable[int] = ()) -> pd.DataFrame:
        """Every sighting (file, frame, node, interface, time ...) of the packets of the
        given flows (``flow_id``) and DNS transactions (``tx_id``: their query and response,
        on both sides of a Service DNAT): the packets a finding cites, through the ids."""
        flow_ids = pd.array(list(flows), dtype="Int64")
        tx = self.dns[self.dns["tx_id"].isin(pd.array(list(dns), dtype="Int64"))]
        packet_ids = pd.concat([
            self.distinct.loc[self.distinct["flow_id"].isin(flow_ids), "packet_id"],
            *(tx[column].dropna() for column in ("query_packet_id", "response_packet_id",
                                                 "nat_query_packet_id",
                                                 "nat_response_packet_id"))])
        sightings = self.sightings
        return sightings[sightings["packet_id"].isin(packet_ids)].reset_index(drop=True)

    @property
    def dns_messages(self) -> pd.DataFrame:
        """Every DNS message as decoded (one row per sighting)."""
        return self.decoded.dns

    def __repr__(self) -> str:
        files = len(self.paths)
        state = "decoded" if "decoded" in self.__dict__ else "not decoded yet"
        return f"<pcapkit.Capture {files} path(s), {state}>"


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
         workers: int | None = None) -> Capture:
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
    """
    return Capture(paths, snapshot=snapshot, nodes=nodes, config=config, window=window,
                   flow_options=flow_options, dns_options=dns_options, cache=cache,
                   since=since, until=until, workers=workers)
