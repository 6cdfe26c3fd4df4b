"""Tunnel delivery per node pair: did the overlay carry what one node sent to another?

A packet node A encapsulated towards node B's underlay address (seen leaving on A's
capture) is *delivered* when B's capture saw the same packet (``packet_id``: B's NIC, or
decapsulated inside B), *lost* when it did not, and *undecapsulated* when B saw it only on
its NIC although B's capture shows other packets decapsulated (a firewall on the tunnel
port, a bad outer checksum: the kernel drops it before the tunnel device). A packet that
reached B and was decapsulated but never reached the pod is not overlay loss (a policy
drop, another analysis's business).

Only packets A sent while B was capturing count: B's capture window is each of its files'
first to last packet (ts_corrected), less ``GRACE_S`` at the end for the packet to arrive,
and only files that see B's underlay (some packet to or from an address B owns) define it.
Everything is one pass of array operations over the tunnelled sightings, then a groupby
per tunnel (node pair, tunnel, port, VNI); loops are per capture file and per pair.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pcapkit.analyses import register_analysis
from pcapkit.analyses.underlay import encapsulated, underlay_nodes
from pcapkit.column_arrays import categorical_at, codes_of, int_isin, per_row, times_ns
from pcapkit.schema.convert import build_frame, empty_frame
from pcapkit.schema.tunnels import TUNNEL_PAIRS

if TYPE_CHECKING:
    from pcapkit.capture import Capture

#: a packet counts when the receiver's capture holds a packet at least this much later
#: (seconds): it was still capturing when the packet should have arrived. Well above an
#: underlay's transit time and the residual of the clock correction.
GRACE_S = 0.05
#: undelivered packets cited per tunnel
EVIDENCE_LIMIT = 20
#: a tunnel that delivered none of at least this many packets is blocked
BLOCKED_MIN_SENT = 3

PAIR = ["src_underlay", "dst_underlay", "tunnel", "tunnel_port", "vni"]


@register_analysis("tunnel_pairs")
def tunnel_pairs(capture: Capture) -> pd.DataFrame:
    """One row per (underlay source, underlay destination, tunnel, port, VNI)."""
    packets = capture.packets
    if not len(packets):
        return empty_frame(TUNNEL_PAIRS)
    owners = underlay_nodes(capture)
    node_codes, node_labels = codes_of(packets["node"])
    nodes = pd.Index(sorted({*node_labels, *owners.values()}))
    node = per_row(node_codes, nodes.get_indexer(pd.Index(node_labels, dtype=object)), -1)
    ids = packets["packet_id"].to_numpy(dtype=np.int64, na_value=-1)
    t = times_ns(packets["ts_corrected"])
    owner_of = {name: _owner_codes(packets[name], owners, nodes)
                for name in ("outer_src", "outer_dst", "src", "dst")}
    tunnelled = encapsulated(packets) & (ids >= 0)
    keys = _key(ids, node, len(nodes))
    plain_keys = keys[~tunnelled & (keys >= 0)]   # (the sends asked about are all >= 0)
    seen_keys = keys[keys >= 0]
    shows_decap = np.unique(node[tunnelled & int_isin(keys, plain_keys)])

    rows = np.flatnonzero(tunnelled)
    sights = pd.DataFrame({
        "packet_id": ids[rows], "t": t[rows], "node": node[rows],
        "src_owner": owner_of["outer_src"][rows], "dst_owner": owner_of["outer_dst"][rows],
        "src_underlay": categorical_at(packets["outer_src"], rows),
        "dst_underlay": categorical_at(packets["outer_dst"], rows),
        "tunnel": _outermost(packets["encap"], rows),
        "tunnel_port": packets["outer_dport"].to_numpy(dtype=np.int64, na_value=-1)[rows],
        "vni": packets["vni"].to_numpy(dtype=np.int64, na_value=-1)[rows],
        "bad": (packets["outer_udp_checksum_ok"] == False).to_numpy(  # noqa: E712
            dtype=bool, na_value=False)[rows],
    }, copy=False)  # fresh arrays: no consolidating copy of a million rows
    sends = _sends(sights, _windows(packets, node, t, owner_of, len(nodes)))
    delivered = int_isin(_key(sends["packet_id"].to_numpy(), sends["dst_owner"].to_numpy(),
                              len(nodes)), seen_keys)
    decapsulated = int_isin(_key(sends["packet_id"].to_numpy(), sends["dst_owner"].to_numpy(),
                                 len(nodes)), plain_keys)
    sends["delivered"] = delivered
    sends["undecapsulated"] = delivered & ~decapsulated & \
        np.isin(sends["dst_owner"].to_numpy(), shows_decap)
    sends["undelivered"] = ~delivered | sends["undecapsulated"].to_numpy()
    sends["flow_id"] = _flow_ids(capture, sends["packet_id"].to_numpy())
    # bad outer checksums that cost the packet: the receiver captured it with one and
    # never decapsulated it (a sender's capture, and a veth underlay's, can show a wrong
    # checksum that offload completes later and the receiver accepts)
    at_receiver = sights["bad"] & (sights["node"] == sights["dst_owner"]) & \
        np.isin(sights["node"], shows_decap) & \
        ~int_isin(_key(sights["packet_id"].to_numpy(), sights["node"].to_numpy(), len(nodes)),
                  plain_keys)
    bad = sights[at_receiver].drop_duplicates([*PAIR, "packet_id"])
    pairs = _pairs(sends, bad, _icmp_unreachable(packets, ids))
    if not len(pairs):
        return empty_frame(TUNNEL_PAIRS)
    return _finish(pairs, owners, sends, bad)


def _key(ids: np.ndarray, node: np.ndarray, n_nodes: int) -> np.ndarray:
    """One integer per (packet_id, node)."""
    return ids.astype(np.int64) * (n_nodes + 1) + node.astype(np.int64)


def _owner_codes(column: pd.Series, owners: dict[str, str], nodes: pd.Index) -> np.ndarray:
    """Per row, the code in ``nodes`` of the node owning the address (-1: none), resolved
    once per distinct address."""
    codes, addresses = codes_of(column)
    owner = [owners.get(a) for a in addresses]
    return per_row(codes, np.array([nodes.get_loc(n) if n is not None else -1 for n in owner],
                                   dtype=np.int64), -1)


def _outermost(encap: pd.Series, rows: np.ndarray) -> pd.Categorical:
    """The outermost tunnel's name at each of ``rows`` ('vxlan' of 'vxlan+gre'), as a
    Categorical: one split per distinct stack."""
    codes, labels = codes_of(encap)
    names = pd.Index([c.split("+")[0] for c in labels] + [""], dtype=object)
    outer = names.unique()
    return pd.Categorical.from_codes(outer.get_indexer(names)[codes[rows]], categories=outer)


def _windows(packets: pd.DataFrame, node: np.ndarray, t: np.ndarray,
             owner_of: dict[str, np.ndarray], n_nodes: int) -> list[tuple[int, int, int]]:
    """(node code, start ns, end ns) of every capture file that sees its node's underlay:
    some packet to or from an address the node owns."""
    own = np.zeros(len(packets), dtype=bool)
    for codes in owner_of.values():
        own |= codes == node
    files = codes_of(packets["file"])[0]
    frame = pd.DataFrame({"file": files, "node": node, "t": t, "own": own}, copy=False)
    frame = frame[frame["t"] != np.iinfo(np.int64).min]
    spans = frame.groupby("file").agg(node=("node", "first"), start=("t", "min"),
                                      end=("t", "max"), own=("own", "any"))
    spans = spans[spans["own"]]
    return list(zip(spans["node"], spans["start"], spans["end"], strict=True))


def _sends(sights: pd.DataFrame, windows: list[tuple[int, int, int]]) -> pd.DataFrame:
    """Each packet as its sender's capture saw it leave (earliest sighting), kept when the
    receiving node was capturing then."""
    out = sights[(sights["node"] == sights["src_owner"]) & (sights["dst_owner"] >= 0)]
    out = out.sort_values("t", kind="stable").drop_duplicates([*PAIR, "packet_id"])
    inside = np.zeros(len(out), dtype=bool)
    receiver, sent = out["dst_owner"].to_numpy(), out["t"].to_numpy()
    grace = int(GRACE_S * 1e9)
    for code, start, end in windows:
        inside |= (receiver == code) & (sent >= start) & (sent <= end - grace)
    return out[inside].reset_index(drop=True)


def _flow_ids(capture: Capture, packet_ids: np.ndarray) -> np.ndarray:
    distinct = capture.distinct
    flows = pd.Series(distinct["flow_id"].to_numpy(dtype=np.float64, na_value=np.nan),
                      index=distinct["packet_id"].to_numpy(dtype=np.int64))
    return flows.reindex(packet_ids).to_numpy()


def _icmp_unreachable(packets: pd.DataFrame, ids: np.ndarray) -> pd.DataFrame:
    """Distinct ICMP destination-unreachable errors per quoted underlay (src, dst, port)."""
    version = packets["ip_version"].to_numpy(dtype=np.int64, na_value=0)
    kind = packets["icmp_type"].to_numpy(dtype=np.int64, na_value=-1)
    unreachable = ((version == 4) & (kind == 3)) | ((version == 6) & (kind == 1))
    unreachable &= (packets["icmp_orig_proto"] == 17).to_numpy(dtype=bool, na_value=False)
    rows = np.flatnonzero(unreachable & (ids >= 0))
    errors = pd.DataFrame({
        "src_underlay": categorical_at(packets["icmp_orig_src"], rows),
        "dst_underlay": categorical_at(packets["icmp_orig_dst"], rows),
        "tunnel_port": packets["icmp_orig_dport"].to_numpy(dtype=np.int64,
                                                           na_value=-1)[rows],
        "packet_id": ids[rows]}).drop_duplicates()
    return errors.groupby(["src_underlay", "dst_underlay", "tunnel_port"]).size() \
        .rename("icmp_unreachable").reset_index()


def _pairs(sends: pd.DataFrame, bad: pd.DataFrame, icmp: pd.DataFrame) -> pd.DataFrame:
    """The per-tunnel counts: sends, bad checksums, and ICMP errors quoting the tunnel."""
    counted = sends.groupby(PAIR, sort=True).agg(
        sent=("packet_id", "size"), delivered=("delivered", "sum"),
        undecapsulated=("undecapsulated", "sum"), first_ns=("t", "min"),
        last_ns=("t", "max"), flows=("flow_id", "nunique"))
    counted["lost_flows"] = sends[sends["undelivered"]].groupby(PAIR)["flow_id"].nunique()
    checksums = bad.groupby(PAIR).agg(bad_checksums=("packet_id", "size"),
                                      bad_first=("t", "min"), bad_last=("t", "max"))
    pairs = counted.join(checksums, how="outer").reset_index()
    if len(icmp):
        known = pairs[["src_underlay", "dst_underlay", "tunnel_port"]].drop_duplicates()
        icmp = icmp.merge(known, on=["src_underlay", "dst_underlay", "tunnel_port"])
        pairs = pairs.merge(icmp, on=["src_underlay", "dst_underlay", "tunnel_port"],
                            how="left")
    else:
        pairs["icmp_unreachable"] = 0
    return pairs


def _finish(pairs: pd.DataFrame, owners: dict[str, str], sends: pd.DataFrame,
            bad: pd.DataFrame) -> pd.DataFrame:
    count = {c: pairs[c].fillna(0).to_numpy(dtype=np.int64)
             for c in ("sent", "delivered", "undecapsulated", "flows", "lost_flows",
                       "bad_checksums", "icmp_unreachable")}
    lost = count["sent"] - count["delivered"]
    undelivered = lost + count["undecapsulated"]
    with np.errstate(invalid="ignore", divide="ignore"):
        loss_rate = np.where(count["sent"] > 0, undelivered / np.maximum(count["sent"], 1),
                             np.nan)
    through = count["delivered"] - count["undecapsulated"]
    blocked = (count["sent"] > 0) & (through == 0) & \
        ((count["sent"] >= BLOCKED_MIN_SENT) | (count["icmp_unreachable"] > 0))
    rejected = blocked & (count["icmp_unreachable"] > 0)  # the firewall said so itself
    verdict = np.select([rejected, count["bad_checksums"] > 0, blocked, undelivered > 0],
                        ["blocked", "bad-checksum", "blocked", "lossy"], "healthy")
    first = np.fmin(pairs["first_ns"].to_numpy(dtype=np.float64),
                    pairs["bad_first"].to_numpy(dtype=np.float64))
    last = np.fmax(pairs["last_ns"].to_numpy(dtype=np.float64),
                   pairs["bad_last"].to_numpy(dtype=np.float64))
    src_node = [owners.get(a) for a in pairs["src_underlay"]]
    dst_node = [owners.get(a) for a in pairs["dst_underlay"]]
    data = {
        "src_node": src_node, "dst_node": dst_node,
        "src_underlay": pairs["src_underlay"], "dst_underlay": pairs["dst_underlay"],
        "tunnel": pairs["tunnel"], "tunnel_port": pairs["tunnel_port"].to_numpy(np.int64),
        "vni": pairs["vni"].to_numpy(np.int64), **count, "lost": lost,
        "loss_rate": loss_rate, "first_ts": np.nan_to_num(first, nan=-1).astype(np.int64),
        "last_ts": np.nan_to_num(last, nan=-1).astype(np.int64), "verdict": verdict,
        "reason": [_reason(v, s, d, pairs.iloc[i], count, i, lost[i])
                   for i, (v, s, d) in enumerate(zip(verdict, src_node, dst_node,
                                                     strict=True))],
        "evidence_packet_ids": _evidence(pairs, sends, bad),
    }
    return build_frame(TUNNEL_PAIRS, data)


def _evidence(pairs: pd.DataFrame, sends: pd.DataFrame, bad: pd.DataFrame) -> np.ndarray:
    """Per tunnel, the earliest undelivered packets, then bad-checksum ones (at most
    EVIDENCE_LIMIT in all)."""
    cited = pd.concat([sends.loc[sends["undelivered"], [*PAIR, "t", "packet_id"]],
                       bad[[*PAIR, "t", "packet_id"]]], ignore_index=True)
    cited = cited.sort_values("t", kind="stable").drop_duplicates([*PAIR, "packet_id"])
    lists = cited.groupby(PAIR)["packet_id"].agg(lambda ids: [int(i) for i in
                                                               ids[:EVIDENCE_LIMIT]])
    index = pd.MultiIndex.from_frame(pairs[PAIR])
    out = np.empty(len(pairs), dtype=object)  # a 1-d array of lists, never a 2-d one
    for i, ids in enumerate(lists.reindex(index)):
        out[i] = ids if isinstance(ids, list) else []
    return out


def _reason(verdict: str, src: str | None, dst: str | None, pair: pd.Series,
            count: dict[str, np.ndarray], i: int, lost: int) -> str:
    route = (f"{src or pair['src_underlay']} ({pair['src_underlay']}) -> "
             f"{dst or pair['dst_underlay']} ({pair['dst_underlay']}) over {pair['tunnel']}"
             + (f" port {int(pair['tunnel_port'])}" if pair["tunnel_port"] >= 0 else "")
             + (f" VNI {int(pair['vni'])}" if pair["vni"] >= 0 else ""))
    sent, undecap = int(count["sent"][i]), int(count["undecapsulated"][i])
    parts = [f"{route}: {sent} packets sent, {lost} never reached {dst or 'the receiver'}'s "
             f"capture"]
    if undecap:
        parts.append(f"{undecap} reached its NIC but were never decapsulated")
    if count["icmp_unreachable"][i]:
        parts.append(f"{int(count['icmp_unreachable'][i])} ICMP unreachable errors came "
                     f"back for the tunnel port")
    if count["bad_checksums"][i]:
        parts.append(f"{int(count['bad_checksums'][i])} packets arrived with a bad outer "
                     f"UDP checksum")
    return f"{verdict}: " + "; ".join(parts)
