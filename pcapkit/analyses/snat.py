"""snat_conflicts: TCP connection attempts that collided on a source NAT tuple.

Pods' connections out of the cluster are masqueraded to their node's address, so every pod
of a node shares that address's source ports towards one destination (address, port).
When the ports run short, or conntrack forgets a closed connection sooner than the server
does (the server's TIME_WAIT is 60 s on Linux), connections collide (the Kubernetes SNAT
port reuse and conntrack races). From what the network shows:

``held_at_snat``
    The client's first SYN was seen on the pod side and left the node translated only
    HELD_S or more later (a retransmission, the same sequence number), while other
    connections from the translated address to that destination held its tuples (open, or
    closed less than conntrack's TIME_WAIT ago): the node dropped the first SYNs for want of
    a free tuple, or because a simultaneous SYN won the same one (conntrack insert_failed).
``stale_tuple``
    The server answered the SYN with a bare ACK (the responder's first packet an ACK, not
    a SYN-ACK) and the client reset it: the server still held a connection on that tuple
    (TIME_WAIT, or still open), typically the previous user of the translated port. The
    client re-sends the SYN (on Linux at once; lost resets or middleboxes make it 1 s, 3 s).

The client's flow before SNAT and its translated flows are linked by the first SYN's
sequence number (masquerade rewrites addresses and ports, never sequence numbers): same
destination, each try's first SYN no later than LINK_SLACK_S after the previous one's last
(so unrelated connections whose random sequence numbers happen to agree stay apart).
Without a capture of the pod side the attempt is
reported on the translated address alone (IP-only). Everything is array operations over
the TCP flows and their SYN packets; Python runs per reported row only (its words).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pcapkit.analyses import register_analysis
from pcapkit.analyses.paths import rows_of
from pcapkit.column_arrays import (
    NAT_NS,
    codes_of,
    int_isin,
    object_frame,
    packet_times_ns,
    per_row,
    shared_codes,
    times_ns,
)
from pcapkit.flows.groups import set_labels
from pcapkit.schema.convert import build_frame, empty_frame
from pcapkit.schema.snat import SNAT_CONFLICTS

if TYPE_CHECKING:
    from pcapkit.capture import Capture

#: seconds between a client's first SYN and its first translated SYN that mean it was held
HELD_S = 0.5
#: a translated try's first SYN is a copy of one of the client's: it leaves at most this
#: long after the client's last SYN (forwarding; separate files of one node's clock)
LINK_SLACK_S = 0.25
#: seconds a closed connection keeps its tuple in conntrack (nf_conntrack_tcp_timeout_time_wait)
CONNTRACK_TIME_WAIT_S = 120.0
#: seconds after its last packet a connection still counts as open (its closing handshake)
OPEN_SLACK_S = 1.0
#: closed connections cited per held attempt when none was open
MAX_RECENT = 5
#: a capture must have been running this long before the first SYN to say it never left
CAPTURING_S = 0.05
SYN, RST, ACK = 0x02, 0x04, 0x10
#: history of a SYN whose first answer was the responder's pure ACK, reset by the client
STALE_HISTORY = r"^S[A-Z]*a[A-Z]*R"
_NS = 1e9


def _syn_facts(tables: Any, _: None) -> pd.DataFrame:
    """facts: the first SYNs of the share's flows (:func:`_first_syns`), by flow_id, the
    node as its name."""
    flows = tables.flows
    syn = _first_syns(flows, tables.distinct, tables.context.windows)
    labels = syn.pop("node_labels")
    node = syn.pop("node")
    return object_frame({"flow_id": flows["flow_id"].to_numpy(dtype=np.int64), **syn,
                         "node": per_row(node, np.asarray(labels, dtype=object), None)})


@register_analysis("snat_conflicts", facts=_syn_facts)
def snat_conflicts(capture: Capture) -> pd.DataFrame:
    """The incident's snat_conflicts table (see :func:`find_conflicts`)."""
    return find_conflicts(capture.flows, pd.concat(capture.facts("snat_conflicts"),
                                                   ignore_index=True))


def find_conflicts(flows: pd.DataFrame, facts: pd.DataFrame) -> pd.DataFrame:
    """One row per TCP connection attempt held at SNAT or answered on a stale tuple, from
    the first SYNs of every flow (``facts``: :func:`_syn_facts` of every share)."""
    tcp = np.flatnonzero(flows["ip_proto"].to_numpy(dtype=np.int64, na_value=-1) == 6)
    if not len(tcp):
        return empty_frame(SNAT_CONFLICTS)
    syn = _per_flow(flows, facts)
    attempt, first = _attempts(flows, syn, tcp)
    if attempt is None:
        return empty_frame(SNAT_CONFLICTS)
    return _rows(flows, syn, attempt, first)


def _per_flow(flows: pd.DataFrame, facts: pd.DataFrame) -> dict[str, np.ndarray]:
    """The facts as arrays in the order of ``flows`` (a flow no share holds: no SYN), the
    node as a code into ``node_labels``."""
    at = rows_of(facts["flow_id"].to_numpy(dtype=np.int64),
                 flows["flow_id"].to_numpy(dtype=np.int64))
    have = at >= 0
    syn: dict[str, np.ndarray] = {}
    for name, missing in (("t", NAT_NS), ("last", NAT_NS), ("seq", -1), ("synack", NAT_NS)):
        values = np.full(len(flows), missing, np.int64)
        values[have] = facts[name].to_numpy(dtype=np.int64)[at[have]]
        syn[name] = values
    syn["capturing"] = np.zeros(len(flows), bool)
    syn["capturing"][have] = facts["capturing"].to_numpy(dtype=bool)[at[have]]
    codes, labels = pd.factorize(facts["node"].to_numpy(dtype=object))
    syn["node"] = np.full(len(flows), -1, np.int64)
    syn["node"][have] = codes[at[have]]
    syn["node_labels"] = np.asarray(labels, dtype=object)
    return syn


def _first_syns(flows: pd.DataFrame, distinct: pd.DataFrame,
                windows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per flow row: its first pure SYN's time, sequence number, node and whether its
    file was capturing CAPTURING_S before it (``windows``: the incident's file windows);
    its last pure SYN's time; its first SYN-ACK's time (NAT_NS: none)."""
    n = len(flows)
    flags = distinct["tcp_flags"].to_numpy(dtype=np.int64, na_value=0)
    flow_id = distinct["flow_id"].to_numpy(dtype=np.int64, na_value=-1)
    rows = rows_of(flows["flow_id"].to_numpy(dtype=np.int64), flow_id)
    t = packet_times_ns(distinct)
    out = {"t": np.full(n, NAT_NS, np.int64), "last": np.full(n, NAT_NS, np.int64),
           "seq": np.full(n, -1, np.int64),
           "node": np.full(n, -1, np.int64), "capturing": np.zeros(n, bool),
           "synack": np.full(n, NAT_NS, np.int64)}
    node_codes, out_labels = codes_of(distinct["node"]) if "node" in distinct else (
        np.full(len(distinct), -1, np.int64), np.zeros(0, object))
    out["node_labels"] = out_labels
    starts = _file_starts(windows, distinct)
    for kind, wanted in (("syn", SYN), ("synack", SYN | ACK)):
        mask = ((flags & (SYN | ACK | RST)) == wanted) & (rows >= 0) & (t != NAT_NS)
        at = np.flatnonzero(mask)
        if not len(at):
            continue
        order = at[np.lexsort((t[at], rows[at]))]
        firsts = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
        flow_rows = rows[firsts]
        if kind == "synack":
            out["synack"][flow_rows] = t[firsts]
            continue
        out["t"][flow_rows] = t[firsts]
        lasts = order[np.r_[rows[order][1:] != rows[order][:-1], True]]
        out["last"][rows[lasts]] = t[lasts]
        out["seq"][flow_rows] = distinct["tcp_seq"].to_numpy(dtype=np.int64,
                                                              na_value=-1)[firsts]
        out["node"][flow_rows] = node_codes[firsts]
        out["capturing"][flow_rows] = starts[firsts] <= t[firsts] - int(CAPTURING_S * _NS)
    return out


def _file_starts(windows: pd.DataFrame, distinct: pd.DataFrame) -> np.ndarray:
    """Per distinct packet: when the capture file of its first sighting began (the file's
    first packet in the incident's ``windows``; never: int64 max)."""
    never = np.iinfo(np.int64).max
    codes, files = codes_of(distinct["file"])
    at = pd.Index(windows.index.astype(str)).get_indexer(pd.Index(files, dtype=object))
    first = np.append(windows["first"].to_numpy(np.int64), never)
    return per_row(codes, first[at], never)


def _attempts(flows: pd.DataFrame, syn: dict[str, np.ndarray], tcp: np.ndarray
              ) -> tuple[np.ndarray | None, np.ndarray]:
    """Per flow row, its attempt (-1: none): TCP flows whose first SYNs carry one sequence
    number to one destination, each sent before the previous flow's last SYN (within
    LINK_SLACK_S); and per attempt its earliest flow (the client's own: before SNAT)."""
    n = len(flows)
    rows = tcp[syn["seq"][tcp] >= 0]
    if not len(rows):
        return None, np.zeros(0, np.int64)
    (resp,), _ = shared_codes([flows["resp_h"]])
    port = flows["resp_p"].to_numpy(dtype=np.int64, na_value=-1)
    key = np.stack([resp[rows], port[rows], syn["seq"][rows]], axis=1)
    order = rows[np.lexsort((syn["t"][rows], key[:, 2], key[:, 1], key[:, 0]))]
    k = np.stack([resp[order], port[order], syn["seq"][order]], axis=1)
    t, last = syn["t"][order], syn["last"][order]
    new = np.r_[True, (k[1:] != k[:-1]).any(axis=1)
                | (t[1:] > last[:-1] + int(LINK_SLACK_S * _NS))]
    group = np.cumsum(new) - 1
    attempt = np.full(n, -1, np.int64)
    attempt[order] = group
    return attempt, order[new]


def _rows(flows: pd.DataFrame, syn: dict[str, np.ndarray], attempt: np.ndarray,
          first: np.ndarray) -> pd.DataFrame:
    n_attempts = len(first)
    (orig, resp), labels = shared_codes([flows["orig_h"], flows["resp_h"]])
    orig_p = flows["orig_p"].to_numpy(dtype=np.int64, na_value=-1)
    resp_p = flows["resp_p"].to_numpy(dtype=np.int64, na_value=-1)
    member = np.flatnonzero(attempt >= 0)
    group = attempt[member]
    client = first[group]  # the attempt's earliest flow, per member flow
    translated = orig[member] != orig[client]
    snat_seen = np.bincount(group[translated], minlength=n_attempts) > 0

    history = flows["history"].astype("string").fillna("")
    stale_flow = history.str.contains(STALE_HISTORY, regex=True).to_numpy(dtype=bool)
    # the try that collided: translated (or, IP-only, any) flow, stale ones first, earliest
    eligible = translated | ~snat_seen[group]
    rank = np.where(eligible, np.where(stale_flow[member], 0, 1), 2)
    order = np.lexsort((syn["t"][member], rank, group))
    firsts = order[np.r_[True, group[order][1:] != group[order][:-1]]]
    chosen = member[firsts]                       # per attempt, its try on the tuple
    stale = stale_flow[chosen] & (rank[firsts] == 0)

    t_client = syn["t"][first]
    translated_t = np.full(n_attempts, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(translated_t, group[translated], syn["t"][member[translated]])
    same_node = syn["node"][chosen] == syn["node"][first]
    held_candidate = snat_seen & same_node & (syn["node"][first] >= 0) \
        & syn["capturing"][chosen] & (translated_t - t_client >= int(HELD_S * _NS))
    holders, recent, holder_rows = _holders(flows, syn, orig, resp, resp_p, attempt, first,
                                            chosen, np.flatnonzero(held_candidate))
    held = held_candidate & (holders + recent > 0)
    keep = np.flatnonzero(held | stale)
    if not len(keep):
        return empty_frame(SNAT_CONFLICTS)
    keep = keep[np.argsort(t_client[keep], kind="stable")]
    previous = _previous_on_tuple(flows, orig, resp, orig_p, resp_p, attempt, chosen[keep])

    who = _client_names(flows, labels[orig].astype(object))
    c, q = first[keep], chosen[keep]
    synack = np.full(n_attempts, np.iinfo(np.int64).max, np.int64)
    answered = syn["synack"][member] != NAT_NS
    np.minimum.at(synack, group[answered], syn["synack"][member[answered]])
    completed = synack[keep] != np.iinfo(np.int64).max
    delay = np.where(completed, (synack[keep] - t_client[keep]) / _NS, np.nan)
    own = ~translated  # the client's own flows (before SNAT, or IP-only every try)
    sends = np.bincount(group[own], weights=flows["syn_retrans"].to_numpy(
        dtype=np.float64, na_value=0)[member[own]] + 1, minlength=n_attempts)[keep]
    node_labels = syn["node_labels"]
    node = np.where(syn["node"][q] >= 0, node_labels[np.maximum(syn["node"][q], 0)]
                    if len(node_labels) else "", "").astype(object)
    kind = np.where(held[keep] & stale[keep], "held_at_snat,stale_tuple",
                    np.where(held[keep], "held_at_snat", "stale_tuple")).astype(object)
    prev_row = previous["row"]
    previous_client = np.where(prev_row >= 0, who[first[np.maximum(attempt[np.maximum(
        prev_row, 0)], 0)]], None)
    previous_client = np.where((prev_row >= 0) & (attempt[np.maximum(prev_row, 0)] < 0),
                               who[np.maximum(prev_row, 0)], previous_client)
    snat = snat_seen[keep]
    flow_ids = flows["flow_id"].to_numpy(dtype=np.int64)
    evidence = _evidence(flow_ids, member, group, keep, prev_row, holder_rows)
    # a flow's client: the client of its attempt (before SNAT), else its own originator
    owner = np.where(attempt >= 0, first[np.maximum(attempt, 0)], np.arange(len(flows)))
    clients = _clients(node, labels[orig[q]], labels[resp[q]], resp_p[q], who[c],
                       previous_client, holder_rows, who[owner], keep)
    data = {
        "flow_id": flow_ids[q], "ts": pd.to_datetime(t_client[keep], utc=True),
        "proto": flows["proto"].to_numpy(dtype=object)[q],
        "orig_h": labels[orig[q]], "orig_p": orig_p[q],
        "resp_h": labels[resp[q]], "resp_p": resp_p[q],
        "flow_ids": evidence,
        "client_h": labels[orig[c]], "client_p": orig_p[c], "client": who[c],
        "client_identity": _identities(flows, labels[orig].astype(object))[c],
        "snat_seen": snat, "kind": kind, "node": np.where(node == "", None, node),
        "syn_sends": sends.astype(np.int64), "connect_delay_s": delay,
        "completed": completed,
        "previous_flow_id": np.where(prev_row >= 0, flow_ids[np.maximum(prev_row, 0)]
                                     .astype(object), None),
        "previous_client": previous_client,
        "previous_gap_s": np.where(prev_row >= 0, previous["gap"] / _NS, np.nan),
        "holders": holders[keep], "held_recent": recent[keep], "clients": clients,
    }
    for end, rows in (("orig", q), ("resp", q)):
        for column in SNAT_CONFLICTS.names:
            if column.startswith(f"{end}_") and column not in data and column in flows:
                data[column] = flows[column].to_numpy(dtype=object)[rows]
    data["reason"] = _reasons(data, who[c], labels[orig[q]], orig_p[q])
    return build_frame(SNAT_CONFLICTS, data, index=pd.RangeIndex(len(keep)))


def _identities(flows: pd.DataFrame, address: np.ndarray) -> np.ndarray:
    """Per flow, its originator's identity (orig_identity), else its address."""
    if "orig_identity" not in flows:
        return address
    identity = flows["orig_identity"].astype(object).fillna("").to_numpy(dtype=object)
    return np.where(identity != "", identity, address)


def _client_names(flows: pd.DataFrame, address: np.ndarray) -> np.ndarray:
    """Per flow, its originator as a person names it: the pod (namespace/name) when the
    snapshot knows it, else its identity (workload, Service, node), else its address."""
    def text(column: str) -> np.ndarray:
        if column not in flows:
            return np.full(len(flows), "", dtype=object)
        return flows[column].astype(object).fillna("").to_numpy(dtype=object)

    pod, namespace, identity = text("orig_pod"), text("orig_namespace"), text("orig_identity")
    named = np.where(namespace != "", namespace + "/" + pod, pod)
    return np.where(pod != "", named, np.where(identity != "", identity, address))


def _holders(flows: pd.DataFrame, syn: dict[str, np.ndarray], orig: np.ndarray,
             resp: np.ndarray, resp_p: np.ndarray, attempt: np.ndarray, first: np.ndarray,
             chosen: np.ndarray, candidates: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Per attempt (of the ``candidates``): how many other flows from its translated
    address to its destination were open when its first SYN was held, how many had closed
    less than CONNTRACK_TIME_WAIT_S before (conntrack still holds their tuples), and the
    rows of the open ones (else of the MAX_RECENT latest closed ones)."""
    counts = np.zeros(len(first), np.int64)
    recents = np.zeros(len(first), np.int64)
    rows: list[np.ndarray] = [np.zeros(0, np.int64)] * len(first)
    if not len(candidates):
        return counts, recents, rows
    begin, end = times_ns(flows["ts"]), times_ns(flows["last_ts"])
    tcp = flows["ip_proto"].to_numpy(dtype=np.int64, na_value=-1) == 6
    ask = pd.DataFrame({"attempt": candidates, "src": orig[chosen[candidates]],
                        "dst": resp[chosen[candidates]], "port": resp_p[chosen[candidates]],
                        "t": syn["t"][first[candidates]]})
    pool = pd.DataFrame({"row": np.flatnonzero(tcp), "src": orig[tcp], "dst": resp[tcp],
                         "port": resp_p[tcp], "begin": begin[tcp], "end": end[tcp],
                         "owner": attempt[tcp]})
    pairs = ask.merge(pool, on=["src", "dst", "port"])
    t = pairs["t"].to_numpy()
    other = (pairs["owner"].to_numpy() != pairs["attempt"].to_numpy()) \
        & (pairs["begin"].to_numpy() <= t)
    is_open = other & (pairs["end"].to_numpy() + int(OPEN_SLACK_S * _NS) >= t)
    recent = other & ~is_open \
        & (pairs["end"].to_numpy() + int(CONNTRACK_TIME_WAIT_S * _NS) >= t)
    pairs = pairs.assign(open=is_open, end_rank=-pairs["end"])[is_open | recent]
    for a, found in pairs.groupby("attempt"):  # one per held attempt (few)
        opened = found[found["open"]]
        # the connections open then; else the latest closed ones, still in conntrack
        chosen = opened if len(opened) else found.sort_values("end_rank").head(MAX_RECENT)
        rows[int(a)] = chosen["row"].to_numpy(dtype=np.int64)
        counts[int(a)] = len(opened)
        recents[int(a)] = len(found) - len(opened)
    return counts, recents, rows


def _previous_on_tuple(flows: pd.DataFrame, orig: np.ndarray, resp: np.ndarray,
                       orig_p: np.ndarray, resp_p: np.ndarray, attempt: np.ndarray,
                       wanted: np.ndarray) -> dict[str, np.ndarray]:
    """For each wanted flow row: the latest earlier flow of another attempt on its exact
    tuple (source, port, destination, port) and the gap from its last packet (ns)."""
    begin, end = times_ns(flows["ts"]), times_ns(flows["last_ts"])
    tcp = np.flatnonzero(flows["ip_proto"].to_numpy(dtype=np.int64, na_value=-1) == 6)
    key = pd.DataFrame({"src": orig, "sport": orig_p, "dst": resp, "dport": resp_p})
    pool = key.iloc[tcp].reset_index(names="row")
    asked = key.iloc[wanted].reset_index(drop=True).reset_index(names="i")
    asked["want"] = wanted
    pairs = asked.merge(pool, on=["src", "sport", "dst", "dport"])
    row, want = pairs["row"].to_numpy(), pairs["want"].to_numpy()
    earlier = (begin[row] < begin[want]) & ((attempt[row] != attempt[want]) | (attempt[row] < 0))
    pairs = pairs[earlier].assign(begin=begin[row[earlier]])
    out_row = np.full(len(wanted), -1, np.int64)
    gap = np.zeros(len(wanted), np.int64)
    if len(pairs):
        latest = pairs.sort_values(["i", "begin"]).groupby("i").tail(1)
        i, r = latest["i"].to_numpy(), latest["row"].to_numpy()
        out_row[i] = r
        gap[i] = begin[wanted[i]] - end[r]
    return {"row": out_row, "gap": gap}


def _evidence(flow_ids: np.ndarray, member: np.ndarray, group: np.ndarray, keep: np.ndarray,
              previous: np.ndarray, holders: list[np.ndarray]) -> np.ndarray:
    """Per kept attempt: its flows, the previous holder of its tuple and the flows that
    held the address's tuples, as flow ids."""
    mine = int_isin(group, keep)
    by_attempt = pd.Series(flow_ids[member[mine]]).groupby(group[mine]).agg(list)
    out = np.empty(len(keep), dtype=object)  # one list per row (never a 2-D array)
    for i, a in enumerate(keep.tolist()):
        ids = list(by_attempt.get(a, []))
        if previous[i] >= 0:
            ids.append(int(flow_ids[previous[i]]))
        ids += flow_ids[holders[a]].tolist()
        out[i] = sorted({int(x) for x in ids})
    return out


def _clients(node: np.ndarray, address: np.ndarray, dst: np.ndarray, port: np.ndarray,
             client: np.ndarray, previous: np.ndarray, holders: list[np.ndarray],
             who: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per row: every client of its destination's conflicts on its node and translated
    address (its own, the previous holders', the concurrent holders')."""
    place = pd.Series([f"{a}|{b}|{c}|{d}" for a, b, c, d in
                       zip(node, address, dst, port, strict=True)])
    codes, _ = pd.factorize(place)
    names, owner = [], []
    for i, a in enumerate(keep.tolist()):
        names.append(client[i])
        owner.append(codes[i])
        if previous[i] is not None:
            names.append(previous[i])
            owner.append(codes[i])
        for row in holders[a].tolist():
            names.append(who[row])
            owner.append(codes[i])
    labels, label_codes = np.unique(np.asarray(names, dtype=str), return_inverse=True)
    per_place = set_labels(np.asarray(owner, np.int64), label_codes.astype(np.int64),
                           labels.astype(object), int(codes.max()) + 1)
    return per_place[codes]


def _holding(open_now: int, recent: int) -> str:
    """"2 other connection(s) open", "... and 3 closed within conntrack's TIME_WAIT"."""
    parts = [f"{open_now} other connection(s) open"] if open_now else []
    if recent:
        parts.append(f"{recent} closed less than {CONNTRACK_TIME_WAIT_S:.0f} s before "
                     "(conntrack's default TIME_WAIT)")
    return " and ".join(parts)


def _reasons(data: dict, client: np.ndarray, address: np.ndarray,
             port: np.ndarray) -> np.ndarray:
    """The row in words (a few rows: a loop over them)."""
    out = []
    for i, kind in enumerate(data["kind"]):
        dest = f"{data['resp_h'][i]}:{data['resp_p'][i]}"
        via = f"{address[i]}:{port[i]}"
        snat = bool(data["snat_seen"][i])
        parts = []
        if "held_at_snat" in kind:
            delay = data["connect_delay_s"][i]
            parts.append(
                f"{client[i]}'s SYN to {dest} was held at {data['node'][i]} and left as "
                f"{via} only after {data['syn_sends'][i] - 1:.0f} retransmission(s), while "
                f"{_holding(data['holders'][i], data['held_recent'][i])} from {address[i]} "
                f"to {dest} held its tuples" + (f"; connected after {delay:.2f} s"
                                                if delay == delay else "; never connected"))
        if "stale_tuple" in kind:
            before = data["previous_client"][i]
            gap = data["previous_gap_s"][i]
            held_by = (f"{before}'s connection on that tuple ended {gap:.1f} s before"
                       if before is not None else "its previous use was before the capture")
            parts.append(
                f"{dest} answered the SYN {'translated to ' if snat else 'from '}{via} with "
                f"an ACK for an older connection (the server still held the tuple: "
                f"{held_by}); {client[i]} reset it and re-sent the SYN")
        out.append("; ".join(parts))
    return np.asarray(out, dtype=object)
