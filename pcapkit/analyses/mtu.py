"""MTU events: TCP segments a path did not carry, and the ICMP errors that say so.

Per flow and sending end, from the distinct packets (one row per packet, ``flow_id``):

* sequence numbers relative to the end's lowest (signed 32-bit differences, so a wrap or
  a capture that starts mid-flow does not break them); a segment is acknowledged when the
  peer's highest ACK covers its end;
* the stuck segments: never acknowledged, the largest size of them retransmitted, larger
  than every acknowledged segment (so a TSO/GSO "packet" of 64 KB that the peer
  acknowledged, or a dead peer that stopped acknowledging everything, is not one);
* ICMP fragmentation-needed / packet-too-big errors: those quoting the flow (the flow
  stage gives them the quoted flow's ``flow_id``) and those quoting a tunnel packet's outer
  header, linked through the outer 4-tuple (the VXLAN/Geneve source port is the inner
  flow's hash) to the flow inside;
* the overlay's overhead, measured on the captured frames (wire length minus link header
  minus inner IP length).

Everything is grouped once over whole arrays; no loop per flow or packet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pcapkit.analyses import register_analysis
from pcapkit.analyses.context import too_big
from pcapkit.column_arrays import categorical_at, codes_of, int_isin, per_row, times_ns
from pcapkit.schema.convert import build_frame, empty_frame
from pcapkit.schema.mtu import MTU_EVENTS

if TYPE_CHECKING:
    from pcapkit.capture import Capture

#: link-layer header bytes per LINKTYPE (Ethernet's grows by 4 per VLAN tag)
LINK_HEADER = {1: 14, 113: 16, 276: 20, 101: 0, 228: 0, 229: 0, 12: 0, 14: 0}
#: overlay overhead when no frame can measure it (IPv4 underlay)
DEFAULT_OVERHEAD = {"vxlan": 50, "geneve": 50, "ipip": 20, "sit": 20, "gre": 24}
TCP_ACK = 0x10
_KEY = ["flow_id", "sender"]


def _candidate_facts(tables: Any, _: None) -> dict[str, pd.DataFrame]:
    """facts: the share's distinct packets worth a look (:func:`_candidates`) with their
    sending end, and per (flow, sending end) of them the overlay's overhead."""
    distinct, flows = tables.distinct, tables.flows
    if not len(distinct) or not len(flows):
        return {"packets": _with_sender(distinct.iloc[:0], flows),
                "overhead": _overhead(tables.packets.iloc[:0], _with_sender(
                    distinct.iloc[:0], flows))}
    packets = _with_sender(distinct[_candidates(distinct, flows,
                                                tables.context.too_big_ports)], flows)
    return {"packets": packets, "overhead": _overhead(tables.packets, packets)}


@register_analysis("mtu_events", facts=_candidate_facts)
def mtu_events(capture: Capture) -> pd.DataFrame:
    """One row per (flow, sending end) with stuck segments or an ICMP too-big error."""
    flows = capture.flows
    facts = capture.facts("mtu_events")
    packets = pd.concat([f["packets"] for f in facts], ignore_index=True)
    if not len(packets) or not len(flows):
        return empty_frame(MTU_EVENTS)
    # one pass's order (by packet) whichever share a packet came from
    packets = packets.take(np.argsort(packets["packet_id"].to_numpy(np.int64), kind="stable"))
    packets = packets.reset_index(drop=True)
    ends, segments = _segments(packets)
    events = ends.merge(_icmp_too_big(packets), on=_KEY, how="outer")
    if not len(events):
        return empty_frame(MTU_EVENTS)
    overhead = pd.concat([f["overhead"] for f in facts], ignore_index=True)
    wanted = events[_KEY].drop_duplicates()
    events = events.merge(overhead.merge(wanted, on=_KEY), on=_KEY, how="left")
    return _finish(events, segments, flows)


def _candidates(distinct: pd.DataFrame, flows: pd.DataFrame,
                too_big_ports: np.ndarray) -> np.ndarray:
    """The distinct packets worth a look: those of flows with retransmissions or ICMP
    errors (a stuck segment is retransmitted), the too-big errors, and the packets of
    tunnel flows whose outer source port such an error quotes (``too_big_ports``, of the
    whole incident). Healthy traffic is cheap."""
    def ints(name: str, rows: np.ndarray | None = None) -> np.ndarray:
        column = distinct[name].array if rows is None else distinct[name].array[rows]
        return column.to_numpy(dtype=np.int64, na_value=-1)

    suspects = flows["flow_id"].to_numpy(dtype=np.int64)[
        (flows["orig_retrans"].to_numpy(dtype=np.int64, na_value=0) > 0)
        | (flows["resp_retrans"].to_numpy(dtype=np.int64, na_value=0) > 0)
        | (flows["icmp_errors"].to_numpy(dtype=np.int64, na_value=0) > 0)]
    out = int_isin(ints("flow_id"), suspects)
    icmp = np.flatnonzero(distinct["icmp_type"].notna().to_numpy())  # the few ICMP packets
    out[icmp[too_big(ints("ip_version", icmp), ints("proto", icmp), ints("icmp_type", icmp),
                     ints("icmp_code", icmp))]] = True
    if len(too_big_ports):
        sport = ints("outer_sport")
        out |= int_isin(sport, too_big_ports) & (sport >= 0)
    return out


def _with_sender(distinct: pd.DataFrame, flows: pd.DataFrame) -> pd.DataFrame:
    """The distinct packets that belong to a flow, with ``sender`` 0 (orig) or 1 (resp)."""
    flow_ids = distinct["flow_id"].to_numpy(dtype=np.float64, na_value=np.nan)
    keep = ~np.isnan(flow_ids)
    frame = distinct[keep]
    ids = flow_ids[keep].astype(np.int64)
    position = pd.Index(flows["flow_id"].to_numpy(dtype=np.int64)).get_indexer(ids)
    orig_h = flows["orig_h"].astype(object).to_numpy()[position]
    orig_p = flows["orig_p"].to_numpy(dtype=np.int64, na_value=-1)[position]
    src = frame["src"].astype(object).to_numpy()
    sport = frame["sport"].to_numpy(dtype=np.int64, na_value=-1)
    from_orig = (src == orig_h) & ((sport == orig_p) | (sport < 0) | (orig_p < 0))
    text = {c: frame[c].astype(object).to_numpy()
            for c in ("icmp_orig_src", "icmp_orig_dst", "outer_src", "outer_dst")}
    ints = {c: frame[c].to_numpy(dtype=np.int64, na_value=-1)
            for c in ("icmp_orig_proto", "icmp_orig_sport", "icmp_orig_dport", "outer_sport",
                      "outer_dport")}
    return pd.DataFrame({
        "flow_id": ids, "sender": np.where(from_orig, 0, 1), "src": src,
        "packet_id": frame["packet_id"].to_numpy(dtype=np.int64),
        "t": times_ns(frame["ts_corrected"]),
        "proto": frame["proto"].to_numpy(dtype=np.int64, na_value=-1),
        "ip_version": frame["ip_version"].to_numpy(dtype=np.int64, na_value=-1),
        "ip_len": frame["ip_len"].to_numpy(dtype=np.int64, na_value=-1),
        "df": frame["dont_fragment"].to_numpy(dtype=bool, na_value=False)
        | (frame["ip_version"].to_numpy(dtype=np.int64, na_value=-1) == 6),
        "flags": frame["tcp_flags"].to_numpy(dtype=np.int64, na_value=0),
        "seq": frame["tcp_seq"].to_numpy(dtype=np.int64, na_value=-1),
        "ack": frame["tcp_ack"].to_numpy(dtype=np.int64, na_value=-1),
        "payload": frame["payload_len"].to_numpy(dtype=np.int64, na_value=0),
        "icmp_type": frame["icmp_type"].to_numpy(dtype=np.int64, na_value=-1),
        "icmp_code": frame["icmp_code"].to_numpy(dtype=np.int64, na_value=-1),
        "icmp_mtu": frame["icmp_mtu"].to_numpy(dtype=np.float64, na_value=np.nan),
        **text, **ints,
    })


def _signed32(values: np.ndarray) -> np.ndarray:
    return ((values + 2**31) % 2**32) - 2**31


def _segments(packets: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (flow, sender) of TCP: largest DF packet, largest acknowledged segment, and the
    stuck segments (size, sends, retransmissions, first one); and the data segments
    themselves (time, size, acknowledged)."""
    tcp = packets[(packets["proto"] == 6) & (packets["seq"] >= 0)
                  & (packets["icmp_type"] < 0)].copy()
    if not len(tcp):
        return pd.DataFrame(columns=[*_KEY, "max_len"]), \
            pd.DataFrame(columns=[*_KEY, "t", "ip_len", "acked"])
    # sequence space relative to each end's lowest sequence number
    first = tcp.groupby(_KEY)["seq"].transform("first").to_numpy()
    offset = _signed32(tcp["seq"].to_numpy() - first)
    tcp["rel"] = offset - pd.Series(offset, index=tcp.index).groupby(
        [tcp["flow_id"], tcp["sender"]]).transform("min").to_numpy()
    bases = tcp.assign(base=first + offset - tcp["rel"].to_numpy()).groupby(_KEY)["base"].first()
    # the peer's highest ACK, relative to this end's sequence space
    acks = tcp[(tcp["flags"] & TCP_ACK) > 0]
    peer = pd.DataFrame({"flow_id": acks["flow_id"].to_numpy(),
                         "sender": 1 - acks["sender"].to_numpy(), "ack": acks["ack"].to_numpy()})
    peer = peer.merge(bases.rename("base").reset_index(), on=_KEY)
    peer["rel_ack"] = _signed32(peer["ack"].to_numpy() - peer["base"].to_numpy())
    highest = peer.groupby(_KEY)["rel_ack"].max().rename("peer_ack")

    data = tcp[tcp["payload"] > 0].merge(highest.reset_index(), on=_KEY, how="left")
    data["acked"] = (data["rel"] + data["payload"]) <= data["peer_ack"].fillna(-1)
    out = pd.DataFrame({
        "max_len": data.assign(l=data["ip_len"].where(data["df"], -1)).groupby(_KEY)["l"].max(),
        "max_acked_len": data["ip_len"].where(data["acked"]).groupby(
            [data["flow_id"], data["sender"]]).max(),
    })
    stuck = data[~data["acked"]]
    stuck_len = stuck.groupby(_KEY)["ip_len"].max().rename("stuck_len")
    big = stuck.merge(stuck_len.reset_index(), on=_KEY)
    big = big[big["ip_len"] == big["stuck_len"]].sort_values("t", kind="stable")
    by_big = big.groupby(_KEY)
    firsts = by_big.first()
    out = out.join(pd.DataFrame({
        "stuck_len": stuck_len,
        "stuck_sends": by_big.size(),
        "stuck_retrans": by_big.size() - big.drop_duplicates([*_KEY, "rel"]).groupby(_KEY).size(),
        "stuck_t": firsts["t"], "stuck_packet_id": firsts["packet_id"],
        "last_stuck_packet_id": by_big["packet_id"].last(),
    }), how="left")
    return out.reset_index(), data[[*_KEY, "t", "ip_len", "acked"]]


def _icmp_too_big(packets: pd.DataFrame) -> pd.DataFrame:
    """Per (flow, sender): the ICMP too-big errors about its packets, inner and underlay."""
    errors = packets[too_big(*(packets[c].to_numpy() for c in (
        "ip_version", "proto", "icmp_type", "icmp_code")))].rename(columns={
        "icmp_mtu": "mtu", "src": "from", "icmp_orig_src": "q_src", "icmp_orig_dst": "q_dst",
        "icmp_orig_proto": "q_proto", "icmp_orig_sport": "q_sport",
        "icmp_orig_dport": "q_dport"})
    plain = packets[packets["icmp_type"] < 0]
    return _inner_errors(errors, plain).merge(_underlay_errors(errors, plain), on=_KEY,
                                              how="outer")


def _inner_errors(errors: pd.DataFrame, plain: pd.DataFrame) -> pd.DataFrame:
    """Errors quoting a flow's own packets (the flow stage gives an error the quoted flow's
    flow_id): the end whose address the error quotes as source is the sender."""
    senders = plain.drop_duplicates(_KEY)[[*_KEY, "src"]].rename(columns={"src": "q_src"})
    matched = errors.drop(columns="sender").merge(senders, on=["flow_id", "q_src"])
    matched = matched.sort_values("t", kind="stable")
    by_end = matched.groupby(_KEY)
    return pd.DataFrame({
        "icmp_mtu": by_end["mtu"].min(), "icmp_from": by_end["from"].first(),
        "icmp_t": by_end["t"].first(), "icmp_packet_id": by_end["packet_id"].first(),
    }).reset_index()


def _underlay_errors(errors: pd.DataFrame, plain: pd.DataFrame) -> pd.DataFrame:
    """Errors quoting a tunnel packet's outer UDP header, linked to the inner flow whose
    packets used that outer 4-tuple."""
    udp = errors[errors["q_proto"] == 17]
    carriers = plain[plain["outer_sport"] >= 0][
        ["outer_src", "outer_dst", "outer_sport", "outer_dport", *_KEY]].drop_duplicates()
    carriers.columns = ["q_src", "q_dst", "q_sport", "q_dport", *_KEY]
    matched = udp.drop(columns=_KEY).merge(
        carriers, on=["q_src", "q_dst", "q_sport", "q_dport"]).sort_values("t", kind="stable")
    by_end = matched.groupby(_KEY)
    return pd.DataFrame({
        "underlay_mtu": by_end["mtu"].min(), "underlay_t": by_end["t"].first(),
        "underlay_packet_id": by_end["packet_id"].first(),
    }).reset_index()


def _overhead(sightings: pd.DataFrame, packets: pd.DataFrame) -> pd.DataFrame:
    """Per (flow, sender) of ``packets``: the outermost encapsulation of its packets and the
    bytes it adds, the median over their sightings whose link header is known."""
    encap_codes, encap_names = codes_of(sightings["encap"])
    bare = np.append(encap_names == "none", True)[encap_codes]   # null counts as bare
    ids = sightings["packet_id"].to_numpy(dtype=np.int64, na_value=-1)
    rows = np.flatnonzero(~bare & int_isin(ids, packets["packet_id"].to_numpy(dtype=np.int64)))
    if not len(rows):
        return pd.DataFrame(columns=[*_KEY, "encap", "encap_overhead"])
    link = sightings["linktype"].to_numpy(dtype=np.int64, na_value=-1)[rows]
    header = pd.Series(link).map(LINK_HEADER).to_numpy(dtype=np.float64)
    header += 4 * sightings["vlan"].notna().to_numpy()[rows] * (link == 1)
    measured = (sightings["wirelen"].to_numpy(dtype=np.float64, na_value=np.nan)[rows] - header
                - sightings["ip_len"].to_numpy(dtype=np.float64, na_value=np.nan)[rows])
    # per distinct label, not per row: the outermost tunnel's default overhead, IPv6 underlay
    outer = np.array([DEFAULT_OVERHEAD.get(n.split("+")[0], np.nan) for n in encap_names],
                     dtype=np.float64)
    src_codes, sources = codes_of(sightings["outer_src"])
    v6 = per_row(src_codes[rows], np.array([":" in a for a in sources], dtype=bool), False)
    fallback = per_row(encap_codes[rows], outer, np.nan) + 20 * v6
    ends = pd.DataFrame({"packet_id": packets["packet_id"], "flow_id": packets["flow_id"],
                         "sender": packets["sender"]})
    seen = pd.DataFrame({
        "packet_id": sightings["packet_id"].to_numpy(dtype=np.int64, na_value=-1)[rows],
        "encap": categorical_at(sightings["encap"], rows),
        "overhead": np.where(measured > 0, measured, fallback)}).merge(ends, on="packet_id")
    by_end = seen.groupby(_KEY)
    return pd.DataFrame({"encap": by_end["encap"].first(),
                         "encap_overhead": by_end["overhead"].median()}).reset_index()


def _finish(events: pd.DataFrame, segments: pd.DataFrame, flows: pd.DataFrame) -> pd.DataFrame:
    """Verdicts and reasons; keep only the ends with one; the registry's table."""
    e = events
    num = {c: e[c].to_numpy(dtype=np.float64) if c in e else np.full(len(e), np.nan)
           for c in ("max_len", "max_acked_len", "stuck_len", "stuck_sends", "stuck_retrans",
                     "stuck_t", "icmp_mtu", "icmp_t", "underlay_mtu", "underlay_t",
                     "encap_overhead")}
    start = np.fmin(num["stuck_t"], np.fmin(num["icmp_t"], num["underlay_t"]))
    later = _smaller_after(e, segments, start, num["stuck_len"], num["icmp_mtu"], num["max_len"])
    smaller_after, smaller_delivered = later
    stuck = (num["stuck_retrans"] >= 1) & (num["stuck_len"] > np.nan_to_num(num["max_acked_len"]))
    size = np.where(np.isnan(num["stuck_len"]), num["max_len"], num["stuck_len"])
    outer_len = size + num["encap_overhead"]
    verdict = np.select(
        [stuck & ~smaller_after,
         ~np.isnan(num["underlay_mtu"]) & (outer_len > num["underlay_mtu"]),
         ~np.isnan(num["icmp_mtu"]) & smaller_after,
         stuck & smaller_delivered,
         ~np.isnan(num["icmp_mtu"]) | ~np.isnan(num["underlay_mtu"])],
        ["blackhole", "overlay_too_big", "pmtud_working", "recovered_without_icmp",
         "too_big_reported"], default="")
    keep = verdict != ""
    e = e[keep].reset_index(drop=True)
    num = {k: v[keep] for k, v in num.items()}
    position = pd.Index(flows["flow_id"].to_numpy(dtype=np.int64)).get_indexer(
        e["flow_id"].to_numpy(dtype=np.int64))
    flow = flows.iloc[position].reset_index(drop=True)
    icmp_id = e["icmp_packet_id"] if "icmp_packet_id" in e else pd.Series(np.nan, index=e.index)
    underlay_id = e.get("underlay_packet_id", pd.Series(np.nan, index=e.index))
    data = {
        "flow_id": e["flow_id"].to_numpy(dtype=np.int64),
        "ts": _int_or(start[keep], -1),
        "sender": np.where(e["sender"].to_numpy() == 0, "orig", "resp"),
        "proto": flow["proto"].astype(object).to_numpy(),
        **{c: flow[c].to_numpy() for c in ("orig_h", "orig_p", "resp_h", "resp_p")},
        "encap": e["encap"].fillna("none").to_numpy(dtype=object) if "encap" in e
        else np.full(len(e), "none", dtype=object),
        "encap_overhead": _int_or(num["encap_overhead"], -1),
        "max_len": _int_or(num["max_len"], -1),
        "max_acked_len": _int_or(num["max_acked_len"], -1),
        "stuck_len": _int_or(num["stuck_len"], -1),
        "stuck_sends": _nullable(num["stuck_sends"]),
        "stuck_retrans": _nullable(num["stuck_retrans"]),
        "smaller_after": smaller_after[keep], "smaller_delivered": smaller_delivered[keep],
        "icmp_mtu": _int_or(num["icmp_mtu"], -1),
        "icmp_from": e["icmp_from"].to_numpy(dtype=object) if "icmp_from" in e
        else np.full(len(e), None, dtype=object),
        "underlay_mtu": _int_or(num["underlay_mtu"], -1),
        "outer_len": _int_or(outer_len[keep], -1),
        "verdict": verdict[keep],
        "stuck_packet_id": _nullable(e["stuck_packet_id"].to_numpy(dtype=np.float64)
                                     if "stuck_packet_id" in e else np.full(len(e), np.nan)),
        "last_stuck_packet_id": _nullable(e["last_stuck_packet_id"].to_numpy(dtype=np.float64)
                                          if "last_stuck_packet_id" in e
                                          else np.full(len(e), np.nan)),
        "icmp_packet_id": _nullable(icmp_id.fillna(underlay_id).to_numpy(dtype=np.float64)),
    }
    data["reason"] = _reasons(data)
    identities = {c: flow[c].to_numpy() for c in MTU_EVENTS.names
                  if c.startswith(("orig_", "resp_")) and c not in data}
    return build_frame(MTU_EVENTS, {**data, **identities})


def _smaller_after(e: pd.DataFrame, segments: pd.DataFrame, start: np.ndarray,
                   stuck_len: np.ndarray, icmp_mtu: np.ndarray, max_len: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Whether each end sent, and got acknowledged, segments smaller than the stuck (or
    reported) size after the first event."""
    size = np.where(np.isnan(stuck_len), np.fmin(max_len, np.where(np.isnan(icmp_mtu), np.inf,
                                                                     icmp_mtu + 1)), stuck_len)
    limits = pd.DataFrame({"flow_id": e["flow_id"].to_numpy(), "sender": e["sender"].to_numpy(),
                           "start": start, "size": size})
    rows = segments.merge(limits, on=_KEY)
    smaller = (rows["t"] > rows["start"]) & (rows["ip_len"] < rows["size"])
    sent = smaller.groupby([rows["flow_id"], rows["sender"]]).any()
    got = (smaller & rows["acked"]).groupby([rows["flow_id"], rows["sender"]]).any()
    index = pd.MultiIndex.from_frame(limits[_KEY])
    return (sent.reindex(index, fill_value=False).to_numpy(dtype=bool),
            got.reindex(index, fill_value=False).to_numpy(dtype=bool))


def _int_or(values: np.ndarray, fill: int) -> np.ndarray:
    return np.where(np.isnan(values), fill, np.nan_to_num(values)).astype(np.int64)


def _nullable(values: np.ndarray) -> pd.arrays.IntegerArray:
    missing = np.isnan(values)
    return pd.arrays.IntegerArray(np.nan_to_num(values).astype(np.int64), missing)


def _reasons(data: dict) -> np.ndarray:
    """One sentence per row from its verdict and numbers."""
    def text(name: str) -> pd.Series:
        values = pd.Series(data[name])
        if pd.api.types.is_numeric_dtype(values.dtype):
            values = values.astype("Int64")
            values = values.where(values >= 0)
        values = values.astype(object)
        return values.where(values.notna(), "?").astype(str)

    sender = pd.Series(np.where(data["sender"] == "orig", data["orig_h"], data["resp_h"]),
                       dtype=object).astype(str)
    acked = pd.Series(np.where(data["max_acked_len"] >= 0, " (largest acknowledged: "
                               + text("max_acked_len") + " bytes)",
                               " (no data segment acknowledged)"), dtype=object)
    stuck = (sender + " sent " + text("stuck_len") + "-byte segments " + text("stuck_sends")
             + " times without an acknowledgement" + acked)
    icmp = pd.Series(np.where(data["icmp_mtu"] >= 0, "; ICMP said MTU " + text("icmp_mtu")
                              + " (from " + text("icmp_from") + ")", ""), dtype=object)
    underlay = pd.Series(np.where(data["underlay_mtu"] >= 0, "; the underlay's ICMP said MTU "
                                  + text("underlay_mtu") + " for " + text("outer_len")
                                  + "-byte " + pd.Series(data["encap"], dtype=object).astype(str)
                                  + " packets (" + text("encap_overhead") + " bytes of headers)",
                                  ""), dtype=object)
    lead = pd.Series(np.select(
        [data["verdict"] == "blackhole", data["verdict"] == "overlay_too_big",
         data["verdict"] == "pmtud_working", data["verdict"] == "recovered_without_icmp"],
        ["blackhole: " + stuck + ", never smaller",
         "overlay headers do not fit: " + sender + " sent " + text("max_len") + "-byte packets",
         "path MTU discovery worked: " + sender + " went below " + text("max_len")
         + " bytes after the error",
         "recovered: " + stuck + ", then smaller segments got through"],
        default="too big: " + sender + " sent " + text("max_len") + "-byte packets"),
        dtype=object)
    return (lead + icmp + underlay).to_numpy(dtype=object)
