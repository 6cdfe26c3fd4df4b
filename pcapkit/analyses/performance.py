"""Path performance: which node pairs and workload pairs stand out from the rest of the cluster.

Every TCP flow counts for its node pair (originator's node -> responder's node) and its
workload pair. Per pair: the retransmission rate (retransmitted / data segments), the
handshake RTT (median, p90, interquartile spread) and zero-window stalls, each compared
with the median of the *other* pairs of the same level, so a slow path is measured against
the cluster rather than a fixed number. What keeps it quiet:

* flows already running when the capture started (``mid_flow``) have no handshake and an
  unknown start: left out of the retransmission and RTT figures;
* a retransmitted SYN or SYN-ACK gives no RTT sample (Karn's rule); a direction whose
  receiver advertised a zero window gives no retransmission figure (its repeats are window
  probes);
* a pair needs ``MIN_FLOWS`` measured flows and at least one peer, and an outlier needs an
  absolute floor above the norm, a factor over it and ``MIN_AFFECTED`` flows hit, so one
  slow flow does not flag a pair;
* a problem is reported at the level that causes it: retransmissions and handshake RTT are
  the path's (a workload pair whose hit flows all crossed flagged node pairs is not flagged
  again), zero windows the receiving application's (a node pair whose stalled flows all
  belong to flagged workload pairs is not).

The node of an end is the snapshot's (``orig_node``/``resp_node``), else the node whose
capture saw that end's packets first. One pass of array operations over the flows and the
distinct packets, group sums with ``bincount``; loops run per pair (the reasons).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pcapkit.analyses import register_analysis
from pcapkit.analyses.underlay import underlay_nodes
from pcapkit.column_arrays import NAT_NS, codes_of, object_frame, per_row, shared_codes, times_ns
from pcapkit.schema.convert import build_frame, empty_frame
from pcapkit.schema.performance import PATH_PERFORMANCE

if TYPE_CHECKING:
    from pcapkit.capture import Capture

#: measured flows a pair needs before it is compared (or counts as a peer)
MIN_FLOWS = 5
#: flows that must be hit (retransmitting, slow, stalled) before a pair is an outlier
MIN_AFFECTED = 2
#: retransmission rate above the norm (absolute) and the factor over it
RETRANS_FLOOR = 0.005
RETRANS_FACTOR = 3.0
#: handshake RTT above the norm (seconds) and the factor over it
RTT_FLOOR_S = 0.002
RTT_FACTOR = 2.0
#: share of flows with a zero window above the norm, and the factor over it
ZERO_WINDOW_FLOOR = 0.1
ZERO_WINDOW_FACTOR = 3.0
#: flows cited per pair
EVIDENCE_FLOWS = 10

#: (level, column of the originator's side, column of the responder's side)
LEVELS = (("node_pair", "orig_node", "resp_node"),
          ("workload_pair", "orig_workload", "resp_workload"))


def _tcp_flows(flows: pd.DataFrame) -> pd.DataFrame:
    """The TCP flows that count (the Service side of a DNAT'd connection does not: its
    backend side does), with the columns read below (no copy of the others)."""
    codes, protocols = codes_of(flows["proto"])
    tcp = per_row(codes, protocols == "tcp", False)
    if "nat_side" in flows:
        tcp = tcp & (flows["nat_side"] != "service").to_numpy(dtype=bool, na_value=True)
    return flows[_FLOW_COLUMNS][tcp]


def _segment_facts(tables: Any, _: None) -> pd.DataFrame:
    """facts: per TCP flow of the share that counts, the data segments each end sent and
    each end's node as its packets show it (:func:`_segments`)."""
    flows = _tcp_flows(tables.flows)
    if not len(flows):
        return pd.DataFrame({"flow_id": np.zeros(0, np.int64), "sent_orig": np.zeros(0, np.int64),
                             "sent_resp": np.zeros(0, np.int64),
                             "node_orig": np.zeros(0, object), "node_resp": np.zeros(0, object)})
    (sent_orig, sent_resp), (node_orig, node_resp) = _segments(tables, flows)
    return object_frame({"flow_id": flows["flow_id"].to_numpy(dtype=np.int64),
                         "sent_orig": sent_orig, "sent_resp": sent_resp,
                         "node_orig": node_orig, "node_resp": node_resp})


@register_analysis("path_performance", facts=_segment_facts)
def path_performance(capture: Capture) -> pd.DataFrame:
    """One row per node pair and per workload pair of the capture's TCP flows."""
    per_flow = _flow_figures(capture)
    if not len(per_flow):
        return empty_frame(PATH_PERFORMANCE)
    levels = {name: _Level(per_flow, name, orig, resp) for name, orig, resp in LEVELS}
    nodes, workloads = levels["node_pair"], levels["workload_pair"]
    # the path's problems are reported on node pairs, the receiver's on workload pairs
    workloads.uncover("retrans", nodes)
    workloads.uncover("rtt", nodes)
    nodes.uncover("zero_window", workloads)
    parts = [level.frame() for level in levels.values() if level.n]
    if not parts:
        return empty_frame(PATH_PERFORMANCE)
    data = {name: np.concatenate([p[name] for p in parts]) for name in PATH_PERFORMANCE.names}
    return build_frame(PATH_PERFORMANCE, data)


_FLOW_COLUMNS = ["flow_id", "mid_flow", "ts", "last_ts", "rtt_handshake", "syn_retrans",
                 "synack_retrans", *(f"{end}_{name}" for end in ("orig", "resp") for name in
                                     ("zero_windows", "bytes", "retrans", "node", "nodes",
                                      "workload")), "orig_h"]


def _flow_figures(capture: Capture) -> pd.DataFrame:
    """One row per TCP flow that counts: its ends and its figures."""
    flows = _tcp_flows(capture.flows)
    n = len(flows)
    if not n:
        return pd.DataFrame()
    facts = pd.concat(capture.facts("path_performance"), ignore_index=True)
    at = pd.Index(facts["flow_id"].to_numpy(np.int64)).get_indexer(
        flows["flow_id"].to_numpy(np.int64))
    # (every flow is some share's; a flow without facts would count no segment, no node)
    segments = tuple(per_row(at, facts[f"sent_{end}"].to_numpy(np.int64), 0)
                     for end in ("orig", "resp"))
    first_node = tuple(per_row(at, facts[f"node_{end}"].to_numpy(dtype=object), None)
                       for end in ("orig", "resp"))

    def count(name: str) -> np.ndarray:
        return flows[name].to_numpy(dtype=np.int64, na_value=0)

    orig_zw, resp_zw = count("orig_zero_windows"), count("resp_zero_windows")
    measured = ~flows["mid_flow"].to_numpy(dtype=bool, na_value=False)
    # a direction counts for retransmissions unless its receiver closed the window
    orig_counts, resp_counts = measured & (resp_zw == 0), measured & (orig_zw == 0)
    karn = (count("syn_retrans") == 0) & (count("synack_retrans") == 0)
    rtt = flows["rtt_handshake"].to_numpy(dtype=np.float64, na_value=np.nan)
    out = pd.DataFrame({
        "flow_id": flows["flow_id"].to_numpy(dtype=np.int64),
        "measured": measured,
        "bytes": count("orig_bytes") + count("resp_bytes"),
        "segments": np.where(orig_counts, segments[0], 0) + np.where(resp_counts,
                                                                      segments[1], 0),
        "retrans": np.where(orig_counts, count("orig_retrans"), 0) +
        np.where(resp_counts, count("resp_retrans"), 0),
        "rtt": np.where(measured & karn, rtt, np.nan),
        "zero_windows": orig_zw + resp_zw,
        "zero_window_resp": resp_zw > 0,
        "first": times_ns(flows["ts"]),
        "last": times_ns(flows["last_ts"]),
    })
    for end, fallback in zip(("orig", "resp"), first_node, strict=True):
        known = flows[f"{end}_node"].astype(object).to_numpy()
        out[f"{end}_node"] = np.where(pd.isna(known), fallback, known)
        out[f"{end}_workload"] = flows[f"{end}_workload"].astype(object).to_numpy()
    return out


def _segments(capture: Any, flows: pd.DataFrame
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Per flow (rows of ``flows``): data segments each end sent, and each end's node as
    its packets show it (None when they do not name one)."""
    n = len(flows)
    distinct = capture.distinct
    flow_ids = flows["flow_id"].to_numpy(dtype=np.int64)
    packet_flow = distinct["flow_id"].to_numpy(dtype=np.int64, na_value=-1)
    position = np.full(max(int(flow_ids.max()), int(packet_flow.max(initial=-1))) + 1, -1,
                       dtype=np.int64)
    position[flow_ids] = np.arange(n)
    row = np.where(packet_flow >= 0, position[np.maximum(packet_flow, 0)], -1)
    keep = np.flatnonzero(row >= 0)
    row = row[keep]
    (src, orig), _ = shared_codes([distinct["src"], flows["orig_h"]])
    is_orig = src[keep] == orig[row]
    data = distinct["payload_len"].to_numpy(dtype=np.int64, na_value=0)[keep] > 0
    sent = (np.bincount(row[data & is_orig], minlength=n),
            np.bincount(row[data & ~is_orig], minlength=n))
    unknown = flows["orig_node"].isna().to_numpy() | flows["resp_node"].isna().to_numpy()
    wanted = unknown[row]
    # the first capture to see a packet is the sender's only if another node saw it too
    several = np.stack([flows[f"{end}_nodes"].str.contains(",", regex=False)
                        .to_numpy(dtype=bool, na_value=False) for end in ("orig", "resp")])
    nodes = _sender_nodes(capture, distinct, keep[wanted], row[wanted], is_orig[wanted],
                          several)
    return sent, nodes


def _sender_nodes(capture: Any, distinct: pd.DataFrame, rows: np.ndarray,
                  flow: np.ndarray, is_orig: np.ndarray, several: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per flow, the node of the originator and of the responder from their packets
    (``rows`` of ``distinct``, with their flow and end): the owner of the underlay source
    of an encapsulated packet (the node that encapsulated it), else, when the end's packets
    were seen on several nodes (``several``: per end and flow), the node whose capture saw
    the packet first; the earliest packet that names a node decides."""
    n = several.shape[1]
    seen = (np.full(n, None, dtype=object), np.full(n, None, dtype=object))
    if not len(rows):
        return seen
    node, names = codes_of(distinct["node"])
    labels = [str(name) for name in names]
    known = np.array([-1 if name.startswith("unknown") else i
                      for i, name in enumerate(labels)] + [-1], dtype=np.int64)
    end = (~is_orig).astype(np.int64)
    sender = np.where(several[end, flow], known[node[rows]], -1)
    outer, outer_labels = codes_of(distinct["outer_src"])
    outer = outer[rows]
    if (outer >= 0).any():
        owners = underlay_nodes(capture)
        index = {name: i for i, name in enumerate(labels)}
        for name in set(owners.values()) - index.keys():
            index[name] = len(labels)
            labels.append(name)
        owner = np.array([index[owners[str(a)]] if str(a) in owners else -1
                          for a in outer_labels] + [-1], dtype=np.int64)
        by_underlay = owner[outer]
        sender = np.where(by_underlay >= 0, by_underlay, sender)
    named = np.flatnonzero(sender >= 0)
    t = times_ns(distinct["ts_corrected"])[rows[named]]
    key = (flow * 2 + end)[named]
    earliest = pd.Series(t).groupby(key, sort=True).idxmin()  # hashed, no sort of rows
    ends = earliest.index.to_numpy(dtype=np.int64)
    chosen = np.asarray(labels, dtype=object)[sender[named][earliest.to_numpy()]]
    for side in (0, 1):
        mine = ends % 2 == side
        seen[side][ends[mine] // 2] = chosen[mine]
    return seen


def _others_median(values: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Per row, the median of ``values`` over the eligible rows other than itself (a row
    outside them compares with all of them; NaN when there are no others)."""
    out = np.full(len(values), np.nan)
    pool = np.flatnonzero(eligible & ~np.isnan(values))
    if not len(pool):
        return out
    order = pool[np.argsort(values[pool], kind="stable")]
    ordered = values[order]
    out[:] = np.median(ordered)
    if len(order) < 2:
        out[order] = np.nan
        return out
    rank = np.arange(len(order))
    rest = len(order) - 1  # the others: the row's own value taken out

    def other(j: int) -> np.ndarray:
        return ordered[np.where(j < rank, j, j + 1)]

    out[order] = (other((rest - 1) // 2) + other(rest // 2)) / 2
    return out


class _Level:
    """The pairs of one level: the flows' group codes, the figures, norms and flags."""

    def __init__(self, per_flow: pd.DataFrame, name: str, orig: str, resp: str) -> None:
        self.name, self.orig, self.resp = name, orig, resp
        self.flows = per_flow
        ends = per_flow[[orig, resp]]
        known = ends.notna().all(axis=1).to_numpy()
        self.group = np.full(len(per_flow), -1, dtype=np.int64)
        self.pairs: list[tuple[str, str]] = []
        if known.any():
            (a, b), labels = shared_codes([ends[orig].astype("category"),
                                           ends[resp].astype("category")])
            pair, index = np.unique(a[known] * len(labels) + b[known], return_inverse=True)
            self.group[known] = index
            self.pairs = list(zip(labels[pair // len(labels)], labels[pair % len(labels)],
                                  strict=True))
        self.n = len(self.pairs)
        if self.n:
            self._measure()

    def _sum(self, values: np.ndarray) -> np.ndarray:
        rows = self.group >= 0
        return np.bincount(self.group[rows], weights=np.asarray(values, np.float64)[rows],
                           minlength=self.n).astype(np.int64)

    def _measure(self) -> None:
        f, g = self.flows, self.group
        measured = f["measured"].to_numpy()
        self.count = {
            "flows": self._sum(np.ones(len(f))), "bytes": self._sum(f["bytes"]),
            "measured_flows": self._sum(measured), "data_segments": self._sum(f["segments"]),
            "retransmitted": self._sum(f["retrans"]),
            "retrans_flows": self._sum(f["retrans"].to_numpy() > 0),
            "rtt_flows": self._sum(~np.isnan(f["rtt"].to_numpy())),
            "zero_windows": self._sum(f["zero_windows"]),
            "zero_window_flows": self._sum(f["zero_windows"].to_numpy() > 0),
            "zero_window_resp_flows": self._sum(f["zero_window_resp"].to_numpy()),
        }
        c = self.count
        with np.errstate(invalid="ignore", divide="ignore"):
            self.retrans_rate = c["retransmitted"] / np.where(c["data_segments"] > 0,
                                                                c["data_segments"], np.nan)
            self.zero_window_share = c["zero_window_flows"] / c["flows"]
        rtt = pd.Series(f["rtt"].to_numpy())[g >= 0].groupby(g[g >= 0])
        quantiles = rtt.quantile([0.25, 0.5, 0.75, 0.9]).unstack() \
            .reindex(range(self.n)) if rtt.ngroups else \
            pd.DataFrame(np.nan, index=range(self.n), columns=[0.25, 0.5, 0.75, 0.9])
        self.rtt_median = quantiles[0.5].to_numpy(np.float64)
        self.rtt_p90 = quantiles[0.9].to_numpy(np.float64)
        self.rtt_spread = (quantiles[0.75] - quantiles[0.25]).to_numpy(np.float64)
        enough = c["measured_flows"] >= MIN_FLOWS
        rtt_enough = c["rtt_flows"] >= MIN_FLOWS
        self.peers = np.maximum(enough.sum() - enough.astype(np.int64), 0)
        self.retrans_norm = _others_median(self.retrans_rate, enough)
        self.rtt_norm = _others_median(self.rtt_median, rtt_enough)
        self.rtt_p90_norm = _others_median(self.rtt_p90, rtt_enough)
        self.zero_window_norm = _others_median(self.zero_window_share,
                                               c["flows"] >= MIN_FLOWS)
        # the flows each metric hits, per flow
        flow_rtt, norm = f["rtt"].to_numpy(), self.rtt_norm[np.maximum(g, 0)]
        self.hit = {
            "retrans": f["retrans"].to_numpy() > 0,
            "rtt": (flow_rtt - norm >= RTT_FLOOR_S) & (flow_rtt >= RTT_FACTOR * norm),
            "zero_window": f["zero_windows"].to_numpy() > 0,
        }
        self.hit = {k: v & (g >= 0) for k, v in self.hit.items()}
        c["slow_flows"] = self._sum(self.hit["rtt"])
        compared = self.peers >= 1
        with np.errstate(invalid="ignore"):
            retrans = enough & compared & (c["retrans_flows"] >= MIN_AFFECTED) & \
                (self.retrans_rate - self.retrans_norm >= RETRANS_FLOOR) & \
                (self.retrans_rate >= RETRANS_FACTOR * self.retrans_norm)
            slow_median = (self.rtt_median - self.rtt_norm >= RTT_FLOOR_S) & \
                (self.rtt_median >= RTT_FACTOR * self.rtt_norm)
            slow_tail = (self.rtt_p90 - self.rtt_p90_norm >= RTT_FLOOR_S) & \
                (self.rtt_p90 >= RTT_FACTOR * self.rtt_p90_norm)
            rtt_flag = rtt_enough & compared & (c["slow_flows"] >= MIN_AFFECTED) & \
                (slow_median | slow_tail)
            stalled = (c["flows"] >= MIN_FLOWS) & compared & \
                (c["zero_window_flows"] >= MIN_AFFECTED) & \
                (self.zero_window_share - self.zero_window_norm >= ZERO_WINDOW_FLOOR) & \
                (self.zero_window_share >= ZERO_WINDOW_FACTOR * self.zero_window_norm)
        self.flag = {"retrans": retrans, "rtt": rtt_flag, "zero_window": stalled}
        self.covered = {k: np.zeros(self.n, dtype=bool) for k in self.flag}

    def flagged_flows(self, metric: str) -> np.ndarray:
        """Per flow: it lies in a pair of this level flagged for ``metric``."""
        if not self.n:
            return np.zeros(len(self.group), dtype=bool)
        return (self.group >= 0) & self.flag[metric][np.maximum(self.group, 0)]

    def uncover(self, metric: str, other: _Level) -> None:
        """Clear ``metric``'s flag on pairs whose hit flows all lie in pairs ``other``
        flagged for it (the problem is reported there)."""
        if not self.n:
            return
        hit = self.hit[metric]
        loose = np.bincount(self.group[hit & ~other.flagged_flows(metric)],
                            minlength=self.n) > 0
        self.covered[metric] = self.flag[metric] & ~loose
        self.flag[metric] = self.flag[metric] & loose

    def frame(self) -> dict[str, np.ndarray]:
        """The level's rows as the table's columns."""
        c, n = self.count, self.n
        names = np.array(self.pairs, dtype=object).reshape(n, 2)
        none = np.full(n, None, dtype=object)
        by_node = self.name == "node_pair"
        g = self.group
        rows = g >= 0
        first = pd.Series(self.flows["first"].to_numpy()[rows]).groupby(g[rows]).min()
        last = pd.Series(self.flows["last"].to_numpy()[rows]).groupby(g[rows]).max()
        outlier = self.flag["retrans"] | self.flag["rtt"] | self.flag["zero_window"]
        data = {
            "level": np.full(n, self.name, dtype=object),
            "pair": np.array([f"{a} -> {b}" for a, b in self.pairs], dtype=object),
            "orig_node": names[:, 0] if by_node else none,
            "resp_node": names[:, 1] if by_node else none,
            "orig_workload": none if by_node else names[:, 0],
            "resp_workload": none if by_node else names[:, 1],
            **{k: c[k] for k in ("flows", "bytes", "measured_flows", "data_segments",
                                 "retransmitted", "retrans_flows", "rtt_flows", "slow_flows",
                                 "zero_windows", "zero_window_flows",
                                 "zero_window_resp_flows")},
            "retrans_rate": self.retrans_rate, "retrans_norm": self.retrans_norm,
            "rtt_median": self.rtt_median, "rtt_p90": self.rtt_p90,
            "rtt_spread": self.rtt_spread, "rtt_norm": self.rtt_norm,
            "rtt_p90_norm": self.rtt_p90_norm,
            "zero_window_share": self.zero_window_share,
            "zero_window_norm": self.zero_window_norm, "peers": self.peers,
            "retrans_outlier": self.flag["retrans"], "rtt_outlier": self.flag["rtt"],
            "zero_window_outlier": self.flag["zero_window"], "outlier": outlier,
            "reason": np.array([self._reason(i) for i in range(n)], dtype=object),
            "first_ts": first.reindex(range(n), fill_value=NAT_NS).to_numpy(np.int64),
            "last_ts": last.reindex(range(n), fill_value=NAT_NS).to_numpy(np.int64),
            "flow_ids": self._worst_flows(),
        }
        return data

    def _worst_flows(self) -> np.ndarray:
        """Per pair, the flow_ids of its worst flows: those the pair's flagged metrics hit
        first, then by retransmissions, zero windows and handshake RTT."""
        g = self.group
        flagged_hit = np.zeros(len(g), dtype=bool)
        for metric, flag in self.flag.items():
            flagged_hit |= self.hit[metric] & flag[np.maximum(g, 0)]
        f = self.flows
        order = np.lexsort((f["flow_id"].to_numpy(), -np.nan_to_num(f["rtt"].to_numpy()),
                            -f["zero_windows"].to_numpy(), -f["retrans"].to_numpy(),
                            ~flagged_hit, g))
        order = order[g[order] >= 0]
        groups = g[order]
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        top = rank < EVIDENCE_FLOWS
        ids = f["flow_id"].to_numpy()[order][top]
        counts = np.bincount(groups[top], minlength=self.n)
        out = np.empty(self.n, dtype=object)
        for i, chunk in enumerate(np.split(ids, np.cumsum(counts)[:-1])):
            out[i] = chunk.tolist()
        return out

    def _reason(self, i: int) -> str:
        """The pair's figures in words against the norm."""
        c = self.count
        clauses = []
        if self.flag["retrans"][i] or self.covered["retrans"][i]:
            clauses.append(
                f"retransmits {self.retrans_rate[i]:.1%} of segments ({c['retrans_flows'][i]}"
                f" of {c['measured_flows'][i]} flows hit), {_times(self.retrans_rate[i], self.retrans_norm[i])}"
                f"the other pairs' median {self.retrans_norm[i]:.1%}")
        if self.flag["rtt"][i] or self.covered["rtt"][i]:
            clauses.append(
                f"handshake RTT median {_ms(self.rtt_median[i])}, p90 "
                f"{_ms(self.rtt_p90[i])} ({c['slow_flows'][i]} of {c['rtt_flows'][i]} flows "
                f"slow), the other pairs' {_ms(self.rtt_norm[i])} and "
                f"{_ms(self.rtt_p90_norm[i])}")
        if self.flag["zero_window"][i] or self.covered["zero_window"][i]:
            resp = c["zero_window_resp_flows"][i]
            who = "the responder's" if 2 * resp >= c["zero_window_flows"][i] else \
                "the originator's"
            clauses.append(
                f"a zero window stalled {c['zero_window_flows'][i]} of {c['flows'][i]} flows "
                f"({who} receive window closed), the other pairs' median "
                f"{self.zero_window_norm[i]:.0%} of flows")
        covered = [m for m, v in self.covered.items() if v[i]]
        if covered:
            where = "workload pairs" if self.name == "node_pair" else "node pairs"
            clauses.append(f"reported on the {where} its hit flows belong to")
        if clauses:
            return "; ".join(clauses)
        if c["measured_flows"][i] < MIN_FLOWS:
            return (f"{c['measured_flows'][i]} measured flows, fewer than {MIN_FLOWS}: "
                    "not compared")
        if self.peers[i] < 1:
            return "no other pair with enough measured flows to compare with"
        return "in line with the other pairs"


def _times(value: float, norm: float) -> str:
    """'12x ' when the norm is above zero, else ''."""
    return f"{value / norm:.0f}x " if norm > 0 else ""


def _ms(seconds: float) -> str:
    return "?" if np.isnan(seconds) else f"{seconds * 1000:.1f} ms"
