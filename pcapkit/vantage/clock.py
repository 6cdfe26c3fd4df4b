"""Clock offsets between node captures, from packets seen on both nodes.

For a packet seen on nodes A and B the measured delay is the true one-way delay plus the
offset between their clocks (o = clock_B - clock_A) for A->B, minus it for B->A. With packets
in both directions the offset is the NTP estimate: half the difference between the median
delays of the two directions, so that the corrected median one-way delay is the same both
ways. With one direction only the delay and the offset cannot be told apart; the clocks are
then shifted only as far as needed so that no packet arrives before it was sent.

Delays are measured between the sightings closest to the wire: the sender node's last
sighting and the receiver node's first (a node that sees a packet on the pod's veth and on
its NIC adds its own forwarding time otherwise). Which way a packet went is known per
conversation direction (innermost src -> dst): of the two ways to assign a conversation's
two directions, the wrong one yields a negative one-way delay. A direction seen without
its reverse is placed by TTL (the sender's copy has the larger inner TTL) and by SLL packet
type on the tunnelled copy (outgoing at the sender, incoming at the receiver).

Offsets are against a reference node (the one with the most sightings); nodes that share
no packet with the reference directly are chained through the pair with the most samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pcapkit.schema.convert import build_frame, empty_frame
from pcapkit.schema.vantage import CLOCK_OFFSETS

TWO_WAY = "two-way median delay (NTP-style)"
ONE_WAY = ("one direction only ({a} -> {b}): shifted just enough that no packet arrives "
           "before it was sent")
NO_DIRECTION = "none: shared packets, but their direction between the nodes is unknown"
NO_SHARED = "none: no packet seen both here and on the reference node's side"


@dataclass
class PairEstimate:
    a: str
    b: str
    offset: float   # clock_b - clock_a, seconds
    spread: float
    samples: int
    method: str


def pair_samples(groups: np.ndarray, node: np.ndarray, ts_ns: np.ndarray, ttl: np.ndarray,
                 direction: np.ndarray, tunnelled: np.ndarray, src: np.ndarray,
                 dst: np.ndarray) -> pd.DataFrame:
    """One row per packet and pair of nodes that saw it (node codes a < b).

    Inputs are per sighting: the packet group, node code, time, inner TTL (-1 if none),
    direction (+1 out, -1 in, 0 unknown), whether the sighting is tunnelled, and integer
    codes of the innermost src and dst. Output: group, a, b, src, dst, fwd (first on b
    minus last on a, seconds), rev (last on b minus first on a) and vote (+ means a -> b).
    """
    frame = pd.DataFrame({
        "group": groups, "node": node, "ts": ts_ns, "ttl": ttl,
        "enc_out": tunnelled & (direction > 0), "enc_in": tunnelled & (direction < 0),
        "src": src, "dst": dst,
    })
    per = frame.groupby(["group", "node"], sort=False).agg(
        t_min=("ts", "min"), t_max=("ts", "max"), ttl=("ttl", "max"),
        enc_out=("enc_out", "any"), enc_in=("enc_in", "any"), src=("src", "first"),
        dst=("dst", "first")).reset_index()
    per = per[per.groupby("group")["node"].transform("size") >= 2]
    pairs = per.merge(per, on="group", suffixes=("_a", "_b"))
    pairs = pairs[pairs["node_a"] < pairs["node_b"]]
    ttl_a, ttl_b = pairs["ttl_a"].to_numpy(), pairs["ttl_b"].to_numpy()
    ttl_vote = np.where((ttl_a >= 0) & (ttl_b >= 0), np.sign(ttl_a - ttl_b), 0)
    enc_vote = ((pairs["enc_out_a"].to_numpy() | pairs["enc_in_b"].to_numpy()).astype(int)
                - (pairs["enc_out_b"].to_numpy() | pairs["enc_in_a"].to_numpy()).astype(int))
    return pd.DataFrame({
        "group": pairs["group"].to_numpy(), "a": pairs["node_a"].to_numpy(),
        "b": pairs["node_b"].to_numpy(), "src": pairs["src_a"].to_numpy(),
        "dst": pairs["dst_a"].to_numpy(),
        "fwd": (pairs["t_min_b"].to_numpy() - pairs["t_max_a"].to_numpy()) / 1e9,
        "rev": (pairs["t_max_b"].to_numpy() - pairs["t_min_a"].to_numpy()) / 1e9,
        "vote": ttl_vote + enc_vote,
    })


def estimate_pairs(samples: pd.DataFrame, names: list[str]) -> list[PairEstimate]:
    """An offset estimate for every pair of nodes that share packets: the directions
    labelled for every pair at once, then each pair's medians on its slice."""
    if not len(samples):
        return []
    sign = _label_directions(samples)
    a, b = samples["a"].to_numpy(np.int64), samples["b"].to_numpy(np.int64)
    order = np.lexsort((b, a))
    a, b, sign = a[order], b[order], sign[order]
    fwd, rev = samples["fwd"].to_numpy()[order], samples["rev"].to_numpy()[order]
    cuts = np.flatnonzero((a[1:] != a[:-1]) | (b[1:] != b[:-1])) + 1
    bounds = zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [len(a)]]), strict=True)
    return [_estimate_pair(fwd[lo:hi][sign[lo:hi] > 0], rev[lo:hi][sign[lo:hi] < 0],
                           hi - lo, names[int(a[lo])], names[int(b[lo])])
            for lo, hi in bounds]


def _estimate_pair(forward: np.ndarray, backward: np.ndarray, rows: int, a: str,
                   b: str) -> PairEstimate:
    """One pair's estimate from its a -> b delays (``forward``) and b -> a ones."""
    if len(forward) and len(backward):
        m_ab, m_ba = float(np.median(forward)), float(np.median(backward))
        delay = (m_ab - m_ba) / 2
        offset = (m_ab + m_ba) / 2
        per_packet = np.concatenate([forward - delay, backward + delay])
        return PairEstimate(a, b, offset, _iqr(per_packet), len(per_packet), TWO_WAY)
    if len(forward):
        offset = min(0.0, float(forward.min()))
        return PairEstimate(a, b, offset, _iqr(forward), len(forward),
                            ONE_WAY.format(a=a, b=b))
    if len(backward):
        offset = max(0.0, float(backward.max()))
        return PairEstimate(a, b, offset, _iqr(backward), len(backward),
                            ONE_WAY.format(a=b, b=a))
    return PairEstimate(a, b, 0.0, float("nan"), rows, NO_DIRECTION)


def _label_directions(samples: pd.DataFrame) -> np.ndarray:
    """+1 (a -> b), -1 (b -> a) or 0 per row, decided per node pair and innermost
    (src, dst)."""
    key = ["a", "b", "src", "dst"]
    labels = samples.groupby(key, sort=False).agg(
        fwd=("fwd", "median"), rev=("rev", "median"), vote=("vote", "sum")).reset_index()
    reverse = labels.rename(columns={"src": "dst", "dst": "src", "fwd": "fwd_r",
                                     "rev": "rev_r", "vote": "vote_r"})
    labels = labels.merge(reverse, on=key, how="left")
    paired = labels["fwd_r"].notna().to_numpy()
    # d_this: this label a->b, reverse b->a; d_other: the other way round.
    d_this = (labels["fwd"] - labels["rev_r"]).to_numpy() / 2
    d_other = (labels["fwd_r"] - labels["rev"]).to_numpy() / 2
    tie_this = labels["src"].to_numpy() < labels["dst"].to_numpy()
    paired_sign = np.where((d_this > d_other) | ((d_this == d_other) & tie_this), 1, -1)
    voted_sign = np.sign(labels["vote"].to_numpy())
    labels["sign"] = np.where(paired, paired_sign, voted_sign).astype(np.int64)
    keyed = samples[key].merge(labels[[*key, "sign"]], on=key, how="left")
    return keyed["sign"].to_numpy(dtype=np.int64)


def _iqr(values: np.ndarray) -> float:
    if not len(values):
        return float("nan")
    q1, q3 = np.percentile(values, [25, 75])
    return float(q3 - q1)


def chain_offsets(names: list[str], weights: np.ndarray,
                  estimates: list[PairEstimate]) -> pd.DataFrame:
    """Offsets of every node against the reference, through the best-sampled pairs."""
    if not names:
        return empty_frame(CLOCK_OFFSETS)
    reference = names[int(np.argmax(weights))]
    usable = [e for e in estimates if e.method != NO_DIRECTION]
    known = {reference: (0.0, 0.0, 0, "reference")}
    while True:
        frontier = [e for e in usable if (e.a in known) != (e.b in known)]
        if not frontier:
            break
        best = max(frontier, key=lambda e: (e.samples, -abs(e.offset)))
        if best.a in known:
            parent, child, step = best.a, best.b, best.offset
        else:
            parent, child, step = best.b, best.a, -best.offset
        base, base_spread, _, _ = known[parent]
        method = best.method if parent == reference else f"{best.method}, via {parent}"
        known[child] = (base + step, base_spread + best.spread, best.samples, method)
    rows = []
    for name in names:
        if name in known:
            offset, spread, samples, method = known[name]
            if method == "reference":
                spread = 0.0
        else:
            offset, spread, samples = 0.0, float("nan"), 0
            method = next((e.method for e in estimates if name in (e.a, e.b)), NO_SHARED)
            method = method if method == NO_DIRECTION else NO_SHARED
        rows.append({"node": name, "reference_node": reference, "offset_s": offset,
                     "spread_s": spread, "samples": samples, "method": method})
    return build_frame(CLOCK_OFFSETS, pd.DataFrame(rows, columns=CLOCK_OFFSETS.names))
