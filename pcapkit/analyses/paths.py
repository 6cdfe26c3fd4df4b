"""flow_paths: compare the two directions of every flow and say why they took different paths.

A symmetric route carries both directions of a conversation over the same links, so every
capture point (a file's interface) on the path sees both, each capture sees both tunnelled
or both bare, the underlay pairs are each other's reverse and the TTLs add up the same
everywhere. What breaks that, per flow (``reason``):

``encap_one_way``
    One capture file saw one direction tunnelled and the other never tunnelled.
``underlay_pair_differs``
    The responder's underlay pairs (outer_src>outer_dst) are not the reverse of the
    originator's (a transit node re-encapsulated the reply); with a snapshot, also a
    direction that left from a node other than the one hosting its pod. Not when both
    directions show the same pairs unreversed: one sender mirroring the conversation to a
    collector (traffic mirroring, a load balancer's Geneve) routes neither.
``one_direction_at_point``
    A point saw one direction only, although the other direction passed while its capture
    ran (between its file's first and last packet, EDGE_S inside), and the two directions'
    paths part in that file: it also has a point that saw only the other direction, or it
    never saw the other direction at all. Not when something explains it: a NAT (a flow of
    the same client socket shows the missing direction at that point), a lower device of
    a point that saw both (a bond member, a bridge port seeing a flood: the same packets
    with the same TTL and tunnel).
``next_hop_mac_differs``
    At a point on an Ethernet link that saw both directions, the replies came from another
    neighbour than the one the requests were sent to (a reply routed back through a second
    router of the subnet), or were sent to another one than the requests came from. Only
    unicast addresses count, and a request sent to a first-hop-redundancy virtual MAC (VRRP,
    HSRP, GLBP), which the router answers from its own address, is not compared; nor is a
    point where both directions were framed to one MAC (or from one): the two inputs (or
    outputs) of one router seen by a mirror, not two next hops.
``ttl_differs``
    At each point that saw both directions the originator's TTL plus the responder's is
    the initial TTLs minus the hops of the round trip: the same everywhere on a symmetric
    path. Sums are paired at one link (a packet going in with one going out), and only
    where each direction's TTL was constant.
``split_routing``
    A capture file's first packet of the flow is a SYN-ACK and it never saw the SYN (Zeek's
    split routing, a sensor seeing one side), EDGE_S or more after the capture began, so
    the SYN would have been seen had it passed there (past a NAT, the SYN of another flow
    of the same client socket counts). The file saw none of the client's packets (a point
    the client's ACK passes saw its SYN pass too, unless the SYN came before the capture),
    and the server went on past the SYN-ACK; a SYN-ACK alone counts only SYNACK_RESEND_S
    or more after the capture began, since a server re-sends an unanswered one for a SYN
    sent before then.

Exempt (never asymmetric): Istio's redirection, HBONE and health ports. Directions are
told apart by the flow's ends (the address, and for TCP/UDP the originator's port), so ICMP
errors counted on a flow are not part of its path. Everything is arrays over the sightings;
Python runs per distinct label (point, address) and per asymmetric flow's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pcapkit.analyses import register_analysis
from pcapkit.column_arrays import (
    NAT_NS,
    codes_of,
    dense_factorize,
    int_isin,
    object_frame,
    packet_times_ns,
    per_row,
    shared_codes,
    unique_inverse,
)
from pcapkit.flows.groups import set_labels
from pcapkit.flows.path import flow_of_sightings, interface_labels
from pcapkit.schema.convert import build_frame, empty_frame
from pcapkit.schema.paths import FLOW_PATHS, REASONS

if TYPE_CHECKING:
    from pcapkit.capture import Capture
    from pcapkit.cluster import Cluster

#: seconds inside a capture's first and last packet before a point "should" have seen a packet
EDGE_S = 0.5
#: seconds after its SYN a server may still re-send an unanswered SYN-ACK: Linux sends it
#: again 1, 3, 7, 15 and 31 s after the first (net.ipv4.tcp_synack_retries = 5)
SYNACK_RESEND_S = 32.0
#: Istio: outbound/inbound sidecar redirection, HBONE, health, status and Envoy metrics ports
ISTIO_PORTS = (15001, 15006, 15008, 15020, 15021, 15090)
#: TCP states of a connection that did not complete or was torn down by a reset (SHR, the
#: responder's side alone, is what a point that sees one direction records: no failure)
FAILED_STATES = ("S0", "REJ", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH")
#: first-hop redundancy virtual router MACs: VRRP (IPv4, IPv6), HSRP v1 and v2, GLBP
FHRP_MAC_PREFIXES = ("00:00:5e:00:01:", "00:00:5e:00:02:", "00:00:0c:07:ac:", "00:00:0c:9f:f",
                     "00:07:b4:")
SYN, ACK = 0x02, 0x10
ORIG, RESP = 0, 1
_NAMES = np.array(["orig", "resp"], dtype=object)


def _path_facts(tables: Any, _: None) -> dict[str, Any]:
    """facts: what one share's sightings say of its flows' paths. Per flow: the checks
    that need only the flow's own sightings (tunnelled one way, next-hop MACs, TTL sums,
    points that saw both directions). For the checks that look across flows (a NAT's other
    flow of the client socket, split routing past a NAT): every (flow, point) entry with
    the directions it saw, the one-way points whose missing direction passed during their
    file's capture, the (flow, file) of every SYN and the first SYN-ACK of each flow per
    file. Points and files are codes into ``point_keys`` (file and label) and ``files``."""
    flows, packets = tables.flows, tables.packets
    n = len(flows)
    flow_ids = flows["flow_id"].to_numpy(dtype=np.int64)
    times = packet_times_ns(packets) if len(packets) else np.zeros(0, np.int64)
    _, files = codes_of(packets["file"]) if len(packets) else (None, np.zeros(0, object))
    seen = _directed_sightings(flows, packets, tables.distinct, times,
                               _file_nodes(tables.context, files))
    windows = _file_windows(tables.context, files)
    per_flow = {"flow_id": flow_ids}
    for name, (hit, text) in (("encap", _encap_one_way(seen, n)),
                              ("mac", _next_hop_macs(seen, n))):
        per_flow[f"{name}_hit"], per_flow[f"{name}_text"] = hit, text
    points = _points(seen, n)
    points["layered"] = _layered(seen, points, n)
    per_flow["ttl_hit"], per_flow["ttl_text"] = _ttl_sums(seen, points, n)
    per_flow["points_both"] = np.bincount(points["flow"][points["mask"] == 3], minlength=n)
    candidates = _one_way_candidates(seen, points, windows, n)
    point_files = np.zeros(len(seen.point_labels), dtype=np.int64)
    point_files[points["point"]] = points["file"]
    syns, synacks = _handshakes(seen, flows)
    return {"flows": object_frame(per_flow),
            "points": pd.DataFrame({"flow_id": flow_ids[points["flow"]],
                                    "point": points["point"], "file": points["file"],
                                    "mask": points["mask"]}),
            "candidates": candidates.assign(flow_id=flow_ids[candidates["flow"].to_numpy()])
            .drop(columns="flow"),
            "syns": syns.assign(flow_id=flow_ids[syns["flow"].to_numpy()]).drop(columns="flow"),
            "synacks": synacks.assign(flow_id=flow_ids[synacks["flow"].to_numpy()])
            .drop(columns="flow"),
            "point_keys": pd.DataFrame({"file": files[point_files] if len(files) else
                                        np.zeros(len(point_files), object),
                                        "label": seen.point_labels}),
            "files": files}


@register_analysis("flow_paths", facts=_path_facts)
def flow_paths(capture: Capture) -> pd.DataFrame:
    """The incident's flow_paths table: every share's facts (:func:`_path_facts`) judged
    together with the flows."""
    return compare_paths(capture.flows, capture.facts("flow_paths"), capture.context,
                         capture.cluster)


def compare_paths(flows: pd.DataFrame, facts: list[dict[str, Any]], context: Any,
                  cluster: Cluster | None = None) -> pd.DataFrame:
    """The flow_paths table of ``flows`` from the facts of every share of the incident."""
    if not len(flows):
        return empty_frame(FLOW_PATHS)
    n = len(flows)
    part = _incident_facts(flows, facts, context)
    per_flow = part["flows"]
    reasons = {name: np.zeros(n, dtype=bool) for name in REASONS}
    texts = {name: np.full(n, "", dtype=object) for name in REASONS}
    exempt = _istio(flows)
    for reason, name in (("encap_one_way", "encap"), ("next_hop_mac_differs", "mac"),
                         ("ttl_differs", "ttl")):
        reasons[reason] = per_flow[f"{name}_hit"]
        texts[reason] = per_flow[f"{name}_text"]
    reasons["underlay_pair_differs"], texts["underlay_pair_differs"] = _underlay(flows, cluster)
    one_way, texts["one_direction_at_point"] = _one_way_points(part, flows, n)
    reasons["one_direction_at_point"] = one_way != ""
    reasons["split_routing"], texts["split_routing"] = _split_routing(part, flows, n)

    # the reasons of a flow as one bit each; the text once per distinct combination, and
    # details joined on the flagged rows only
    bits = np.zeros(n, dtype=np.int64)
    detail = np.full(n, "", dtype=object)
    for i, name in enumerate(REASONS):
        hit = np.flatnonzero(reasons[name] & ~exempt)
        bits[hit] |= 1 << i
        joined = detail[hit]
        detail[hit] = np.where(joined == "", texts[name][hit], joined + "; " + texts[name][hit])
    asymmetric = bits > 0
    combos, combo_bits = pd.factorize(bits)
    reason = np.array([",".join(r for i, r in enumerate(REASONS) if b >> i & 1)
                       for b in combo_bits], dtype=object)[combos]
    failed, failure = _failure(flows)
    data = {c.name: flows[c.name] for c in FLOW_PATHS.columns if c.name in flows.columns}
    data |= {"asymmetric": asymmetric, "reason": reason, "detail": detail, "failed": failed,
             "failure": failure, "one_way_points": np.where(exempt, "", one_way),
             "points_both": per_flow["points_both"],
             "exempt": np.where(exempt, "istio", None)}
    return build_frame(FLOW_PATHS, data, index=pd.RangeIndex(n))


def _incident_facts(flows: pd.DataFrame, facts: list[dict[str, Any]], context: Any
                    ) -> dict[str, Any]:
    """Every share's facts in the incident's terms: flows by their row in ``flows``, files
    by their row in the context's windows, points numbered across the incident (labels in
    ``point_labels``); the per-flow checks as arrays over ``flows``."""
    flow_ids = flows["flow_id"].to_numpy(dtype=np.int64)
    file_names = pd.Index(context.windows.index.astype(str), dtype=object)
    keys = pd.concat([f["point_keys"] for f in facts], ignore_index=True)
    codes, uniques = pd.factorize(pd.MultiIndex.from_arrays(
        [keys["file"].astype(str), keys["label"].astype(str)]))
    point_labels = np.asarray(uniques.get_level_values(1), dtype=object)
    tables: dict[str, list[pd.DataFrame]] = {"points": [], "candidates": [], "syns": [],
                                             "synacks": []}
    start = 0
    for share in facts:
        point_of = codes[start:start + len(share["point_keys"])]
        start += len(share["point_keys"])
        file_of = file_names.get_indexer(pd.Index(np.asarray(share["files"], dtype=object)
                                                  .astype(str)))
        for name in tables:
            frame = share[name]
            recoded = {"flow": rows_of(flow_ids, frame["flow_id"].to_numpy(np.int64))}
            if "point" in frame:
                recoded["point"] = point_of[frame["point"].to_numpy(np.int64)]
            if "file" in frame:
                recoded["file"] = file_of[frame["file"].to_numpy(np.int64)]
            tables[name].append(frame.drop(columns="flow_id").assign(**recoded))
    out: dict[str, Any] = {name: pd.concat(parts, ignore_index=True)
                           for name, parts in tables.items()}
    out["points"] = {c: out["points"][c].to_numpy(np.int64) for c in out["points"].columns}
    per_flow = pd.concat([f["flows"] for f in facts], ignore_index=True)
    at = rows_of(per_flow["flow_id"].to_numpy(np.int64), flow_ids)
    out["flows"] = {
        **{f"{c}_hit": per_row(at, per_flow[f"{c}_hit"].to_numpy(bool), False)
           for c in ("encap", "mac", "ttl")},
        **{f"{c}_text": per_row(at, per_flow[f"{c}_text"].to_numpy(object), "")
           for c in ("encap", "mac", "ttl")},
        "points_both": per_row(at, per_flow["points_both"].to_numpy(np.int64), 0)}
    out["point_labels"] = point_labels
    out["windows"] = context.windows
    out["file_nodes"] = np.asarray(context.windows["node"].astype(object).fillna("unknown"),
                                   dtype=object)
    return out


@dataclass(frozen=True)
class Seen:
    """The sightings the checks read (``rows``: flow row, dir, pid, file and point codes,
    capture direction ``cap`` 0 in / 1 out / 2 unknown, ttl, encap, tunnelled, TCP flags,
    time), with the label of each point code and the node of each file code."""

    rows: pd.DataFrame
    point_labels: np.ndarray
    file_nodes: np.ndarray
    mac_labels: np.ndarray  # the text of the codes in rows' eth_src/eth_dst (-1: none)


def _directed_sightings(flows: pd.DataFrame, packets: pd.DataFrame,
                        distinct: pd.DataFrame, times: np.ndarray,
                        file_nodes: np.ndarray) -> Seen:
    """The sightings of the flows' own packets (ICMP errors counted on a flow left out):
    row of the flow in ``flows``, direction, point, and what the path checks read. Works on
    whole columns as arrays indexed by the kept rows (no copy of the packet table; none of
    a column either when every sighting is kept, as in a capture of flows alone);
    ``times``: every sighting's time (ns); ``file_nodes``: the node of each file code."""
    pid = distinct["packet_id"].to_numpy(dtype=np.int64)
    flow_ids = distinct["flow_id"].to_numpy(dtype=np.int64, na_value=-1)
    in_flow = flow_ids >= 0
    sighting_pid = packets["packet_id"].to_numpy(dtype=np.int64, na_value=-1)
    flow_id = flow_of_sightings(sighting_pid, pid[in_flow], flow_ids[in_flow])
    row = rows_of(flows["flow_id"].to_numpy(dtype=np.int64), flow_id)
    keep = np.flatnonzero((flow_id >= 0) & (row >= 0))
    at_keep = _rows_taker(keep, len(packets))
    row = row[keep]
    (src, dst, orig_h, resp_h, backend), _ = shared_codes(
        [packets["src"], packets["dst"], flows["orig_h"], flows["resp_h"], flows["backend_ip"]])
    src, dst = at_keep(src), at_keep(dst)
    oh, rh, bh = orig_h[row], resp_h[row], backend[row]

    def ints(name: str, missing: int = -1) -> np.ndarray:
        return packets[name].to_numpy(dtype=np.int64, na_value=missing)

    sport, dport = at_keep(ints("sport")), at_keep(ints("dport"))
    orig_p = flows["orig_p"].to_numpy(dtype=np.int64, na_value=-1)[row]
    ported = (sport >= 0) & (dport >= 0)
    same_proto = at_keep(ints("proto")) == flows["ip_proto"].to_numpy(dtype=np.int64,
                                                                      na_value=-2)[row]
    to_server = (dst == rh) | ((dst == bh) & (bh >= 0))
    from_server = (src == rh) | ((src == bh) & (bh >= 0))
    is_orig = same_proto & (src == oh) & to_server & (~ported | (sport == orig_p))
    is_resp = same_proto & ~is_orig & from_server & (dst == oh) & (~ported | (dport == orig_p))
    own = is_orig | is_resp
    sel = keep[own]
    at = _rows_taker(sel, len(packets))
    point, labels = interface_labels(packets)
    point = at(point)
    file_codes, _ = codes_of(packets["file"])
    file_codes = at(file_codes)
    point_key, point_uniques = pd.factorize(file_codes * (len(labels) + 1) + point)
    cap = np.full(len(sel), 2, dtype=np.int64)
    if "direction" in packets:
        codes, names = codes_of(packets["direction"])
        cap = per_row(at(codes), np.array([{"in": 0, "out": 1}.get(d, 2) for d in names],
                                          dtype=np.int64), 2)
    if "eth_src" in packets:
        (eth_src, eth_dst), mac_labels = shared_codes([packets["eth_src"], packets["eth_dst"]])
        eth_src, eth_dst = at(eth_src), at(eth_dst)
    else:  # tables from before the decoder kept link addresses
        eth_src = eth_dst = np.full(len(sel), -1, dtype=np.int64)
        mac_labels = np.zeros(0, dtype=object)
    encap, encap_labels = codes_of(packets["encap"])
    encap = at(encap)
    tunnelled = np.isin(encap_labels, ["none"], invert=True)
    out = pd.DataFrame({
        "flow": row[own], "dir": is_resp[own].astype(np.int64), "pid": at(sighting_pid),
        "file": file_codes, "point": point_key.astype(np.int64),
        "cap": cap,
        "ttl": at(ints("ttl")),
        "encap": encap, "tunnelled": (encap >= 0) & tunnelled[np.maximum(encap, 0)]
        if len(encap_labels) else np.zeros(len(sel), bool),
        "flags": at(ints("tcp_flags", 0)),
        "eth_src": eth_src, "eth_dst": eth_dst,
        "t": at(times)}, copy=False)  # fresh arrays: no consolidating copy
    point_labels = labels[(point_uniques % (len(labels) + 1)).astype(np.int64)] \
        if len(point_uniques) else np.zeros(0, dtype=object)
    return Seen(out, point_labels, file_nodes, mac_labels)


def _rows_taker(rows: np.ndarray, n: int):
    """``array[rows]`` for sorted distinct ``rows`` of an ``n``-row table, the array itself
    when they are every row (no gather of a million values)."""
    if len(rows) == n:
        return lambda array: array
    return lambda array: array[rows]


def rows_of(flow_ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The row of each wanted flow id in the flows table (-1: none): by position when
    the ids are the rows' numbers, as the flows stage writes them, else by lookup."""
    n = len(flow_ids)
    if n and flow_ids[0] == 0 and flow_ids[-1] == n - 1 and bool(np.all(np.diff(flow_ids) == 1)):
        return np.where((wanted >= 0) & (wanted < n), wanted, -1)
    return pd.Index(flow_ids).get_indexer(wanted)


def _file_nodes(context: Any, files: np.ndarray) -> np.ndarray:
    """The node of each file code of a share (``files``: its file names), as the
    incident's context names it ("unknown": none)."""
    nodes = context.windows["node"].reindex(pd.Index(np.asarray(files, dtype=object)
                                                     .astype(str)))
    return np.asarray(nodes.astype(object).fillna("unknown"), dtype=object)


def _file_windows(context: Any, files: np.ndarray) -> pd.DataFrame:
    """Per file code of a share (``files``: its file names): the file's first and last
    packet time in the whole incident (``min``/``max``; NaN: no timed packet)."""
    windows = context.windows.rename(columns={"first": "min", "last": "max"})[["min", "max"]]
    return windows.reindex(pd.Index(np.asarray(files, dtype=object).astype(str)))


def _points(seen: Seen, n: int) -> dict[str, np.ndarray]:
    """One entry per (flow, point): which directions it saw (bit 1 orig, 2 resp)."""
    n_points = max(len(seen.point_labels), 1)
    flow = seen.rows["flow"].to_numpy()
    keys, codes = unique_inverse(flow * n_points + seen.rows["point"].to_numpy(), n * n_points)
    resp = seen.rows["dir"].to_numpy() == RESP
    mask = np.where(np.bincount(codes[~resp], minlength=len(keys)) > 0, 1, 0) \
        | np.where(np.bincount(codes[resp], minlength=len(keys)) > 0, 2, 0)
    file = np.zeros(len(keys), dtype=np.int64)
    file[codes] = seen.rows["file"].to_numpy()
    return {"flow": keys // n_points, "point": keys % n_points, "mask": mask, "file": file}


def _encap_one_way(seen: Seen, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Flows one of whose capture files saw a direction tunnelled and the other never
    (only flows seen both tunnelled and bare can be such)."""
    hit = np.zeros(n, dtype=bool)
    text = np.full(n, "", dtype=object)
    flow, tunnelled = seen.rows["flow"].to_numpy(), seen.rows["tunnelled"].to_numpy()
    mixed = (np.bincount(flow[tunnelled], minlength=n) > 0) & \
        (np.bincount(flow[~tunnelled], minlength=n) > 0)
    rows = seen.rows[mixed[flow]]
    files = rows.groupby(["flow", "file", "dir"], sort=True)["tunnelled"].any().unstack("dir")
    if files.shape[1] < 2:
        return hit, text
    both = files.dropna()
    orig_only = both[ORIG].astype(bool) & ~both[RESP].astype(bool)
    resp_only = both[RESP].astype(bool) & ~both[ORIG].astype(bool)
    odd = both[orig_only | resp_only]
    if not len(odd):
        return hit, text
    flow = odd.index.get_level_values("flow").to_numpy()
    file = odd.index.get_level_values("file").to_numpy()
    which = np.where(orig_only[odd.index].to_numpy(), "orig tunnelled, resp", "resp tunnelled, orig")
    nodes = seen.file_nodes[file]
    phrase = nodes + ": " + which + " never"
    codes, labels = pd.factorize(phrase)
    hit[flow] = True
    text[:] = set_labels(flow, codes.astype(np.int64), np.asarray(labels, dtype=object), n,
                         sep="; ")
    return hit, text


def _reversed_pairs(pairs: str) -> str:
    """"a>b,c>d" as "b>a,d>c" (sorted): what the other direction shows on a symmetric path."""
    return ",".join(sorted(">".join(p.split(">")[::-1]) for p in pairs.split(",") if p))


def _underlay(flows: pd.DataFrame, cluster: Cluster | None) -> tuple[np.ndarray, np.ndarray]:
    """Flows whose reply's underlay pairs are not the request's reversed, or (with a
    snapshot) a direction tunnelled from a node that does not host its pod."""
    orig_codes, orig_labels = codes_of(flows["orig_outer_pairs"].fillna(""))
    resp_codes, resp_labels = codes_of(flows["resp_outer_pairs"].fillna(""))
    # compared as codes: each resp label's reverse looked up once among the orig labels
    reverse = [_reversed_pairs(p) for p in resp_labels]
    reverse_code = np.append(pd.Index(orig_labels, dtype=object).get_indexer(
        pd.Index(reverse, dtype=object)), -1)
    named_o = np.append(orig_labels != "", False)
    named_r = np.append(resp_labels != "", False)
    # both directions tunnelled the same way (request's pairs, not reversed) are one
    # sender mirroring the conversation to a collector (VPC traffic mirroring's VXLAN,
    # a load balancer's Geneve): no route in either direction to compare
    same_code = np.append(pd.Index(orig_labels, dtype=object).get_indexer(
        pd.Index(resp_labels, dtype=object)), -1)
    hit = named_o[orig_codes] & named_r[resp_codes] & (orig_codes != reverse_code[resp_codes]) \
        & (orig_codes != same_code[resp_codes])
    text = np.full(len(flows), "", dtype=object)
    at = np.flatnonzero(hit)
    text[at] = "orig underlay " + orig_labels[orig_codes[at]] + ", resp " + \
        resp_labels[resp_codes[at]]
    if cluster is not None:
        orig, resp = orig_labels[orig_codes], resp_labels[resp_codes]
        for end, pairs in (("orig", orig), ("resp", resp)):
            wrong, where = _foreign_sender(flows, end, pairs, cluster)
            text = np.where(wrong, np.where(text == "", where, text + ", " + where), text)
            hit |= wrong
    return hit, text


def _foreign_sender(flows: pd.DataFrame, end: str, pairs: np.ndarray,
                    cluster: Cluster) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose ``end`` is a pod and whose packets were tunnelled from another node."""
    labels, codes = np.unique(pairs, return_inverse=True)
    senders = []
    for label in labels:  # one lookup per distinct set of underlay pairs
        nodes = set()
        for pair in filter(None, str(label).split(",")):
            node = _node_of_address(cluster, pair.split(">")[0])
            if node:
                nodes.add(node)
        senders.append(",".join(sorted(nodes)))
    sender = np.array(senders, dtype=object)[codes] if len(labels) else np.zeros(0, object)
    home = flows[f"{end}_node"].astype(object).to_numpy()
    is_pod = flows[f"{end}_kind"].astype(object).to_numpy() == "pod"
    known = is_pod & pd.notna(home) & (sender != "")
    wrong = known & (sender != np.where(known, home, ""))
    where = np.where(wrong, end + " left " + sender.astype(str) + ", its pod runs on "
                     + home.astype(str), "")
    return wrong, where


def _node_of_address(cluster: Cluster, address: str) -> str | None:
    try:
        identity = cluster.resolve(address)
    except Exception:  # noqa: BLE001 - an address the snapshot cannot place is no evidence
        return None
    return identity.node if identity.kind == "node" else None


def _one_way_candidates(seen: Seen, points: dict[str, np.ndarray], windows: pd.DataFrame,
                        n: int) -> pd.DataFrame:
    """facts: the (flow, point) entries that saw one direction of a flow seen both ways,
    not as a lower device of another point (``_layered``), whose missing direction passed
    during their file's capture: what a NAT or a diverging path must still explain."""
    candidate = _one_way(points, n) & ~points["layered"]
    cand = pd.DataFrame({"flow": points["flow"][candidate], "point": points["point"][candidate],
                         "file": points["file"][candidate],
                         "missing": np.where(points["mask"][candidate] == 1, RESP, ORIG)})
    if not len(cand):
        return cand
    return cand[_passed_during(cand, seen, windows)].reset_index(drop=True)


def _one_way_points(part: dict[str, Any], flows: pd.DataFrame, n: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per flow, the points that saw one direction while the other passed during their
    capture, and nothing explains it (``"node1:if4 (orig)"``, comma-separated)."""
    cand, points = part["candidates"], part["points"]
    empty = np.full(n, "", dtype=object)
    if not len(cand):
        return empty, empty.copy()
    cand = cand[~_nat_explains(cand, points, flows)]
    cand = cand[_diverges(cand, points)]
    if not len(cand):
        return empty, empty.copy()
    saw = _NAMES[1 - cand["missing"].to_numpy()]
    phrase = part["point_labels"][cand["point"].to_numpy()] + " (" + saw + ")"
    codes, uniques = pd.factorize(phrase)
    flow = cand["flow"].to_numpy()
    listed = set_labels(flow, codes.astype(np.int64), np.asarray(uniques, dtype=object), n)
    text = np.where(listed != "", "one direction only at " + listed, "")
    return listed, text


def _diverges(cand: pd.DataFrame, points: dict[str, np.ndarray]) -> np.ndarray:
    """Candidates in a capture file where the two directions' paths part: the file has a
    point that saw only the originator and one that saw only the responder, or it never
    saw the missing direction at all. A point that only misses the replies while the file
    saw them elsewhere is a device they bypass on the way in (Cilium's BPF host routing
    delivers replies straight into the pod, past the host side of its veth), not another
    route."""
    if not len(cand):
        return np.zeros(0, dtype=bool)
    n_files = int(max(points["file"].max(), cand["file"].max())) + 1
    key = cand["flow"].to_numpy() * n_files + cand["file"].to_numpy()
    bit = np.where(cand["missing"].to_numpy() == ORIG, 1, 2)
    mine = int_isin(points["flow"], cand["flow"].unique())
    seen_in_file = _or_per_key(points["flow"][mine] * n_files + points["file"][mine],
                               points["mask"][mine], key)
    both_ways = _or_per_key(key, bit, key) == 3
    never = (seen_in_file & bit) == 0
    return both_ways | never


def _or_per_key(keys: np.ndarray, bits: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The OR of the direction bits (1, 2) of the rows of each key, at each ``wanted`` key
    (0 for a key without rows)."""
    codes, uniques = pd.factorize(keys)
    low = np.bincount(codes, weights=bits & 1, minlength=len(uniques)) > 0
    high = np.bincount(codes, weights=bits & 2, minlength=len(uniques)) > 0
    at = pd.Index(uniques).get_indexer(wanted)
    out = np.where(low, 1, 0) | np.where(high, 2, 0)
    return np.where(at >= 0, out[np.maximum(at, 0)], 0)


def _passed_during(cand: pd.DataFrame, seen: Seen, windows: pd.DataFrame) -> np.ndarray:
    """Candidates whose missing direction had a packet inside their file's capture window."""
    rows = seen.rows.loc[int_isin(seen.rows["flow"].to_numpy(), cand["flow"].unique()),
                         ["pid", "flow", "dir", "t"]]
    first = rows.groupby("pid", sort=False).agg(flow=("flow", "first"), dir=("dir", "first"),
                                                t=("t", "min"))
    wanted = cand.reset_index(drop=True).reset_index().merge(
        first.rename(columns={"dir": "missing"}), on=["flow", "missing"])
    start = windows["min"].to_numpy()[wanted["file"].to_numpy()] + int(EDGE_S * 1e9)
    stop = windows["max"].to_numpy()[wanted["file"].to_numpy()] - int(EDGE_S * 1e9)
    inside = (wanted["t"].to_numpy() >= start) & (wanted["t"].to_numpy() <= stop)
    hit = np.zeros(len(cand), dtype=bool)
    hit[wanted["index"].to_numpy()[inside]] = True
    return hit


def _client_keys(flows: pd.DataFrame) -> np.ndarray:
    """One int64 per client socket (originator address, port, protocol)."""
    host, _ = codes_of(flows["orig_h"])
    port = flows["orig_p"].to_numpy(dtype=np.int64, na_value=0)
    proto = flows["ip_proto"].to_numpy(dtype=np.int64, na_value=0)
    return (host << 24) | (port << 8) | proto


def _nat_explains(cand: pd.DataFrame, points: dict[str, np.ndarray],
                  flows: pd.DataFrame) -> np.ndarray:
    """Candidates whose missing direction was seen at the point in another flow of the same
    client socket: the two flows are one connection before and after a NAT."""
    client = _client_keys(flows)
    seen_at = pd.DataFrame({"point": points["point"], "client": client[points["flow"]],
                            "other": points["flow"], "mask": points["mask"]})
    ask = cand.reset_index(drop=True).reset_index()
    ask["client"] = client[ask["flow"].to_numpy()]
    pairs = ask.merge(seen_at, on=["point", "client"])
    bit = np.where(pairs["missing"].to_numpy() == ORIG, 1, 2)
    ok = (pairs["other"].to_numpy() != pairs["flow"].to_numpy()) & \
        ((pairs["mask"].to_numpy() & bit) > 0)
    hit = np.zeros(len(cand), dtype=bool)
    hit[pairs["index"].to_numpy()[ok]] = True
    return hit


def _one_way(points: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Entries of ``points`` that saw one direction of a flow whose both directions were
    seen somewhere."""
    flow_mask = np.zeros(n, dtype=np.int64)
    np.bitwise_or.at(flow_mask, points["flow"], points["mask"])
    return (points["mask"] != 3) & (flow_mask[points["flow"]] == 3)


def _layered(seen: Seen, points: dict[str, np.ndarray], n: int) -> np.ndarray:
    """One-way entries of ``points`` every packet of which another point of the same file
    saw with the same TTL and tunnel while seeing both directions: a lower device (a bond
    member, a bridge port's flood copy), not another path."""
    hit = np.zeros(len(points["flow"]), dtype=bool)
    ask = pd.DataFrame({"index": np.flatnonzero(_one_way(points, n))})
    both = pd.DataFrame({"flow": points["flow"], "other": points["point"],
                         "file": points["file"]})[points["mask"] == 3]
    if not len(ask) or not len(both):
        return hit
    ask["flow"] = points["flow"][ask["index"].to_numpy()]
    ask["point"] = points["point"][ask["index"].to_numpy()]
    ask["file"] = points["file"][ask["index"].to_numpy()]
    columns = ["flow", "point", "pid", "ttl", "encap"]
    rows = seen.rows.loc[int_isin(seen.rows["flow"].to_numpy(), ask["flow"].to_numpy()),
                         columns]  # the asked flows' (one copy, of those rows only)
    mine = ask.merge(rows, on=["flow", "point"])
    others = rows.rename(columns={"point": "other"}).merge(both, on=["flow", "other"])
    pairs = mine.merge(others, on=["flow", "file", "pid", "ttl", "encap"])
    pairs = pairs[pairs["other"] != pairs["point"]]
    matched = pairs.groupby(["index", "other"])["pid"].nunique()
    needed = mine.groupby("index")["pid"].nunique()
    full = matched[matched.to_numpy() == needed.reindex(
        matched.index.get_level_values("index")).to_numpy()]
    hit[full.index.get_level_values("index").unique().to_numpy()] = True
    return hit


def _fhrp_or_group(labels: np.ndarray) -> np.ndarray:
    """Per MAC label: a group address (multicast, broadcast) or a first-hop-redundancy
    virtual router's (VRRP 00:00:5e:00:01/02:xx, HSRP 00:00:0c:07:ac:xx and
    00:00:0c:9f:fx:xx, GLBP 00:07:b4:xx), which no reply's address need match."""
    text = np.asarray(labels, dtype=str)
    if not len(text):
        return np.zeros(0, dtype=bool)
    virtual = np.array([t.startswith(FHRP_MAC_PREFIXES) for t in text], dtype=bool)
    return group_macs(text) | virtual


def group_macs(labels: np.ndarray) -> np.ndarray:
    """Per MAC label ("aa:bb:..."): a group address (broadcast or multicast: the I/G bit)."""
    return np.array([int(str(t)[:2], 16) & 1 == 1 for t in labels], dtype=bool)


def _next_hop_macs(seen: Seen, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Flows with a point on Ethernet that saw both directions where the replies' source
    MACs share none with the requests' destinations (the far neighbour: another router sent
    the replies) or the replies' destinations none with the requests' sources (the near
    one). Per (flow, point) the addresses are sets, so a point seeing a packet twice (in and
    out of a router's one interface) or a neighbour's address changing mid-flow is no
    difference."""
    # int64 keys: (flow * points + point) * MACs (or MAC pairs seen) stays far below 2^63
    hit = np.zeros(n, dtype=bool)
    text = np.full(n, "", dtype=object)
    rows = seen.rows
    src, dst = rows["eth_src"].to_numpy(), rows["eth_dst"].to_numpy()
    known = (src >= 0) & (dst >= 0)
    if not known.any():
        return hit, text
    skip = _fhrp_or_group(seen.mac_labels)
    known &= ~skip[np.maximum(src, 0)] & ~skip[np.maximum(dst, 0)]
    n_points, n_macs = max(len(seen.point_labels), 1), max(len(seen.mac_labels), 1)
    # one entry per distinct (place, direction, MAC pair): a hash over the sightings, then
    # everything on those few (a flow's packets share their MACs at a point)
    pair, pairs = dense_factorize(src[known] * n_macs + dst[known], n_macs * n_macs)
    n_pairs = max(len(pairs), 1)
    place = rows["flow"].to_numpy()[known] * n_points + rows["point"].to_numpy()[known]
    resp = (rows["dir"].to_numpy()[known] == RESP).astype(np.int64)
    entry = pd.unique((place * 2 + resp) * n_pairs + pair)
    e_pair, e_resp = entry % n_pairs, (entry // n_pairs) % 2 == 1
    e_place, places = pd.factorize(entry // (2 * n_pairs))  # places as codes 0..P-1
    n_places = len(places)
    e_src, e_dst = pairs[e_pair] // n_macs, pairs[e_pair] % n_macs
    # On a link the two directions swap their addresses. A place where a request and a
    # reply were sent to one MAC (or from one) says nothing about the way back: a router's
    # two inputs seen by one capture (a mirror of its ports, a hypervisor switch), or a
    # reply framed with the request's own pair (a crafted capture). Such places are not
    # judged.
    same = np.zeros(n_places, dtype=bool)
    for macs in (e_dst, e_src):
        keyed, by_request, by_reply = _both_ways(e_place * n_macs + macs, ~e_resp, e_resp)
        same |= np.bincount(keyed[by_request & by_reply] // n_macs, minlength=n_places) > 0
    judged = ~same[e_place]
    request, reply = judged & ~e_resp, judged & e_resp
    has = (np.bincount(e_place[request], minlength=n_places) > 0) \
        & (np.bincount(e_place[reply], minlength=n_places) > 0)
    found = []
    # (requests' address, replies' address): far neighbour, then near one
    for side, (asked, answered) in (("far", (e_dst, e_src)), ("near", (e_src, e_dst))):
        keys, wanted, got = _both_ways(e_place * n_macs + np.where(e_resp, answered, asked),
                                       request, reply)
        common = np.bincount(keys[wanted & got] // n_macs, minlength=n_places) > 0
        odd = np.flatnonzero(has & ~common)
        if len(odd):
            mine = int_isin(keys // n_macs, odd)
            found.append((side, odd, keys[mine & wanted], keys[mine & got]))
    if not found:
        return hit, text
    place_of = np.asarray(places, dtype=np.int64)  # place code -> flow * points + point
    flows, phrases = [], []
    for side, odd, want, got in found:  # words per odd (flow, point), per distinct set
        asked, answered = (_mac_sets(keys, odd, n_macs, seen.mac_labels) for keys in (want, got))
        at = place_of[odd]
        where = "at " + seen.point_labels[at % n_points].astype(object)
        if side == "far":
            words = where + " requests went to " + asked + ", replies came from " + answered
        else:
            words = where + " requests came from " + asked + ", replies went to " + answered
        flows.append(at // n_points)
        phrases.append(words)
    flow = np.concatenate(flows)
    codes, uniques = pd.factorize(np.concatenate(phrases))
    listed = set_labels(flow, codes.astype(np.int64), np.asarray(uniques, dtype=object), n,
                        sep="; ")
    hit[flow] = True
    text[flow] = listed[flow]
    return hit, text


def _both_ways(keys: np.ndarray, first: np.ndarray, second: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct ``keys`` of the rows in ``first`` or ``second`` (one hash, no sort), and
    per distinct key whether a row of ``first`` and one of ``second`` has it."""
    either = first | second
    codes, uniques = pd.factorize(keys[either])
    in_first = np.zeros(len(uniques), dtype=bool)
    in_second = np.zeros(len(uniques), dtype=bool)
    in_first[codes[first[either]]] = True
    in_second[codes[second[either]]] = True
    return np.asarray(uniques, dtype=np.int64), in_first, in_second


def _mac_sets(keys: np.ndarray, places: np.ndarray, n_macs: int,
              labels: np.ndarray) -> np.ndarray:
    """Per place of ``places`` (sorted), the MACs of its ``keys`` (place * n_macs + MAC code)
    as comma-separated text."""
    mine = keys[int_isin(keys // n_macs, places)]
    return set_labels(np.searchsorted(places, mine // n_macs), mine % n_macs, labels,
                      len(places))


def _ttl_sums(seen: Seen, points: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Flows whose originator + responder TTL differs between the points that saw both
    (only flows with two or more such points can differ)."""
    several = np.bincount(points["flow"][points["mask"] == 3], minlength=n) >= 2
    flow = seen.rows["flow"].to_numpy()
    rows = np.flatnonzero(several[flow] & (seen.rows["ttl"].to_numpy() >= 0))
    ttl = {name: seen.rows[name].to_numpy()[rows] for name in ("point", "dir", "cap", "ttl")}
    # one int key per (flow, point, dir, cap), grouped in key order (flow, point, dir, cap)
    n_points = max(len(seen.point_labels), 1)
    key = ((flow[rows] * n_points + ttl["point"]) * 2 + ttl["dir"]) * 3 + ttl["cap"]
    distinct, of_row = unique_inverse(key, n * n_points * 6)  # sorted keys, no sort of rows
    values = ttl["ttl"].astype(np.int64, copy=False)
    low = np.full(len(distinct), np.iinfo(np.int64).max, dtype=np.int64)
    high = np.full(len(distinct), np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(low, of_row, values)
    np.maximum.at(high, of_row, values)
    one = low == high
    keys = distinct[one]
    stats = pd.DataFrame({"flow": keys // (6 * n_points), "point": keys // 6 % n_points,
                          "dir": keys // 3 % 2, "cap": keys % 3, "min": low[one]})
    orig = stats[stats["dir"] == ORIG]
    resp = stats[stats["dir"] == RESP].assign(cap=lambda f: np.where(f["cap"] == 2, 2,
                                                                      1 - f["cap"]))
    pairs = orig.merge(resp, on=["flow", "point", "cap"], suffixes=("_o", "_r"))
    hit = np.zeros(n, dtype=bool)
    text = np.full(n, "", dtype=object)
    if not len(pairs):
        return hit, text
    pairs["sum"] = pairs["min_o"] + pairs["min_r"]
    spread = pairs.groupby("flow")["sum"].nunique()
    odd = spread[spread > 1].index.to_numpy()
    if not len(odd):
        return hit, text
    hit[odd] = True
    chosen = pairs[pairs["flow"].isin(odd)]
    labels = seen.point_labels
    phrase = chosen["sum"].astype(str).to_numpy() + " at " + labels[chosen["point"].to_numpy()]
    codes, uniques = pd.factorize(phrase)
    listed = set_labels(chosen["flow"].to_numpy(), codes.astype(np.int64),
                        np.asarray(uniques, dtype=object), n)
    text[odd] = "orig+resp TTL " + listed[odd]
    return hit, text


def _handshakes(seen: Seen, flows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """facts of split routing: the distinct (flow, file) of the share's SYNs, and per
    (flow, file) whose client socket's SYN the share never saw in that file, the first
    SYN-ACK's time, the flow's first packet's time in the file (``opened``), whether the
    file saw a packet of the client (``client_seen``) and one of the server's after the
    SYN-ACK that is not a SYN-ACK (``went_on``)."""
    rows = seen.rows
    flow, file, flags = rows["flow"].to_numpy(), rows["file"].to_numpy(), rows["flags"].to_numpy()
    tcp = flows["ip_proto"].to_numpy(dtype=np.int64, na_value=-1)[flow] == 6
    is_syn = ((flags & (SYN | ACK)) == SYN) & (rows["dir"].to_numpy() == ORIG) & tcp
    is_synack = ((flags & (SYN | ACK)) == (SYN | ACK)) & (rows["dir"].to_numpy() == RESP) & tcp
    syns = pd.DataFrame({"flow": flow[is_syn], "file": file[is_syn]}).drop_duplicates(
        ignore_index=True)
    answers = pd.DataFrame({"flow": np.zeros(0, np.int64), "file": np.zeros(0, np.int64),
                            "t": np.zeros(0, np.int64), "opened": np.zeros(0, np.int64),
                            "client_seen": np.zeros(0, bool), "went_on": np.zeros(0, bool)})
    if not is_synack.any():
        return syns, answers
    # a SYN-ACK whose file saw a SYN of its client socket is never split routing: most are
    # dropped here, by one membership test over (client socket, file) keys
    client = _client_keys(flows)
    n_files = int(file.max(initial=0)) + 2
    syn_keys = np.unique(client[flow[is_syn]] * n_files + file[is_syn])
    at = np.flatnonzero(is_synack)
    is_synack[at[np.isin(client[flow[at]] * n_files + file[at], syn_keys)]] = False
    if not is_synack.any():
        return syns, answers
    answers = rows[is_synack].groupby(["flow", "file"], sort=True)["t"].min().reset_index()
    wanted = int_isin(flow, answers["flow"].unique())
    mine = rows[["flow", "file", "t"]][wanted]
    direction = rows["dir"].to_numpy()[wanted]
    server_synack = ((flags[wanted] & (SYN | ACK)) == (SYN | ACK)) & (direction == RESP)
    server_other = (direction == RESP) & ~server_synack
    ends = mine.assign(client_seen=direction == ORIG,
                       server_t=np.where(server_other, mine["t"].to_numpy(), NAT_NS)) \
        .groupby(["flow", "file"], sort=True).agg(
            opened=("t", "min"), client_seen=("client_seen", "any"), server_t=("server_t", "max"))
    answers = answers.join(ends, on=["flow", "file"]).reset_index(drop=True)
    answers["went_on"] = answers.pop("server_t").to_numpy() > answers["t"].to_numpy()
    return syns, answers


def _split_routing(part: dict[str, Any], flows: pd.DataFrame,
                   n: int) -> tuple[np.ndarray, np.ndarray]:
    """Flows a capture file of which saw a SYN-ACK but no SYN (of this flow or, past a NAT,
    of another flow of the same client socket) although it was capturing when the SYN
    passed: the SYN-ACK is the flow's first packet in the file (a SYN-ACK re-sent inside a
    running connection whose start the capture missed is not). A file that saw the SYN on
    another interface is judged by its points (one_direction_at_point)."""
    hit = np.zeros(n, dtype=bool)
    text = np.full(n, "", dtype=object)
    answers, syns, windows = part["synacks"], part["syns"], part["windows"]
    answers = answers[answers["file"].to_numpy() >= 0]
    if not len(answers):
        return hit, text
    client = _client_keys(flows)
    n_files = len(windows) + 1
    syn_keys = np.unique(client[syns["flow"].to_numpy()] * n_files + syns["file"].to_numpy())
    had_syn = np.isin(client[answers["flow"].to_numpy()] * n_files
                      + answers["file"].to_numpy(), syn_keys)
    began = windows["first"].to_numpy()[answers["file"].to_numpy()]
    t = answers["t"].to_numpy()
    first = answers["opened"].to_numpy() == t
    one_sided = ~answers["client_seen"].to_numpy(dtype=bool)
    went_on = answers["went_on"].to_numpy(dtype=bool)
    late = (went_on & (t >= began + int(EDGE_S * 1e9))) | \
        (t >= began + int(SYNACK_RESEND_S * 1e9))
    odd = answers[~had_syn & late & first & one_sided]
    if not len(odd):
        return hit, text
    codes, uniques = pd.factorize(part["file_nodes"][odd["file"].to_numpy()])
    flow = odd["flow"].to_numpy()
    listed = set_labels(flow, codes.astype(np.int64), np.asarray(uniques, dtype=object), n)
    hit[flow] = True
    text[flow] = "SYN-ACK without its SYN on " + listed[flow]
    return hit, text


def _istio(flows: pd.DataFrame) -> np.ndarray:
    ports = [flows[c].to_numpy(dtype=np.int64, na_value=-1) for c in ("orig_p", "resp_p")]
    proto = flows["ip_proto"].to_numpy(dtype=np.int64, na_value=-1)
    return (proto == 6) & (np.isin(ports[0], ISTIO_PORTS) | np.isin(ports[1], ISTIO_PORTS))


def _failure(flows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Whether each flow failed, and how, from its state and counters."""
    def count(column: str) -> np.ndarray:
        return flows[column].to_numpy(dtype=np.int64, na_value=0)

    tcp = flows["ip_proto"].to_numpy(dtype=np.int64, na_value=-1) == 6
    state = flows["conn_state"].astype(object).to_numpy()
    bad_state = tcp & np.isin(state, FAILED_STATES)
    syn, synack = count("syn_retrans"), count("synack_retrans")
    retrans = count("orig_retrans") + count("resp_retrans")
    errors = count("icmp_errors")
    error_types = flows["icmp_error_types"].astype(object).fillna("").to_numpy()
    parts = [  # (which flows, their phrase at those rows)
        (bad_state, lambda at: "conn_state " + state[at].astype(str)),
        (syn > 0, lambda at: "SYN sent " + (syn[at] + 1).astype(str) + " times"),
        (synack > 0, lambda at: "SYN-ACK sent " + (synack[at] + 1).astype(str) + " times"),
        (retrans > 0, lambda at: retrans[at].astype(str) + " segments retransmitted"),
        (errors > 0, lambda at: "ICMP errors " + error_types[at].astype(str)),
    ]
    failed = np.zeros(len(flows), dtype=bool)
    failure = np.full(len(flows), "", dtype=object)
    for mask, phrase in parts:
        failed |= mask
        at = np.flatnonzero(mask)
        failure[at] = np.where(failure[at] == "", phrase(at), failure[at] + "; " + phrase(at))
    return failed, failure
