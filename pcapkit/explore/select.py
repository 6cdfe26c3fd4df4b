"""``Capture.filter``: which flows, packets and DNS transactions a narrowed Capture keeps.

The choice is made per flow, so the narrowed tables agree with each other: a flow is kept
when it passes every criterion given, and then so are all its packets (every sighting of
them) and the DNS transactions it carried (client side, or the backend side of a Service
DNAT). A packet that belongs to no flow (ARP, say) is kept only when the criteria can be
judged on the packet itself (``node``, ``since``/``until``), never for ``pod``,
``namespace`` or ``protocol``.

Criteria: ``pod`` and ``namespace`` are glob patterns (``fnmatch``: ``shop/frontend-*``,
``kube-*``) matched against either end of a flow; a ``pod`` pattern with a ``/`` is
matched against ``namespace/name``, one without against the name. ``node``: flows seen on
that node (any sighting of any of their packets). ``since``/``until``: flows active in
that span (they began before ``until`` and ended after ``since``); a time of day
(``"08:01"``, ``"08:01:30.5"``) is on the UTC day of the capture's first packet.
``protocol``: ``tcp``, ``udp``, ``icmp``, ``icmp6``, ``sctp`` or ``dns`` (flows that
carried DNS transactions, or to port 53). Each may be one value or a list (any of them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pcapkit.column_arrays import codes_of, int_isin, packet_times_ns, per_row, times_ns
from pcapkit.errors import PcapkitError

if TYPE_CHECKING:
    from pcapkit.capture import Capture

PROTOCOLS = ("tcp", "udp", "icmp", "icmp6", "sctp", "dns")
DNS_PORT = 53
_TIME_OF_DAY = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")


@dataclass(frozen=True)
class Selection:
    """The criteria of one ``Capture.filter`` call, checked and normalised."""

    pod: tuple[str, ...] = ()
    namespace: tuple[str, ...] = ()
    node: tuple[str, ...] = ()
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None
    protocol: tuple[str, ...] = ()

    @classmethod
    def of(cls, capture: Capture, *, pod: Any = None, namespace: Any = None,
           node: Any = None, since: Any = None, until: Any = None,
           protocol: Any = None) -> Selection:
        """The criteria as given to ``Capture.filter``; a PcapkitError naming a bad one."""
        protocols = tuple(p.lower() for p in texts(protocol, "protocol"))
        unknown = [p for p in protocols if p not in PROTOCOLS]
        if unknown:
            raise PcapkitError(f"protocol: {unknown[0]!r} is not one of "
                               + ", ".join(PROTOCOLS))
        first = _first_time(capture) if _needs_day(since) or _needs_day(until) else None
        selection = cls(texts(pod, "pod"), texts(namespace, "namespace"),
                        texts(node, "node"), _bound(since, "since", first),
                        _bound(until, "until", first), protocols)
        if selection.since is not None and selection.until is not None and \
                selection.since > selection.until:
            raise PcapkitError(f"since ({selection.since}) is after until ({selection.until})")
        if node is not None:
            known = set(capture.points["node"].dropna().astype(str))
            missing = [n for n in selection.node if n not in known]
            if missing:
                raise PcapkitError(f"node: no capture was taken on {missing[0]!r}; nodes: "
                                   + (", ".join(sorted(known)) or "none"))
        return selection

    def describe(self) -> str:
        """The criteria as one short line (``pod=shop/frontend-*, protocol=dns``)."""
        parts = [f"{name}={'|'.join(values)}" for name, values in
                 (("pod", self.pod), ("namespace", self.namespace), ("node", self.node),
                  ("protocol", self.protocol)) if values]
        parts += [f"{name}={stamp.isoformat()}" for name, stamp in
                  (("since", self.since), ("until", self.until)) if stamp is not None]
        return ", ".join(parts) or "everything"

    # -- the masks ----------------------------------------------------------------------

    def masks(self, capture: Capture) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boolean masks over ``capture``'s flows, distinct packets and DNS transactions:
        the rows the narrowed Capture keeps."""
        flows, distinct = capture.flows, capture.distinct
        keep = np.ones(len(flows), dtype=bool)
        if self.pod:
            keep &= pod_mask(flows, self.pod)
        if self.namespace:
            keep &= _either_end(flows, self.namespace, _namespace_labels)
        if self.protocol:
            keep &= self._protocol_mask(capture)
        if self.since is not None:
            keep &= _not_before(times_ns(flows["last_ts"]), self.since)
        if self.until is not None:
            keep &= _not_after(times_ns(flows["ts"]), self.until)
        seen = self._seen_on_nodes(capture) if self.node else None
        flow_of = distinct["flow_id"].to_numpy(dtype=np.int64, na_value=-1)
        if seen is not None:
            keep &= int_isin(flows["flow_id"].to_numpy(dtype=np.int64),
                             np.unique(flow_of[seen & (flow_of >= 0)]))
        kept = flows["flow_id"].to_numpy(dtype=np.int64)[keep]
        packets = int_isin(flow_of, kept)
        if not (self.pod or self.namespace or self.protocol):  # flowless packets, on their own
            alone = flow_of < 0
            if seen is not None:
                alone &= seen
            t = packet_times_ns(distinct)
            if self.since is not None:
                alone &= _not_before(t, self.since)
            if self.until is not None:
                alone &= _not_after(t, self.until)
            packets |= alone
        return keep, packets, self._dns_mask(capture, kept)

    def _protocol_mask(self, capture: Capture) -> np.ndarray:
        flows = capture.flows
        proto = flows["proto"].astype(object).to_numpy()
        keep = np.isin(proto, [p for p in self.protocol if p != "dns"])
        if "dns" in self.protocol:
            carried = capture.dns["flow_id"].to_numpy(dtype=np.int64, na_value=-1)
            port = flows["resp_p"].to_numpy(dtype=np.int64, na_value=-1)
            keep |= int_isin(flows["flow_id"].to_numpy(dtype=np.int64), carried[carried >= 0])
            keep |= (port == DNS_PORT) & np.isin(proto, ["udp", "tcp"])
        return keep

    def _seen_on_nodes(self, capture: Capture) -> np.ndarray:
        """Mask over the distinct packets: sighted on one of the nodes."""
        sightings = capture.sightings
        on = sightings["node"].astype(object).isin(self.node).to_numpy()
        ids = sightings["packet_id"].to_numpy(dtype=np.int64, na_value=-1)[on]
        return int_isin(capture.distinct["packet_id"].to_numpy(dtype=np.int64), ids[ids >= 0])

    def _dns_mask(self, capture: Capture, kept: np.ndarray) -> np.ndarray:
        """Transactions carried by a kept flow, on the client side or (a Service DNAT) on
        the backend side."""
        dns = capture.dns
        keep = int_isin(dns["flow_id"].to_numpy(dtype=np.int64, na_value=-1), kept)
        if "nat_query_packet_id" in dns.columns and len(dns):
            distinct = capture.distinct
            at = pd.Index(distinct["packet_id"].to_numpy(dtype=np.int64)).get_indexer(
                dns["nat_query_packet_id"].to_numpy(dtype=np.int64, na_value=-1))
            flow_of = distinct["flow_id"].to_numpy(dtype=np.int64, na_value=-1)
            backend_flow = np.where(at >= 0, flow_of[np.maximum(at, 0)], -1)
            keep |= int_isin(backend_flow, kept)
        return keep


# -- matching ends ----------------------------------------------------------------------

def glob_mask(labels: np.ndarray, patterns: Iterable[str]) -> np.ndarray:
    """Which ``labels`` (distinct values, None for missing) match any glob pattern."""
    patterns = list(patterns)
    return np.array([label is not None and any(fnmatchcase(label, p) for p in patterns)
                     for label in labels], dtype=bool)


def pod_mask(table: pd.DataFrame, patterns: tuple[str, ...]) -> np.ndarray:
    """Per row of a flow-like table (``orig_``/``resp_`` columns): does either end's pod
    match a ``pod`` pattern (``namespace/name`` when the pattern has a ``/``)?"""
    return _either_end(table, patterns, _pod_labels)


def _either_end(table: pd.DataFrame, patterns: tuple[str, ...], labels_of) -> np.ndarray:
    return labels_of(table, "orig", patterns) | labels_of(table, "resp", patterns)


def _pod_labels(table: pd.DataFrame, end: str, patterns: tuple[str, ...]) -> np.ndarray:
    """Pattern match of each row's pod, one match per distinct (namespace, pod) pair."""
    ns_codes, ns_labels = codes_of(_column(table, f"{end}_namespace"))
    pod_codes, pod_labels = codes_of(_column(table, f"{end}_pod"))
    width = len(pod_labels) + 1
    pairs, where = np.unique((ns_codes + 1) * width + pod_codes + 1, return_inverse=True)
    ns_of = per_row(pairs // width - 1, ns_labels, None)
    pod_of = per_row(pairs % width - 1, pod_labels, None)
    full = np.array([None if p is None else f"{n}/{p}" if n is not None else p
                     for n, p in zip(ns_of, pod_of, strict=True)], dtype=object)
    with_ns = [p for p in patterns if "/" in p]
    bare = [p for p in patterns if "/" not in p]
    hit = glob_mask(full, with_ns) | glob_mask(pod_of, bare)
    return hit[where.reshape(-1)] if len(pairs) else np.zeros(len(table), dtype=bool)


def _namespace_labels(table: pd.DataFrame, end: str, patterns: tuple[str, ...]) -> np.ndarray:
    codes, labels = codes_of(_column(table, f"{end}_namespace"))
    return per_row(codes, glob_mask(labels, patterns), False).astype(bool)


def _column(table: pd.DataFrame, name: str) -> pd.Series:
    if name in table.columns:
        return table[name]
    return pd.Series([None] * len(table), dtype=object)


# -- values -----------------------------------------------------------------------------

def texts(value: Any, name: str) -> tuple[str, ...]:
    """One text or a list of them; a PcapkitError for anything else."""
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    try:
        values = list(values)
    except TypeError:
        raise PcapkitError(f"{name}: give a text or a list of them, not "
                           f"{type(value).__name__}") from None
    if not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise PcapkitError(f"{name}: give a non-empty text or a list of them, not {value!r}")
    return tuple(v.strip() for v in values)


def _needs_day(value: Any) -> bool:
    return isinstance(value, str) and bool(_TIME_OF_DAY.match(value.strip()))


def _first_time(capture: Capture) -> pd.Timestamp | None:
    t = packet_times_ns(capture.distinct)
    known = t[t != np.iinfo(np.int64).min]
    return pd.Timestamp(int(known.min()), unit="ns", tz="UTC") if len(known) else None


def _bound(value: Any, name: str, first: pd.Timestamp | None) -> pd.Timestamp | None:
    """A time bound (``capture_time``), a time of day taken on the first packet's day."""
    from pcapkit.capture import capture_time

    if _needs_day(value):
        if first is None:
            raise PcapkitError(f"{name}: {value!r} is a time of day, and the capture has no "
                               "packet to take the day from: give a date too")
        value = f"{first.date().isoformat()}T{value.strip()}Z"
    return capture_time(value, name)


def _not_before(t: np.ndarray, bound: pd.Timestamp) -> np.ndarray:
    return t >= bound.value


def _not_after(t: np.ndarray, bound: pd.Timestamp) -> np.ndarray:
    return (t <= bound.value) & (t != np.iinfo(np.int64).min)
