"""Which flow each packet belongs to: direction-independent keys, overlays, splits.

A flow key is the innermost (proto, endpoint A, endpoint B) with the two endpoints put in a
fixed order so both directions share it, plus the ICMP message family for ICMP, plus the
overlay context (encap, VNI). A 5-tuple seen in exactly one overlay takes that overlay for
all its packets, including the ones only seen outside the tunnel (on a pod veth); a 5-tuple
reused by several overlays is kept apart per overlay, unless each overlay carries one
direction of it (Cilium's VNI is the sender's identity: see ``_resolve_contexts``).

A key's packets, in time order, are cut into separate flows at an idle gap longer than the
protocol's timeout, and (TCP) at a new SYN after a FIN or RST (port reuse). ICMP errors that
quote a packet of a known 5-tuple are set aside: they are linked to that flow instead of
forming one of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pcapkit.column_arrays import unique_inverse
from pcapkit.flows.arrays import Packets
from pcapkit.flows.groups import run_starts

TCP, UDP, ICMP, ICMP6, SCTP = 6, 17, 1, 58, 132
PORT_PROTOCOLS = (TCP, UDP, SCTP, 33, 136)  # + DCCP, UDP-Lite
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10

ICMP_ERRORS = {ICMP: (3, 4, 5, 11, 12), ICMP6: (1, 2, 3, 4)}
#: ICMP message families: request and reply types share one flow.
ICMP_FAMILIES = {
    ICMP: {0: 1, 8: 1, 13: 2, 14: 2, 15: 3, 16: 3, 17: 4, 18: 4, 9: 5, 10: 5},
    ICMP6: {128: 1, 129: 1, 133: 5, 134: 5, 135: 6, 136: 6, 130: 7, 131: 7, 132: 7, 143: 7},
}
FAMILY_NAMES = {1: "echo", 2: "timestamp", 3: "info", 4: "mask", 5: "router", 6: "neighbor",
                7: "mld", 99: "error"}
ERROR_FAMILY = 99
#: ICMP types that answer a request: a flow whose first packet is one is flipped.
ICMP_REPLIES = {ICMP: (0, 9, 14, 16, 18), ICMP6: (129, 134, 136)}


#: Packet fields the later stages read (the others only serve keying).
FLOW_FIELDS = ("row", "pid", "t", "src", "dst", "proto", "sport", "dport", "flags", "seq", "win",
               "plen", "iplen", "itype", "icode", "ctx")


@dataclass
class Assignment:
    """Flow membership of every IP packet.

    ``packets`` holds the flow packets sorted by (flow, time); ``flow`` is their flow index
    (0 = earliest flow). ``errors`` are the ICMP errors linked to ``error_flow``.
    ``deferred``: positions (into the packets given) of the ICMP errors set aside because
    they quote no flow seen here (``assign(..., defer_errors=True)``; empty otherwise).
    """

    packets: Packets
    flow: np.ndarray
    n_flows: int
    lo_is_src: np.ndarray
    family: np.ndarray
    errors: Packets
    error_flow: np.ndarray
    deferred: np.ndarray


def timeouts_ns(proto: np.ndarray, tcp: float | None, udp: float | None,
                icmp: float | None) -> np.ndarray:
    """Idle timeout per packet in ns by protocol (other protocols use the UDP one)."""
    def ns(value: float | None) -> np.int64:
        return np.int64(np.iinfo(np.int64).max if value is None else int(value * 1e9))

    out = np.full(len(proto), ns(udp), dtype=np.int64)
    out[proto == TCP] = ns(tcp)
    out[(proto == ICMP) | (proto == ICMP6)] = ns(icmp)
    return out


def fill_fragment_ports(pk: Packets) -> None:
    """Give non-first IP fragments the ports/ICMP type of their first fragment (in place)."""
    later = np.flatnonzero(pk.frag > 0)
    if not len(later):
        return
    first = np.flatnonzero((pk.frag == 0) & (pk.more_frags == 1))
    keys = ["src", "dst", "proto", "ip_id"]
    heads = pd.DataFrame({k: getattr(pk, k)[first] for k in keys}).assign(head=first)
    heads = heads.drop_duplicates(keys, keep="last")
    tails = pd.DataFrame({k: getattr(pk, k)[later] for k in keys}).assign(tail=later)
    matched = tails.merge(heads, on=keys, how="inner")
    tail, head = matched["tail"].to_numpy(), matched["head"].to_numpy()
    for name in ("sport", "dport", "itype", "icode"):
        getattr(pk, name)[tail] = getattr(pk, name)[head]


def icmp_family(proto: np.ndarray, itype: np.ndarray) -> np.ndarray:
    """ICMP message family per packet (0 for other protocols, 100 + type if unknown)."""
    out = np.zeros(len(proto), dtype=np.int64)
    for number, families in ICMP_FAMILIES.items():
        here = proto == number
        if not here.any():
            continue
        lookup = np.full(256, -1, dtype=np.int64)
        for kind, family in families.items():
            lookup[kind] = family
        types = np.clip(itype[here], 0, 255)
        fam = lookup[types]
        out[here] = np.where(fam >= 0, fam, 100 + types)
    return out


def icmp_errors(pk: Packets) -> np.ndarray:
    """True for ICMP/ICMPv6 error messages (unreachable, time exceeded, ...), which quote
    another packet and are linked to its flow instead of forming their own."""
    out = np.zeros(len(pk), dtype=bool)
    for number, types in ICMP_ERRORS.items():
        out |= (pk.proto == number) & np.isin(pk.itype, types)
    return out


def _canonical(proto: np.ndarray, a_ip: np.ndarray, a_port: np.ndarray, b_ip: np.ndarray,
               b_port: np.ndarray) -> tuple[np.ndarray, ...]:
    """(lo_ip, lo_port, hi_ip, hi_port, a_is_lo): endpoints in a fixed order."""
    has_ports = np.isin(proto, PORT_PROTOCOLS) & (a_port >= 0) & (b_port >= 0)
    a_port = np.where(has_ports, a_port, -1)
    b_port = np.where(has_ports, b_port, -1)
    a_lo = (a_ip < b_ip) | ((a_ip == b_ip) & (a_port <= b_port))
    return (np.where(a_lo, a_ip, b_ip), np.where(a_lo, a_port, b_port),
            np.where(a_lo, b_ip, a_ip), np.where(a_lo, b_port, a_port), a_lo)


def _quoted_family(q_proto: np.ndarray) -> np.ndarray:
    """The family assumed for an ICMP message quoted in an error: the decoder does not keep
    the quoted ICMP type, and the messages that draw errors are echo requests."""
    return np.where((q_proto == ICMP) | (q_proto == ICMP6), 1, 0).astype(np.int64)


def _tuple_ids(proto: np.ndarray, lo_ip: np.ndarray, lo_port: np.ndarray, hi_ip: np.ndarray,
               hi_port: np.ndarray, family: np.ndarray) -> np.ndarray:
    """A dense id per distinct (proto, endpoints, ICMP family), in the rows' original order.

    The six small integers are packed into two int64 words, each factorized (hashing, no
    sort), then the pair of codes factorized again."""
    ports = ((proto & 0xFF) << 42) | ((family & 0xFF) << 34) | ((lo_port + 1) << 17) \
        | (hi_port + 1)
    addresses = (lo_ip << 32) | hi_ip
    address_id, _ = pd.factorize(addresses)
    port_id, port_values = pd.factorize(ports)
    ids, _ = pd.factorize(address_id.astype(np.int64) * len(port_values) + port_id)
    return ids.astype(np.int64)


def _resolve_contexts(tuple_id: np.ndarray, ctx: np.ndarray, forward: np.ndarray,
                      t: np.ndarray, pid: np.ndarray) -> np.ndarray:
    """One overlay context per conversation.

    A 5-tuple whose two directions travel in different overlay contexts, each context
    carrying one direction only, is one conversation: Cilium's VXLAN puts the *sender's*
    security identity in the VNI, so a request and its reply differ (the flow's ``vni`` is
    then that of its earliest packet, by (time, packet id), whatever the codes; the
    per-direction ``orig_vnis``/``resp_vnis`` keep both). Then a
    5-tuple with one overlay gives that overlay to its unencapsulated packets too (the pod
    veth sees them bare). Contexts that each carry both directions stay apart: the same pod
    addresses in two overlays (tenants) are two conversations."""
    if not (ctx > 0).any():
        return ctx
    ctx = ctx.copy()
    n = int(tuple_id.max()) + 1
    wrapped = np.flatnonzero(ctx > 0)
    pairs, inverse = unique_inverse(tuple_id[wrapped] * (int(ctx.max()) + 1) + ctx[wrapped])
    directions = np.zeros(len(pairs), dtype=np.int64)
    np.bitwise_or.at(directions, inverse.ravel(), np.where(forward[wrapped], 1, 2))
    pair_tuple = pairs // (int(ctx.max()) + 1)
    contexts = np.bincount(pair_tuple, minlength=n)
    two_way = np.zeros(n, dtype=np.int64)
    np.bitwise_or.at(two_way, pair_tuple, directions)
    mixed = np.zeros(n, dtype=bool)
    np.logical_or.at(mixed, pair_tuple, directions == 3)
    split = (contexts >= 2) & (two_way == 3) & ~mixed  # each context one way, both ways seen
    if split.any():
        rows = wrapped[split[tuple_id[wrapped]]]
        earliest = rows[np.lexsort((pid[rows], t[rows], tuple_id[rows]))]
        heads = earliest[run_starts(tuple_id[earliest])]
        chosen = np.zeros(n, dtype=np.int64)
        chosen[tuple_id[heads]] = ctx[heads]
        ctx[rows] = chosen[tuple_id[rows]]
    big = np.iinfo(np.int64).max
    low = np.full(n, big, dtype=np.int64)
    high = np.full(n, -1, dtype=np.int64)
    wrapped = ctx > 0
    np.minimum.at(low, tuple_id[wrapped], ctx[wrapped])
    np.maximum.at(high, tuple_id[wrapped], ctx[wrapped])
    single = (high >= 0) & (low == high)
    return np.where((ctx == 0) & single[tuple_id], high[tuple_id], ctx)


def assign(pk: Packets, *, tcp_timeout: float | None, udp_timeout: float | None,
           icmp_timeout: float | None, defer_errors: bool = False) -> Assignment:
    """Split packets into flows (see the module docstring). ``defer_errors``: leave the
    ICMP errors that quote no 5-tuple seen here out (``Assignment.deferred``) instead of
    giving them flows of their own: a share of an incident does this, and its set-aside
    errors are keyed together with every other share's (pcapkit.partition.flows)."""
    fill_fragment_ports(pk)
    is_error = icmp_errors(pk)
    family = icmp_family(pk.proto, pk.itype)
    family[is_error] = ERROR_FAMILY
    lo_ip, lo_port, hi_ip, hi_port, lo_is_src = _canonical(pk.proto, pk.src, pk.sport,
                                                           pk.dst, pk.dport)
    quoting = np.flatnonzero(is_error & (pk.q_src >= 0) & (pk.q_dst >= 0) & (pk.q_proto >= 0))
    q_lo_ip, q_lo_port, q_hi_ip, q_hi_port, _ = _canonical(
        pk.q_proto[quoting], pk.q_src[quoting], pk.q_sport[quoting],
        pk.q_dst[quoting], pk.q_dport[quoting])
    n = len(pk)
    tuple_id = _tuple_ids(
        np.concatenate([pk.proto, pk.q_proto[quoting]]),
        np.concatenate([lo_ip, q_lo_ip]), np.concatenate([lo_port, q_lo_port]),
        np.concatenate([hi_ip, q_hi_ip]), np.concatenate([hi_port, q_hi_port]),
        np.concatenate([family, _quoted_family(pk.q_proto[quoting])]))
    own_tuple, quoted_tuple = tuple_id[:n], tuple_id[n:]
    seen = np.zeros(int(tuple_id.max()) + 1 if len(tuple_id) else 0, dtype=bool)
    seen[own_tuple[~is_error]] = True
    linked_mask = np.zeros(n, dtype=bool)
    linked_mask[quoting[seen[quoted_tuple]]] = True
    deferred = np.flatnonzero(is_error & ~linked_mask) if defer_errors \
        else np.zeros(0, dtype=np.int64)
    member = np.flatnonzero(~linked_mask & ~is_error if defer_errors else ~linked_mask)
    ctx = pk.ctx.copy()
    ctx[member] = _resolve_contexts(own_tuple[member], ctx[member], lo_is_src[member],
                                    pk.t[member], pk.pid[member])

    order = member[np.lexsort((pk.pid[member], pk.t[member],
                               (own_tuple[member] << 20) | ctx[member]))]
    flow, n_flows = _split(pk, order, own_tuple[order], ctx[order],
                           timeouts_ns(pk.proto[order], tcp_timeout, udp_timeout, icmp_timeout))
    flow, final = _renumber(flow, n_flows, pk.t[order], pk.pid[order])
    order = order[final]
    flow = flow[final]
    pk.ctx = ctx
    packets = pk.take(order, FLOW_FIELDS)

    linked = np.flatnonzero(linked_mask)
    position = np.searchsorted(quoting, linked)
    flow_tuple = own_tuple[order][np.searchsorted(flow, np.arange(n_flows))]
    error_flow = _nearest_flow(flow_tuple, packets.t[np.searchsorted(flow, np.arange(n_flows))],
                               quoted_tuple[position], pk.t[linked])
    return Assignment(packets=packets, flow=flow, n_flows=n_flows, lo_is_src=lo_is_src[order],
                      family=family[order], errors=pk.take(linked, FLOW_FIELDS),
                      error_flow=error_flow, deferred=deferred)


def _split(pk: Packets, order: np.ndarray, tuple_id: np.ndarray, ctx: np.ndarray,
           timeout: np.ndarray) -> tuple[np.ndarray, int]:
    """Flow index per row of ``order`` (rows sorted by key, then time)."""
    n = len(order)
    if not n:
        return np.zeros(0, dtype=np.int64), 0
    t = pk.t[order]
    flags = pk.flags[order]
    tcp = pk.proto[order] == TCP
    start = run_starts(tuple_id, ctx)
    gap = np.zeros(n, dtype=bool)
    gap[1:] = (t[1:] - t[:-1]) > timeout[1:]
    start |= gap
    # Port reuse: a pure SYN after a FIN/RST since the previous SYN (or the flow start).
    pure_syn = tcp & ((flags & (SYN | ACK | RST)) == SYN)
    fin_rst = tcp & ((flags & (FIN | RST)) != 0)
    idx = np.arange(n)
    before = np.cumsum(fin_rst) - fin_rst          # FIN/RST rows strictly before each row
    last_start = np.maximum.accumulate(np.where(start, idx, 0))
    last_syn = np.maximum.accumulate(np.where(pure_syn, idx, -1))
    prev_syn = np.concatenate([[-1], last_syn[:-1]])
    from_syn = prev_syn >= last_start
    ref = np.where(from_syn, prev_syn, last_start)
    seq = pk.seq[order]
    reuse = (pure_syn & ~start & (before - before[ref] > 0)
             & ~(from_syn & (seq == seq[np.maximum(ref, 0)])))
    start |= reuse
    return np.cumsum(start) - 1, int(start.sum())


def _renumber(flow: np.ndarray, n_flows: int, t: np.ndarray,
              pid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Number flows by start time; return (new flow per row, row order grouping flows)."""
    if not n_flows:
        return flow, np.zeros(0, dtype=np.int64)
    first = np.flatnonzero(run_starts(flow))
    rank = np.empty(n_flows, dtype=np.int64)
    rank[np.lexsort((pid[first], t[first]))] = np.arange(n_flows)
    new = rank[flow]
    final = np.argsort(new, kind="stable")
    return new, final


def _nearest_flow(flow_tuple: np.ndarray, flow_start: np.ndarray, error_tuple: np.ndarray,
                  error_t: np.ndarray) -> np.ndarray:
    """For each linked error, the flow of its quoted 5-tuple that was active at its time:
    the last one started before it, else the first one."""
    if not len(error_tuple):
        return np.zeros(0, dtype=np.int64)
    n_flows = len(flow_tuple)
    keys_tuple = np.concatenate([flow_tuple, error_tuple])
    keys_t = np.concatenate([flow_start, error_t])
    kind = np.concatenate([np.zeros(n_flows, np.int64), np.ones(len(error_tuple), np.int64)])
    ident = np.concatenate([np.arange(n_flows), np.arange(len(error_tuple))])
    order = np.lexsort((kind, keys_t, keys_tuple))
    tup, is_flow, who = keys_tuple[order], kind[order] == 0, ident[order]
    idx = np.arange(len(order))
    group_start = np.maximum.accumulate(np.where(run_starts(tup), idx, 0))
    last_flow = np.maximum.accumulate(np.where(is_flow, idx, -1))
    nxt = np.where(is_flow, idx, len(order))
    next_flow = np.minimum.accumulate(nxt[::-1])[::-1]
    chosen = np.where(last_flow >= group_start, last_flow, next_flow)
    out = np.empty(len(error_tuple), dtype=np.int64)
    errors = ~is_flow
    out[who[errors]] = who[chosen[errors]]
    return out
