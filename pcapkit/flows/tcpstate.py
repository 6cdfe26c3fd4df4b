"""Zeek's TCP endpoint state machine and ``conn_state``, run for all flows at once.

Zeek keeps a state per endpoint (INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED,
CLOSED, RESET) and moves it on every packet (``TCPSessionAdapter::UpdateStateMachine``).
Only a few packets of a flow can change a state: once both endpoints have left INACTIVE,
a packet without SYN, FIN or RST changes nothing, and repeated SYNs/FINs/RSTs of an endpoint
act like its first one. So per flow and direction we keep just the first SYN, SYN-ACK, FIN
and RST, the first packet without control flags (plus, for the responder, the first such
packet with payload and the first after the originator's FIN/RST, the cases where Zeek
leaves a responder INACTIVE), order those few events per flow, and step through them with
numpy: step k applies the k-th event of every flow at once. A flow has at most 13 events.

``conn_state`` is then Zeek's ``Conn::conn_state`` function applied to the final states.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pcapkit.column_arrays import sorted_unique
from pcapkit.flows.groups import first_where, occurrence
from pcapkit.flows.keys import ACK, FIN, RST, SYN

INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)
STATE_NAMES = ("INACTIVE", "SYN_SENT", "SYN_ACK_SENT", "PARTIAL", "ESTABLISHED", "CLOSED",
               "RESET")
CONN_STATES = ("S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH",
               "SHR", "OTH")
_RSTOS0 = re.compile(r"\^?S[^HAFGIQ]*R.*")
CONTROL = SYN | FIN | RST


def key_events(flow: np.ndarray, n_flows: int, tcp: np.ndarray, is_orig: np.ndarray,
               flags: np.ndarray, plen: np.ndarray) -> np.ndarray:
    """Rows (sorted by flow, then time) of the packets that can change an endpoint state."""
    control = (flags & CONTROL) != 0
    plain = tcp & ~control
    picks = []
    for side in (is_orig, ~is_orig):
        mine = tcp & side
        picks += [first_where(mine & ((flags & (SYN | ACK)) == SYN), flow, n_flows),
                  first_where(mine & ((flags & (SYN | ACK)) == (SYN | ACK)), flow, n_flows),
                  first_where(mine & ((flags & FIN) != 0), flow, n_flows),
                  first_where(mine & ((flags & RST) != 0), flow, n_flows),
                  first_where(plain & side, flow, n_flows)]
    resp = ~is_orig
    picks.append(first_where(plain & resp & (plen > 0), flow, n_flows))
    orig_fin, orig_rst = picks[2], picks[3]
    cut = np.where(orig_fin >= 0, orig_fin, np.iinfo(np.int64).max)
    cut = np.where((orig_rst >= 0) & (orig_rst < cut), orig_rst, cut)
    rows = np.arange(len(flow))
    picks.append(first_where(plain & resp & (rows > cut[flow]), flow, n_flows))
    events = np.concatenate(picks)
    return sorted_unique(events[events >= 0], len(flow))


def run_state_machine(flow: np.ndarray, n_flows: int, tcp: np.ndarray, is_orig: np.ndarray,
                      flags: np.ndarray, plen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Final (originator state, responder state) per flow."""
    state = np.zeros((n_flows, 2), dtype=np.int8)
    prev = np.zeros((n_flows, 2), dtype=np.int8)
    events = key_events(flow, n_flows, tcp, is_orig, flags, plen)
    if not len(events):
        return state[:, 0], state[:, 1]
    step = occurrence(flow[events])
    for k in range(1, int(step.max()) + 1):
        rows = events[step == k]
        _apply(state, prev, flow[rows], np.where(is_orig[rows], 0, 1), flags[rows],
               plen[rows] > 0)
    return state[:, 0], state[:, 1]


def _apply(state: np.ndarray, prev: np.ndarray, f: np.ndarray, d: np.ndarray,
           flags: np.ndarray, has_data: np.ndarray) -> None:
    """One packet per flow through ``UpdateStateMachine`` (vectorised over flows)."""
    syn, ack = (flags & SYN) != 0, (flags & ACK) != 0
    fin, rst = (flags & FIN) != 0, (flags & RST) != 0
    orig = d == 0
    entry = state[f, d].copy()
    own, peer = state[f, d].copy(), state[f, 1 - d].copy()
    own_prev, peer_prev = prev[f, d].copy(), prev[f, 1 - d].copy()

    def set_own(mask: np.ndarray, value: int) -> None:
        own_prev[mask] = own[mask]
        own[mask] = value

    def set_peer(mask: np.ndarray, value: int) -> None:
        peer_prev[mask] = peer[mask]
        peer[mask] = value

    inactive = entry == INACTIVE
    opening = inactive & syn & orig
    set_own(opening & ack, SYN_ACK_SENT)
    set_own(opening & ~ack, SYN_SENT)
    answer = inactive & syn & ~orig
    set_peer(answer & ~ack & (peer == SYN_ACK_SENT), ESTABLISHED)
    set_peer(answer & (peer == SYN_SENT), ESTABLISHED)
    set_own(answer, ESTABLISHED)
    set_own(inactive & fin, CLOSED)
    set_own(inactive & rst, RESET)
    plain = inactive & (own == INACTIVE)
    # Some TCPs ACK a SYN before answering it: that ACK does not make a partial connection.
    waiting = plain & ~orig & ~has_data & (peer == SYN_SENT)
    joined = plain & ~waiting & ack & (peer == ESTABLISHED)
    set_own(joined, ESTABLISHED)
    set_own(plain & ~waiting & ~joined, PARTIAL)

    opened = (entry == SYN_SENT) | (entry == SYN_ACK_SENT)
    set_own(opened & fin, CLOSED)
    set_own(opened & rst, RESET)

    running = (entry == ESTABLISHED) | (entry == PARTIAL)
    set_own(running & syn & (entry == PARTIAL) & (peer == INACTIVE) & ~ack, SYN_SENT)
    closing = running & fin & ~rst
    set_own(closing, CLOSED)
    set_peer(closing & (peer == RESET) & (peer_prev == CLOSED), CLOSED)
    set_own(running & rst, RESET)

    set_own((entry == CLOSED) & rst & (peer != CLOSED), RESET)

    state[f, d], state[f, 1 - d] = own, peer
    prev[f, d], prev[f, 1 - d] = own_prev, peer_prev


def conn_state(orig: np.ndarray, resp: np.ndarray, orig_bytes: np.ndarray,
               resp_bytes: np.ndarray, history: np.ndarray) -> np.ndarray:
    """Zeek's ``Conn::conn_state`` for TCP flows, from the final endpoint states."""
    o_inactive = (orig == INACTIVE) | (orig == PARTIAL)
    r_inactive = (resp == INACTIVE) | (resp == PARTIAL)
    r_reset, o_reset = resp == RESET, orig == RESET
    rejected = ((orig == SYN_SENT) | (orig == SYN_ACK_SENT)
                | (o_reset & (orig_bytes == 0) & (resp_bytes == 0)))
    rstos0 = np.zeros(len(orig), dtype=bool)
    candidates = np.flatnonzero(~r_reset & o_reset & r_inactive)
    if len(candidates):
        rstos0[candidates] = [bool(_RSTOS0.fullmatch(h)) for h in history[candidates]]
    conditions = [
        r_reset & rejected, r_reset & o_inactive, r_reset,
        o_reset & r_inactive & rstos0, o_reset & r_inactive, o_reset,
        (resp == CLOSED) & (orig == CLOSED),
        (orig == CLOSED) & r_inactive, orig == CLOSED,
        (resp == CLOSED) & o_inactive, resp == CLOSED,
        (orig == SYN_SENT) & (resp == INACTIVE),
        (orig == ESTABLISHED) & (resp == ESTABLISHED),
    ]
    choices = ["REJ", "RSTRH", "RSTR", "RSTOS0", "OTH", "RSTO", "SF", "SH", "S2", "SHR", "S3",
               "S0", "S1"]
    return np.select(conditions, choices, default="OTH").astype(object)


def udp_conn_state(orig_pkts: np.ndarray, resp_pkts: np.ndarray) -> np.ndarray:
    """Zeek's UDP rule: SF both sides sent, S0 only the originator, SHR only the responder."""
    o, r = orig_pkts > 0, resp_pkts > 0
    return np.select([o & r, o, r], ["SF", "S0", "SHR"], default="OTH").astype(object)


def state_names(states: np.ndarray) -> pd.Categorical:
    """Endpoint state codes (INACTIVE .. RESET) as a categorical of their Zeek names."""
    return pd.Categorical.from_codes(states.astype(np.int64), categories=list(STATE_NAMES))
