"""Per-direction counters of a flow, computed on distinct packets.

Retransmissions follow Zeek (``update_last_seq``): per direction the TCP sequence numbers are
unwrapped into 64-bit offsets from the first one; a segment carrying payload whose end does
not go past the highest sequence end seen before in that direction is a retransmission (a
resent segment, or one arriving after a later one). Every packet here is a distinct packet,
so a segment seen on four interfaces is counted once.

Zero windows follow Zeek's ``update_window``: a window of 0 on a packet that is not a RST,
sent before the peer's FIN and before the sender's own RST.

RTT comes from the handshake as seen at the capture point: SYN -> SYN-ACK (the last SYN
before the first SYN-ACK, so SYN retransmissions do not inflate it) and SYN-ACK -> first
ACK from the originator. Their sum is the full round trip whichever capture point saw it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pcapkit.flows.groups import first_where, last_where, run_starts
from pcapkit.flows.keys import ACK, FIN, RST, SYN


def retransmissions(group: np.ndarray, tcp: np.ndarray, seq: np.ndarray, flags: np.ndarray,
                    plen: np.ndarray) -> np.ndarray:
    """True for TCP data segments that repeat sequence space already seen in their direction.

    ``group`` is flow*2 + direction; rows are sorted by flow, then time."""
    out = np.zeros(len(group), dtype=bool)
    rows = np.flatnonzero(tcp & (seq >= 0))
    if not len(rows):
        return out
    rows = rows[np.argsort(group[rows], kind="stable")]
    g, s, f, n = group[rows], seq[rows], flags[rows], plen[rows]
    starts = run_starts(g)
    step = (s - np.concatenate([[0], s[:-1]])) % (1 << 32)
    step = np.where(step >= (1 << 31), step - (1 << 32), step)
    step[starts] = 0
    offset = np.cumsum(step)
    offset -= offset[np.maximum.accumulate(np.where(starts, np.arange(len(g)), 0))]
    rst = (f & RST) != 0
    end = offset + np.where(rst, 0, n) + ((f & SYN) != 0) + ((f & FIN) != 0)
    lowest = np.iinfo(np.int64).min
    highest = pd.Series(np.where(rst, lowest, end)).groupby(g, sort=False).cummax().to_numpy()
    before = np.concatenate([[lowest], highest[:-1]])
    before[starts] = lowest
    out[rows] = ~rst & (n > 0) & (end <= before)
    return out


def zero_windows(flow: np.ndarray, n_flows: int, tcp: np.ndarray, is_orig: np.ndarray,
                 flags: np.ndarray, win: np.ndarray) -> np.ndarray:
    """True for packets that count as a zero-window advertisement (Zeek's rule)."""
    rows = np.arange(len(flow))
    big = np.iinfo(np.int64).max
    fin, rst = (flags & FIN) != 0, (flags & RST) != 0
    out = tcp & (win == 0) & ~rst
    for side in (is_orig, ~is_orig):
        peer_fin = first_where(tcp & ~side & fin, flow, n_flows)
        own_rst = first_where(tcp & side & rst, flow, n_flows)
        peer_fin = np.where(peer_fin >= 0, peer_fin, big)[flow]
        own_rst = np.where(own_rst >= 0, own_rst, big)[flow]
        out &= ~side | ((rows < peer_fin) & (rows < own_rst))
    return out


def per_direction(values: np.ndarray, group: np.ndarray, n_flows: int) -> np.ndarray:
    """Sum of ``values`` per (flow, direction): an (n_flows, 2) int64 array."""
    sums = np.bincount(group, weights=values.astype(np.float64), minlength=2 * n_flows)
    return np.rint(sums).astype(np.int64).reshape(n_flows, 2)


def handshake_rtt(flow: np.ndarray, n_flows: int, tcp: np.ndarray, is_orig: np.ndarray,
                  flags: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(SYN -> SYN-ACK, SYN-ACK -> ACK) in seconds per flow; NaN when not seen."""
    rows = np.arange(len(flow))
    syn_ack = first_where(tcp & ~is_orig & ((flags & (SYN | ACK)) == (SYN | ACK)), flow,
                          n_flows)
    at = np.where(syn_ack >= 0, syn_ack, -1)[flow]
    syn = last_where(tcp & is_orig & ((flags & (SYN | ACK)) == SYN) & (rows < at), flow, n_flows)
    ack = first_where(tcp & is_orig & ((flags & (SYN | ACK)) == ACK) & (at >= 0) & (rows > at),
                      flow, n_flows)
    first = np.full(n_flows, np.nan)
    second = np.full(n_flows, np.nan)
    ok = (syn >= 0) & (syn_ack >= 0)
    first[ok] = (t[syn_ack[ok]] - t[syn[ok]]) / 1e9
    ok = (ack >= 0) & (syn_ack >= 0)
    second[ok] = (t[ack[ok]] - t[syn_ack[ok]]) / 1e9
    return first, second


def syn_counts(group: np.ndarray, n_flows: int, tcp: np.ndarray,
               flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(SYNs without ACK, SYN-ACKs) per (flow, direction)."""
    pure = tcp & ((flags & (SYN | ACK)) == SYN)
    answer = tcp & ((flags & (SYN | ACK)) == (SYN | ACK))
    return per_direction(pure, group, n_flows), per_direction(answer, group, n_flows)

