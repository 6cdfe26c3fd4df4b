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

from typing import TYPE_CHECKING, Any

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


#: the parts of a share's facts: per tunnel (PAIR) its sends and bad checksums, per quoted
#: underlay its ICMP errors, and the packets each tunnel's evidence may cite
_EMPTY = {"sends": PAIR, "checksums": PAIR, "icmp": ["src_underlay", "dst_underlay",
                                                   "tunnel_port"], "cited": PAIR}


def _tunnel_facts(tables: Any, _: None) -> dict[str, pd.DataFrame]:
    """facts: one share's counts per tunnel (:func:`_share_counts`); every sighting of a
    packet is in one share, so whether it was delivered is the share's to say."""
    packets = tables.packets
    if not len(packets):
        return {}
    return _share_counts(tables, packets, underlay_nodes(tables))


@register_analysis("tunnel_pairs", facts=_tunnel_facts)
def tunnel_pairs(capture: Capture) -> pd.DataFrame:
    """One row per (underlay source, underlay destination, tunnel, port, VNI)."""
    facts = [f for f in capture.facts("tunnel_pairs") if f]
    if not facts:
        return empty_frame(TUNNEL_PAIRS)
    part = {name: pd.concat([f[name] for f in facts], ignore_index=True) for name in _EMPTY}
    pairs = _pairs(part["sends"], part["checksums"], part["icmp"])
    if not len(pairs):
        return empty_frame(TUNNEL_PAIRS)
    return _finish(pairs, underlay_nodes(capture), part["cited"])


def _share_counts(tables: Any, packets: pd.DataFrame, owners: dict[str, str]
                  ) -> dict[str, pd.DataFrame]:
    """Per tunnel: packets sent, delivered, undecapsulated, first and last send, flows
    and flows with a loss; bad outer checksums that cost the packet; per quoted underlay
    the ICMP unreachable errors; and the earliest undelivered and bad-checksum packets
    (EVIDENCE_LIMIT per tunnel). The tunnel columns as text (shares name them alike)."""
    context = tables.context
    node_codes, node_labels = codes_of(packets["node"])
    nodes = pd.Index(sorted({*node_labels, *owners.values()}))
    node = per_row(node_codes, nodes.get_indexer(pd.Index(node_labels, dtype=object)), -1)
    ids = packets["packet_id"].to_numpy(dtype=np.int64, na_value=-1)
    t = times_ns(packets["ts_corrected"])
    owner_of = {name: _owner_codes(packets[name], owners, nodes)
                for name in ("outer_src", "outer_dst")}
    tunnelled = encapsulated(packets) & (ids >= 0)
    keys = _key(ids, node, len(nodes))
    plain_keys = keys[~tunnelled & (keys >= 0)]   # (the sends asked about are all >= 0)
    seen_keys = keys[keys >= 0]
    shows_decap = nodes.get_indexer(pd.Index(sorted(context.decap_nodes), dtype=object))

    # the sightings read below: a sender's own (its packets' sends) and, with a bad
    # outer checksum, a receiver's
    bad = (packets["outer_udp_checksum_ok"] == False).to_numpy(  # noqa: E712
        dtype=bool, na_value=False)
    src_owner, dst_owner = owner_of["outer_src"], owner_of["outer_dst"]
    rows = np.flatnonzero(tunnelled & (dst_owner >= 0)
                          & ((node == src_owner) | (bad & (node == dst_owner))))
    sights = pd.DataFrame({
        "packet_id": ids[rows], "t": t[rows], "node": node[rows],
        "src_owner": src_owner[rows], "dst_owner": dst_owner[rows],
        "src_underlay": categorical_at(packets["outer_src"], rows),
        "dst_underlay": categorical_at(packets["outer_dst"], rows),
        "tunnel": _outermost(packets["encap"], rows),
        "tunnel_port": packets["outer_dport"].to_numpy(dtype=np.int64, na_value=-1)[rows],
        "vni": packets["vni"].to_numpy(dtype=np.int64, na_value=-1)[rows],
        "bad": bad[rows],
    }, copy=False)  # fresh arrays: no consolidating copy of a million rows
    sends = _sends(sights, _windows(context, owners, nodes))
    delivered = int_isin(_key(sends["packet_id"].to_numpy(), sends["dst_owner"].to_numpy(),
                              len(nodes)), seen_keys)
    decapsulated = int_isin(_key(sends["packet_id"].to_numpy(), sends["dst_owner"].to_numpy(),
                                 len(nodes)), plain_keys)
    sends["delivered"] = delivered
    sends["undecapsulated"] = delivered & ~decapsulated & \
        np.isin(sends["dst_owner"].to_numpy(), shows_decap)
    sends["undelivered"] = ~delivered | sends["undecapsulated"].to_numpy()
    sends["flow_id"] = _flow_ids(tables.distinct, sends["packet_id"].to_numpy())
    # bad outer checksums that cost the packet: the receiver captured it with one and
    # never decapsulated it (a sender's capture, and a veth underlay's, can show a wrong
    # checksum that offload completes later and the receiver accepts)
    at_receiver = sights["bad"] & (sights["node"] == sights["dst_owner"]) & \
        np.isin(sights["node"], shows_decap) & \
        ~int_isin(_key(sights["packet_id"].to_numpy(), sights["node"].to_numpy(), len(nodes)),
                  plain_keys)
    bad = sights[at_receiver].drop_duplicates([*PAIR, "packet_id"])
    sends, bad = _as_text(sends), _as_text(bad)
    counted = sends.groupby(PAIR, sort=True).agg(
        sent=("packet_id", "size"), delivered=("delivered", "sum"),
        undecapsulated=("undecapsulated", "sum"), first_ns=("t", "min"),
        last_ns=("t", "max"), flows=("flow_id", "nunique"))
    counted["lost_flows"] = sends[sends["undelivered"]].groupby(PAIR)["flow_id"].nunique()
    checksums = bad.groupby(PAIR).agg(bad_checksums=("packet_id", "size"),
                                      bad_first=("t", "min"), bad_last=("t", "max"))
    return {"sends": counted.reset_index(), "checksums": checksums.reset_index(),
            "icmp": _icmp_unreachable(packets, ids), "cited": _cited(sends, bad)}


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The tunnel's text columns as plain text (each share's Categoricals differ)."""
    return frame.assign(**{c: pd.Series(frame[c].astype(object).to_numpy(), dtype=object,
                                        index=frame.index)
                           for c in ("src_underlay", "dst_underlay", "tunnel")})


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


def _windows(context: Any, owners: dict[str, str], nodes: pd.Index
             ) -> list[tuple[int, int, int]]:
    """(node code, start ns, end ns) of every capture file of the incident that sees its
    node's underlay: some packet to or from an address the node owns."""
    addresses = context.addresses
    owner = addresses["address"].map(owners).to_numpy(dtype=object)
    node_of = context.file_node()
    own = owner == addresses["file"].map(node_of).to_numpy(dtype=object)
    seeing = set(addresses["file"][own].astype(str))
    windows = context.windows
    out = []
    for file, first, last in zip(windows.index.astype(str), windows["first"],
                                 windows["last"], strict=True):
        code = nodes.get_indexer([node_of[file]])[0]
        if file in seeing and code >= 0:  # (a node no packet or owner names sends nothing)
            out.append((int(code), int(first), int(last)))
    return out


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


def _flow_ids(distinct: pd.DataFrame, packet_ids: np.ndarray) -> np.ndarray:
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
    errors = _as_text(errors.assign(tunnel=""))
    return errors.groupby(["src_underlay", "dst_underlay", "tunnel_port"]).size() \
        .rename("icmp_unreachable").reset_index()


def _pairs(sends: pd.DataFrame, bad: pd.DataFrame, icmp: pd.DataFrame) -> pd.DataFrame:
    """The per-tunnel counts of every share together: sends, bad checksums, and ICMP
    errors quoting the tunnel (a flow and a packet are one share's: counts add up)."""
    counted = sends.groupby(PAIR, sort=True).agg(
        sent=("sent", "sum"), delivered=("delivered", "sum"),
        undecapsulated=("undecapsulated", "sum"), first_ns=("first_ns", "min"),
        last_ns=("last_ns", "max"), flows=("flows", "sum"),
        lost_flows=("lost_flows", "sum"))
    checksums = bad.groupby(PAIR).agg(bad_checksums=("bad_checksums", "sum"),
                                      bad_first=("bad_first", "min"),
                                      bad_last=("bad_last", "max"))
    pairs = counted.join(checksums, how="outer").reset_index()
    if len(icmp):
        icmp = icmp.groupby(["src_underlay", "dst_underlay", "tunnel_port"],
                            sort=True)["icmp_unreachable"].sum().reset_index()
        known = pairs[["src_underlay", "dst_underlay", "tunnel_port"]].drop_duplicates()
        icmp = icmp.merge(known, on=["src_underlay", "dst_underlay", "tunnel_port"])
        pairs = pairs.merge(icmp, on=["src_underlay", "dst_underlay", "tunnel_port"],
                            how="left")
    else:
        pairs["icmp_unreachable"] = 0
    return pairs


def _finish(pairs: pd.DataFrame, owners: dict[str, str], cited: pd.DataFrame
            ) -> pd.DataFrame:
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
        "reason": _reasons(verdict, src_node, dst_node, pairs, count, lost),
        "evidence_packet_ids": _evidence(pairs, cited),
    }
    return build_frame(TUNNEL_PAIRS, data)


def _cited(sends: pd.DataFrame, bad: pd.DataFrame) -> pd.DataFrame:
    """Per tunnel, the earliest undelivered and bad-checksum packets (EVIDENCE_LIMIT at
    most): enough for :func:`_evidence` to pick the incident's earliest from every share's."""
    cited = pd.concat([sends.loc[sends["undelivered"], [*PAIR, "t", "packet_id"]],
                       bad[[*PAIR, "t", "packet_id"]]], ignore_index=True)
    cited = cited.sort_values(["t", "packet_id"], kind="stable") \
        .drop_duplicates([*PAIR, "packet_id"])
    return cited.groupby(PAIR, sort=False).head(EVIDENCE_LIMIT)


def _evidence(pairs: pd.DataFrame, cited: pd.DataFrame) -> np.ndarray:
    """Per tunnel, the earliest packets it cites (undelivered or with a bad checksum: at
    most EVIDENCE_LIMIT in all), from every share's."""
    cited = cited.sort_values(["t", "packet_id"], kind="stable") \
        .drop_duplicates([*PAIR, "packet_id"])
    lists = cited.groupby(PAIR)["packet_id"].agg(lambda ids: [int(i) for i in
                                                               ids[:EVIDENCE_LIMIT]])
    index = pd.MultiIndex.from_frame(pairs[PAIR])
    out = np.empty(len(pairs), dtype=object)  # a 1-d array of lists, never a 2-d one
    for i, ids in enumerate(lists.reindex(index)):
        out[i] = ids if isinstance(ids, list) else []
    return out


def _reasons(verdict: np.ndarray, src_node: list, dst_node: list, pairs: pd.DataFrame,
             count: dict[str, np.ndarray], lost: np.ndarray) -> list[str]:
    """One sentence per tunnel pair from its verdict and counts (plain values, not a row
    object per pair: there can be thousands of pairs)."""
    columns = (pairs["src_underlay"].tolist(), pairs["dst_underlay"].tolist(),
               pairs["tunnel"].tolist(), pairs["tunnel_port"].to_numpy(np.int64).tolist(),
               pairs["vni"].to_numpy(np.int64).tolist())
    figures = (count["sent"].tolist(), count["undecapsulated"].tolist(),
               count["icmp_unreachable"].tolist(), count["bad_checksums"].tolist(),
               lost.tolist())
    return [_reason(v, s, d, *row) for v, s, d, *row in
            zip(verdict.tolist(), src_node, dst_node, *columns, *figures, strict=True)]


def _reason(verdict: str, src: str | None, dst: str | None, src_underlay: str,
            dst_underlay: str, tunnel: str, port: int, vni: int, sent: int, undecap: int,
            unreachable: int, bad_checksums: int, lost: int) -> str:
    route = (f"{src or src_underlay} ({src_underlay}) -> {dst or dst_underlay} "
             f"({dst_underlay}) over {tunnel}" + (f" port {port}" if port >= 0 else "")
             + (f" VNI {vni}" if vni >= 0 else ""))
    parts = [f"{route}: {sent} packets sent, {lost} never reached {dst or 'the receiver'}'s "
             f"capture"]
    if undecap:
        parts.append(f"{undecap} reached its NIC but were never decapsulated")
    if unreachable:
        parts.append(f"{unreachable} ICMP unreachable errors came back for the tunnel port")
    if bad_checksums:
        parts.append(f"{bad_checksums} packets arrived with a bad outer UDP checksum")
    return f"{verdict}: " + "; ".join(parts)
