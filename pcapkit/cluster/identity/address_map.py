"""Address -> identity lookup, time- and port-aware, for one address or many at once.

Three kinds of entries, tried in this order:

1. timed: pod addresses, each with the pod's lifetime; several pods may have held one IP;
2. port-qualified: a node IP plus a port picks a hostNetwork pod, a hostPort or a NodePort;
3. static: service and node addresses; then pod ranges (longest prefix); then external.

``plan`` resolves the distinct addresses of a column once; ``choose_timed`` then picks, per
row and without a Python loop, which timed candidate held the address at the row's time.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace

import numpy as np

from pcapkit.cluster.identity.identity import AMBIGUOUS, EXACT, EXTERNAL, NEAREST, Identity
from pcapkit.cluster.identity.prefixes import PrefixTable, address_ints
from pcapkit.cluster.snapshot.times import NEVER_AFTER, NEVER_BEFORE

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

CONFIDENCES = (EXACT, NEAREST, AMBIGUOUS)


@dataclass(frozen=True)
class TimedCandidate:
    """A pod that held an address from ``start`` to ``end`` (ns, open ends allowed)."""

    identity: Identity
    start: int
    end: int


@dataclass(frozen=True)
class PortCandidate:
    """An identity reachable on a (node) address only on given ports."""

    identity: Identity
    ports: frozenset[int]


def parse_address(text: object) -> IPAddress | None:
    """An IP address object from text, None for anything else (or IPv4-mapped IPv6)."""
    if not isinstance(text, str):
        return None
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass
class Plan:
    """Per distinct address: the time-free answer, and timed / port candidates if any.

    ``static[i]`` is the identity when no time or port matters (None when timed candidates
    decide). ``timed_index[i, k]`` indexes ``timed`` (-1 = no candidate); ``starts``/``ends``
    hold their lifetimes.
    """

    addresses: list[IPAddress | None]
    static: list[Identity | None]
    timed: list[TimedCandidate]
    timed_index: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    ported: dict[int, list[PortCandidate]] = field(default_factory=dict)


class AddressMap:
    """Every address the snapshots know, with lookups for one or many addresses."""

    def __init__(self, default_time: int) -> None:
        self.default_time = default_time
        self.timed: dict[IPAddress, list[TimedCandidate]] = {}
        self.ported: dict[IPAddress, list[PortCandidate]] = {}
        self.static: dict[IPAddress, Identity] = {}
        self.ranges: PrefixTable[Identity] = PrefixTable()

    def add_timed(self, ip: str, identity: Identity, start: int, end: int) -> None:
        """A pod address with the pod's lifetime."""
        address = parse_address(ip)
        if address is not None:
            self.timed.setdefault(address, []).append(TimedCandidate(identity, start, end))

    def add_ported(self, ip: str, identity: Identity, ports: set[int]) -> None:
        """An identity behind ``ip`` on ``ports`` only (hostNetwork, hostPort, NodePort)."""
        address = parse_address(ip)
        if address is not None and ports:
            self.ported.setdefault(address, []).append(PortCandidate(identity, frozenset(ports)))

    def add_static(self, ip: str, identity: Identity) -> None:
        """A service or node address; the first identity registered for an IP wins."""
        address = parse_address(ip)
        if address is not None:
            self.static.setdefault(address, identity)

    def add_range(self, cidr: str, identity: Identity) -> None:
        """A pod range; the first identity registered for a CIDR wins."""
        self.ranges.add(cidr, identity)

    def resolve(self, ip: str, at: int | None = None, port: int | None = None) -> Identity:
        """Identity of one address at time ``at`` (ns; None = newest snapshot)."""
        plan = self.plan([ip])
        address = plan.addresses[0]
        if address is None:
            raise ValueError(f"not an IP address: {ip!r}")
        if plan.timed_index[0, 0] >= 0:
            when = np.array([self.default_time if at is None else at], dtype=np.int64)
            chosen, confidence = choose_timed(plan, np.zeros(1, dtype=np.int64), when)
            candidate = plan.timed[plan.timed_index[0, chosen[0]]]
            return candidate.identity.with_confidence(CONFIDENCES[confidence[0]])
        if port is not None:
            for candidate in plan.ported.get(0, []):
                if port in candidate.ports:
                    return candidate.identity
        identity = plan.static[0]
        assert identity is not None
        if identity.address is None:
            identity = replace(identity, address=str(address))
        return identity

    def plan(self, texts: list[object]) -> Plan:
        """Resolve distinct address strings as far as possible without time or port."""
        addresses = [parse_address(t) for t in texts]
        count = len(addresses)
        static: list[Identity | None] = [None] * count
        timed: list[TimedCandidate] = []
        per_address: list[list[int]] = [[] for _ in range(count)]
        ported: dict[int, list[PortCandidate]] = {}
        unresolved = []
        for i, address in enumerate(addresses):
            if address is None:
                continue
            candidates = self.timed.get(address)
            if candidates:
                per_address[i] = list(range(len(timed), len(timed) + len(candidates)))
                timed.extend(candidates)
                continue
            if address in self.ported:
                ported[i] = self.ported[address]
            known = self.static.get(address)
            if known is not None:
                static[i] = known
            else:
                unresolved.append(i)
        self._resolve_ranges(addresses, unresolved, static)
        width = max((len(p) for p in per_address), default=0) or 1
        timed_index = np.full((count, width), -1, dtype=np.int64)
        starts = np.full((count, width), NEVER_AFTER, dtype=np.int64)
        ends = np.full((count, width), NEVER_BEFORE, dtype=np.int64)
        for i, indices in enumerate(per_address):
            for k, index in enumerate(indices):
                timed_index[i, k] = index
                starts[i, k] = timed[index].start
                ends[i, k] = timed[index].end
        return Plan(addresses, static, timed, timed_index, starts, ends, ported)

    def _resolve_ranges(
        self, addresses: list[IPAddress | None], pending: list[int], static: list[Identity | None]
    ) -> None:
        external = Identity(kind=EXTERNAL)
        for version in (4, 6):
            indices = [i for i in pending if addresses[i].version == version]  # type: ignore[union-attr]
            if not indices:
                continue
            ints = address_ints([addresses[i] for i in indices], version)
            owners = self.ranges.lookup(ints, version) if len(self.ranges) else np.full(
                len(indices), -1)
            values = self.ranges.values if len(self.ranges) else []
            for i, owner in zip(indices, owners, strict=True):
                static[i] = values[owner] if owner >= 0 else external


def choose_timed(plan: Plan, unique_codes: np.ndarray, times: np.ndarray) -> tuple[
        np.ndarray, np.ndarray]:
    """For rows (address code, time): which candidate column held it, and the confidence.

    Returns (column k into ``plan.timed_index``, index into CONFIDENCES), both per row.
    A candidate whose lifetime covers t wins (several: the latest started, "ambiguous");
    otherwise the candidate nearest in time ("ambiguous" on a tie).
    """
    starts = plan.starts[unique_codes]
    ends = plan.ends[unique_codes]
    valid = plan.timed_index[unique_codes] >= 0
    when = times[:, None]
    cover = valid & (starts <= when) & (when <= ends)
    covering = cover.sum(axis=1)
    latest_covering = np.argmax(np.where(cover, starts, NEVER_BEFORE - 1), axis=1)
    start_f = starts.astype(np.float64)
    end_f = ends.astype(np.float64)
    when_f = when.astype(np.float64)
    distance = np.where(when_f < start_f, start_f - when_f, when_f - end_f)
    distance = np.where(valid, distance, np.inf)
    nearest = np.argmin(distance, axis=1)
    best = distance[np.arange(len(distance)), nearest]
    tie = (distance == best[:, None]).sum(axis=1) > 1
    chosen = np.where(covering >= 1, latest_covering, nearest)
    confidence = np.where(
        covering == 1, 0, np.where(covering > 1, 2, np.where(tie, 2, 1))
    )
    return chosen, confidence
