"""Zeek's connection ``history`` string, built for all flows at once.

Letters (upper case: originator, lower case: responder), as in Zeek's ``Conn::Info``:
  S SYN without ACK, H SYN-ACK, A pure ACK, D payload, F FIN, R RST,
  I FIN+RST in one packet, Q SYN+FIN or SYN+RST in one packet,
  T retransmitted payload, W zero window, ^ roles flipped by the originator heuristics.
A, D, I and Q are recorded once per direction; S/H, F and R again whenever their sequence
number differs from the previous packet of that kind; T and W logarithmically (the 1st,
10th, 100th ... occurrence). Within one packet the order is: its letter, W, T. UDP flows get
D/d for the first packet of each direction; other protocols get no history. Not produced:
C (bad checksum; checksums are not verified) and G (content gap).
"""

from __future__ import annotations

import numpy as np

from pcapkit.flows.groups import first_where, group_bounds, is_power_of_ten, occurrence, run_starts
from pcapkit.flows.keys import ACK, FIN, RST, SYN, TCP, UDP

_LOWER = 32


def _once(cond: np.ndarray, flow: np.ndarray, n_flows: int,
          side: np.ndarray) -> np.ndarray:
    rows = first_where(cond & side, flow, n_flows)
    return rows[rows >= 0]


def _on_change(cond: np.ndarray, key: np.ndarray, flow: np.ndarray,
               side: np.ndarray) -> np.ndarray:
    """Rows of a kind whose key differs from the previous row of that kind and side."""
    rows = np.flatnonzero(cond & side)
    if not len(rows):
        return rows
    keep = run_starts(flow[rows])
    keep[1:] |= key[rows][1:] != key[rows][:-1]
    return rows[keep]


def _scaled(cond: np.ndarray, flow: np.ndarray, side: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(cond & side)
    return rows[is_power_of_ten(occurrence(flow[rows]))]


def build_history(flow: np.ndarray, n_flows: int, proto: np.ndarray, is_orig: np.ndarray,
                  flags: np.ndarray, seq: np.ndarray, plen: np.ndarray, retrans: np.ndarray,
                  zero_window: np.ndarray, flipped: np.ndarray,
                  first: np.ndarray) -> np.ndarray:
    """History string per flow (rows sorted by flow, then time)."""
    tcp, udp = proto == TCP, proto == UDP
    syn, fin, rst, ack = ((flags & bit) != 0 for bit in (SYN, FIN, RST, ACK))
    bits = syn.astype(np.int8) + fin + rst
    rows_parts, sub_parts, char_parts = [], [], []

    def emit(rows: np.ndarray, letter: np.ndarray | str, sub: int, side_is_orig: bool) -> None:
        chars = (np.full(len(rows), ord(letter), np.uint8) if isinstance(letter, str)
                 else letter[rows].astype(np.uint8))
        if not side_is_orig:
            chars = chars + _LOWER
        rows_parts.append(rows)
        sub_parts.append(np.full(len(rows), sub, np.int8))
        char_parts.append(chars)

    syn_letter = np.where(ack, ord("H"), ord("S"))
    for side, upper in ((is_orig, True), (~is_orig, False)):
        emit(_once(tcp & (bits > 1) & fin & rst, flow, n_flows, side), "I", 0, upper)
        emit(_once(tcp & (bits > 1) & ~(fin & rst), flow, n_flows, side), "Q", 0, upper)
        emit(_on_change(tcp & (bits == 1) & syn, seq, flow, side), syn_letter, 0, upper)
        emit(_on_change(tcp & (bits == 1) & fin, seq + plen, flow, side), "F", 0, upper)
        emit(_on_change(tcp & (bits == 1) & rst, seq, flow, side), "R", 0, upper)
        emit(_once(tcp & (bits == 0) & (plen > 0), flow, n_flows, side), "D", 0, upper)
        emit(_once(tcp & (bits == 0) & (plen == 0) & ack, flow, n_flows, side), "A", 0, upper)
        emit(_scaled(tcp & zero_window, flow, side), "W", 1, upper)
        emit(_scaled(tcp & retrans, flow, side), "T", 2, upper)
        emit(_once(udp, flow, n_flows, side), "D", 0, upper)
    flipped_rows = first[flipped & (first >= 0)]
    rows_parts.append(flipped_rows)
    sub_parts.append(np.full(len(flipped_rows), -1, np.int8))
    char_parts.append(np.full(len(flipped_rows), ord("^"), np.uint8))

    rows = np.concatenate(rows_parts)
    subs = np.concatenate(sub_parts)
    chars = np.concatenate(char_parts)
    order = np.lexsort((subs, rows))
    rows, chars = rows[order], chars[order]
    text = chars.tobytes().decode("ascii")
    starts, ends = group_bounds(flow[rows], n_flows)
    out = np.empty(n_flows, dtype=object)
    out[:] = [text[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    return out
