"""Connection attempts that were never answered or were refused, and whether policy denied them.

An attempt is a flow whose originator got no answer: a TCP SYN never answered (conn_state
S0, RSTOS0, SH, the responder sending nothing at all) that had time to fail (the SYN was retransmitted, an ICMP error came back,
or the capture went on :data:`ANSWER_WINDOW_S` after it), a SYN answered by a reset (REJ),
or UDP never answered that had time to fail as well (re-sent after a pause, an ICMP error,
or the window). Flows already running when the capture started have no SYN (mid_flow) and
are never attempts. Of a Service-DNAT'd connection seen on both sides, the backend side is
kept (it names the pod that was picked) and the Service side's sightings join its path.

The NetworkPolicy verdict comes from the one evaluator, ``explain_connection`` (a Service
address is evaluated against its backends, Multus and hostNetwork are said so), asked once
per distinct (source address, source pod, destination address, destination pod, port,
protocol, snapshot): a few hundred questions, not one per flow. Rules decide what is a
finding: a denied attempt is a policy drop; an attempt policy allows is an unanswered
connection, and one-way-by-design UDP (``reply_expected`` false: a one-way port, or a group
destination, multicast or broadcast by its address or its frames' link address) is neither
unless denied.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pcapkit.analyses import register_analysis
from pcapkit.analyses.paths import group_macs
from pcapkit.cluster.identity.identity import POD_CIDR
from pcapkit.cluster.policy.explain import explain_connection, policy_engine
from pcapkit.cluster.policy.verdict import NO_POLICIES
from pcapkit.column_arrays import (
    codes_of,
    int_isin,
    labels_at,
    object_frame,
    packet_times_ns,
    per_row,
    times_ns,
)
from pcapkit.errors import PcapkitError
from pcapkit.flows.path import interface_labels
from pcapkit.schema.attempts import CONNECTION_ATTEMPTS
from pcapkit.schema.convert import build_frame, empty_frame

if TYPE_CHECKING:
    from pcapkit.capture import Capture
    from pcapkit.cluster import Cluster

ANSWER_WINDOW_S = 3.0
"""Seconds the capture must go on after an attempt's last packet for silence to count as no
answer (Linux re-sends a SYN after 1 s, resolvers and most UDP clients retry within 1-2 s)."""
RETRY_GAP_S = 0.5
"""A UDP datagram re-sent at least this long after the first is a retry after a timeout, not
a burst (glibc sends A and AAAA together)."""

#: UDP ports whose protocol answers a request: silence there means something was lost
REQUEST_RESPONSE_UDP = (53, 67, 69, 88, 123, 137, 161, 389, 443, 500, 1194, 1812, 1813, 3478,
                        4500, 11211, 51820)
#: UDP ports of one-way-by-design protocols: syslog, SNMP traps, NetFlow/IPFIX/sFlow, statsd,
#: GELF, Jaeger agent, collectd, and undecoded VXLAN/Geneve
ONE_WAY_UDP = (162, 514, 2055, 4739, 4789, 6081, 6343, 6831, 6832, 8125, 8472, 9995, 12201,
               25826)

_TCP_UNANSWERED = ("S0", "RSTOS0", "SH")
_PROTOCOLS = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP"}
_GROUP_KEY = ("orig_h", "orig_pod", "resp_h", "resp_pod", "resp_p", "proto", "epoch")
_VERDICT_COLUMNS = ("verdict", "denied_by", "policies", "reason", "near_misses",
                    "policy_notes")


def _attempts(capture: Capture) -> tuple[np.ndarray, np.ndarray, pd.DataFrame] | None:
    """The flows rows that are attempts (one per connection), what happened to each, and
    the owners table (every kept or dropped flow_id -> its kept row); None: no attempt.
    Worked out once per Capture (its prepare and the table both ask)."""
    return capture.shared("connection_attempts.attempts", _find_attempts)


def _find_attempts(capture: Capture) -> tuple[np.ndarray, np.ndarray, pd.DataFrame] | None:
    flows = capture.flows
    if not len(flows):
        return None
    rows, attempt = _attempt_rows(flows, capture.context.end_ns)
    if not len(rows):
        return None
    return _one_row_per_connection(flows, rows, attempt)


def _wanted(capture: Capture) -> pd.DataFrame:
    """prepare: the flows whose originator's packets the path columns follow (every flow
    of an attempt, both sides of a Service DNAT) and that originator's address."""
    found = _attempts(capture)
    if found is None:
        return pd.DataFrame({"flow_id": np.zeros(0, np.int64), "origin": np.zeros(0, object)})
    rows, _, owners = found
    origin = labels_at(capture.flows["orig_h"], rows)
    return object_frame({"flow_id": owners["flow_id"].to_numpy(np.int64),
                         "origin": origin[owners["row"].to_numpy(np.int64)]})


def _places(tables: Any, wanted: pd.DataFrame) -> pd.DataFrame:
    """facts: every sighting (place, node, time) of the originator's packets of the
    ``wanted`` flows that are in ``tables``."""
    distinct = tables.distinct
    flow_of = distinct["flow_id"].to_numpy(dtype=np.int64, na_value=-1)
    ids = wanted["flow_id"].to_numpy(np.int64)
    mine = int_isin(flow_of, ids)
    origin = pd.Series(wanted["origin"].to_numpy(dtype=object), index=ids)
    sent = distinct["src"][mine].astype(str).to_numpy() ==         origin.loc[flow_of[mine]].to_numpy(dtype=object)
    packet_flow = pd.Series(flow_of[mine][sent],
                            index=distinct["packet_id"].to_numpy(dtype=np.int64)[mine][sent])
    sightings = tables.sightings
    seen = sightings[int_isin(sightings["packet_id"].to_numpy(dtype=np.int64, na_value=-1),
                              packet_flow.index.to_numpy(dtype=np.int64))]
    codes, labels = interface_labels(seen)
    packet = seen["packet_id"].to_numpy(dtype=np.int64)
    return pd.DataFrame({
        "flow_id": packet_flow.loc[packet].to_numpy(dtype=np.int64), "packet_id": packet,
        "place": labels[codes].astype(object) if len(seen) else np.zeros(0, object),
        "node": seen["node"].astype(object).to_numpy(),
        "t": packet_times_ns(seen) if len(seen) else np.zeros(0, np.int64),
        "to_group": int_isin(packet, _to_group_mac(tables.packets))})


def _to_group_mac(packets: pd.DataFrame) -> np.ndarray:
    """The packet ids of the sightings framed to a broadcast or multicast MAC (a directed
    broadcast such as NetBIOS's to 10.1.2.255 shows only there)."""
    if "eth_dst" not in packets or not len(packets):
        return np.zeros(0, np.int64)
    codes, labels = codes_of(packets["eth_dst"])
    group = per_row(codes, group_macs(labels), False) if len(labels) else \
        np.zeros(len(packets), bool)
    return np.unique(packets["packet_id"].to_numpy(dtype=np.int64, na_value=-1)[group])


@register_analysis("connection_attempts", facts=_places, prepare=_wanted)
def connection_attempts(capture: Capture) -> pd.DataFrame:
    """The connection_attempts table of ``capture`` (see the module docstring)."""
    found = _attempts(capture)
    if found is None:
        return empty_frame(CONNECTION_ATTEMPTS)
    rows, attempt, owners = found
    picked = capture.flows.iloc[rows].reset_index(drop=True)
    data: dict[str, Any] = {c.name: picked[c.name] for c in CONNECTION_ATTEMPTS.columns
                            if c.name in picked.columns}
    data["attempt"] = attempt
    places = pd.concat(capture.facts("connection_attempts"), ignore_index=True)
    data["reply_expected"] = _reply_expected(picked, _to_group(picked, owners, places))
    data |= _verdicts(picked, capture.cluster)
    data |= _where_seen(capture, picked, owners, places)
    return build_frame(CONNECTION_ATTEMPTS, data)


def _attempt_rows(flows: pd.DataFrame, end_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the flows that are attempts, and what happened to each."""
    proto = flows["proto"].astype(object).to_numpy()
    state = flows["conn_state"].astype(object).to_numpy()
    mid = flows["mid_flow"].to_numpy(dtype=bool, na_value=False)
    icmp = flows["icmp_errors"].to_numpy(dtype=np.int64, na_value=0) > 0
    prohibited, unreachable = _icmp_refusals(flows, icmp)
    last = times_ns(flows["last_ts"])
    waited = (end_ns - last) >= int(ANSWER_WINDOW_S * 1e9)
    tcp = (proto == "tcp") & ~mid
    # a responder that sent anything answered (a bare ACK to the SYN: a stale tuple, the
    # snat_conflicts analysis's; an RSTOS0 reset by the client after it)
    answered = flows["resp_pkts"].to_numpy(dtype=np.int64, na_value=0) > 0
    syn_unanswered = tcp & ~answered & np.isin(state, _TCP_UNANSWERED) & (
        (flows["syn_retrans"].to_numpy(dtype=np.int64, na_value=0) > 0) | icmp | waited)
    reset = tcp & (state == "REJ")
    resent = (flows["orig_pkts"].to_numpy(dtype=np.int64, na_value=0) >= 2) & (
        flows["duration"].to_numpy(dtype=np.float64, na_value=0.0) >= RETRY_GAP_S)
    udp_unanswered = (proto == "udp") & (state == "S0") & (resent | icmp | waited)
    silent = syn_unanswered | udp_unanswered
    kinds = np.select([silent & prohibited, silent & unreachable, reset, syn_unanswered,
                       udp_unanswered],
                      ["icmp_prohibited", "icmp_unreachable", "tcp_reset", "syn_unanswered",
                       "udp_unanswered"], default="")
    rows = np.flatnonzero(kinds != "")
    return rows, kinds[rows]


def _icmp_refusals(flows: pd.DataFrame, icmp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per flow: an administratively-prohibited error came back (ICMP 3/9, 3/10, 3/13;
    ICMPv6 1/1), and any destination-unreachable did (ICMP 3/*, ICMPv6 1/*); the text is
    read only on the flows that got ICMP errors."""
    prohibited = np.zeros(len(flows), dtype=bool)
    unreachable = np.zeros(len(flows), dtype=bool)
    rows = np.flatnonzero(icmp)
    if not len(rows):
        return prohibited, unreachable
    codes, labels = codes_of(flows["orig_h"].iloc[rows])
    v6 = np.append(np.char.find(labels.astype(str), ":") >= 0, False)[codes]
    types = "," + flows["icmp_error_types"].iloc[rows].fillna("").astype(str) + ","
    prohibited[rows] = np.where(v6, types.str.contains(",1/1,", regex=False),
                                types.str.contains(r",3/(?:9|10|13),", regex=True))
    unreachable[rows] = np.where(v6, types.str.contains(",1/", regex=False),
                                 types.str.contains(",3/", regex=False))
    return prohibited, unreachable


def _one_row_per_connection(flows: pd.DataFrame, rows: np.ndarray, attempt: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Drop the Service side of a DNAT'd attempt whose backend side is an attempt too; the
    owners table maps every kept or dropped flow_id to the kept row it belongs to."""
    flow_ids = flows["flow_id"].to_numpy(dtype=np.int64)[rows]
    service_side = flows["nat_side"].eq("service").to_numpy(dtype=bool, na_value=False)[rows]
    peer = flows["nat_peer_flow_id"].to_numpy(dtype=np.int64, na_value=-1)[rows]
    merged = service_side & np.isin(peer, flow_ids)
    kept = ~merged
    position = pd.Series(np.arange(kept.sum()), index=flow_ids[kept])
    owners = pd.DataFrame({
        "flow_id": np.concatenate([flow_ids[kept], flow_ids[merged]]),
        "row": np.concatenate([np.arange(kept.sum()),
                               position.loc[peer[merged]].to_numpy(dtype=np.int64)])})
    return rows[kept], attempt[kept], owners


def _to_group(picked: pd.DataFrame, owners: pd.DataFrame, places: pd.DataFrame) -> np.ndarray:
    """Per attempt: sent to a group (multicast or broadcast: the address, or any sighting's
    link destination), which no one host need answer."""
    codes, labels = codes_of(picked["resp_h"].astype(object))
    group = per_row(codes, np.array([_group_address(str(a)) for a in labels], dtype=bool),
                    False) if len(labels) else np.zeros(len(picked), dtype=bool)
    if len(places):
        hit = places.loc[places["to_group"].to_numpy(dtype=bool), "flow_id"].to_numpy(np.int64)
        rows = owners.loc[int_isin(owners["flow_id"].to_numpy(np.int64), hit), "row"]
        group[rows.to_numpy(np.int64)] = True
    return group


def _group_address(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_multicast or address == "255.255.255.255"
    except ValueError:
        return False


def _reply_expected(picked: pd.DataFrame, to_group: np.ndarray) -> pd.array:
    """Whether silence means loss: TCP always, UDP to a request/response port (not to a
    group), false for one-way-by-design ports and groups, unknown for other UDP ports."""
    port = picked["resp_p"].to_numpy(dtype=np.int64, na_value=-1)
    udp = (picked["proto"].astype(object) == "udp").to_numpy()
    known = np.isin(port, REQUEST_RESPONSE_UDP) | np.isin(port, ONE_WAY_UDP) | to_group
    values = np.where(udp, np.isin(port, REQUEST_RESPONSE_UDP) & ~to_group, True)
    return pd.arrays.BooleanArray(values, udp & ~known)


def _verdicts(picked: pd.DataFrame, cluster: Cluster | None) -> dict[str, np.ndarray]:
    """The verdict columns, asking the policy engine once per distinct group of ends."""
    n = len(picked)
    out = {name: np.full(n, None, dtype=object) for name in _VERDICT_COLUMNS}
    if cluster is None:
        out["verdict"][:] = "no_snapshot"
        out["reason"][:] = "no cluster snapshot: no policy verdict"
        return out
    when = times_ns(picked["ts"])
    epochs = np.searchsorted(np.array([s.time for s in cluster.snapshots], dtype=np.int64),
                             when, side="right")
    key = pd.DataFrame({name: picked[name].astype(object) for name in _GROUP_KEY[:-1]})
    key["epoch"] = epochs
    groups = key.groupby(list(_GROUP_KEY), dropna=False, sort=False).ngroup().to_numpy()
    first = pd.Series(np.arange(n)).groupby(groups).first().to_numpy()
    engines: dict[int, Any] = {}
    kinds = {end: picked[f"{end}_kind"].astype(object).to_numpy() for end in ("orig", "resp")}
    answers = []
    for row in first:  # one question per distinct group of ends, port and protocol
        epoch = int(epochs[row])
        if epoch not in engines:
            engines[epoch] = policy_engine(cluster, int(when[row]))
        answers.append(_ask(cluster, engines[epoch], picked.iloc[row], int(when[row]),
                            kinds["orig"][row], kinds["resp"][row]))
    for name, values in zip(_VERDICT_COLUMNS, zip(*answers, strict=True), strict=True):
        out[name] = np.asarray(values, dtype=object)[groups]
    return out


def _ask(cluster: Cluster, engine: Any, row: pd.Series, when: int, orig_kind: Any,
         resp_kind: Any) -> tuple[Any, ...]:
    """(verdict, denied_by, policies, reason, near_misses, policy_notes) for one group."""
    unknown = [f"{role} {row[f'{end}_h']} is in a pod range but no pod in the snapshot held "
               "it: its labels, and so the policies selecting it, are unknown"
               for end, role, kind in (("orig", "source", orig_kind),
                                       ("resp", "destination", resp_kind)) if kind == POD_CIDR]
    if unknown:
        return ("unknown_endpoint", None, None, "; ".join(unknown), None, None)
    try:
        explanation = explain_connection(cluster, str(row["orig_h"]), str(row["resp_h"]),
                                         int(row["resp_p"]), _PROTOCOLS.get(
                                             str(row["proto"]), "TCP"), when, engine)
    except PcapkitError as exc:
        return ("unknown_endpoint", None, None, str(exc), None, None)
    verdict = explanation.verdict
    notes = " | ".join(verdict.notes) or None
    directions = (verdict.egress, verdict.ingress)
    if not any(d.applicable for d in directions):  # true whatever the policies are
        return ("not_applicable", None, None, "; ".join(d.reason for d in directions), None,
                notes)
    if verdict.no_policies:
        return ("no_policies", None, None, NO_POLICIES, None, notes)
    if verdict.allowed:
        return ("allowed", None, None, "allowed: " + "; ".join(
            f"{d.heading}: {d.reason}" for d in directions), None, notes)
    failing = [d for d in directions if not d.allowed]
    policies = ",".join(dict.fromkeys(p for d in failing for p in d.policies))
    near = "; ".join(m for d in failing for m in d.near_misses) or None
    return ("denied", ",".join(d.direction for d in failing), policies,
            "; also ".join(f"{d.heading} {d.reason}" for d in failing), near, notes)


def _where_seen(capture: Capture, picked: pd.DataFrame, owners: pd.DataFrame,
                places: pd.DataFrame) -> dict[str, Any]:
    """path, last_seen_at and reached_resp_node from the sightings of the originator's
    packets (of both sides of a Service DNAT: ``places``, the facts of every share)."""
    n = len(picked)
    path = np.full(n, None, dtype=object)
    last = np.full(n, None, dtype=object)
    reached = pd.array([None] * n, dtype="boolean")
    if not len(places):
        return {"path": path, "last_seen_at": last, "reached_resp_node": reached}
    row_of = pd.Series(owners["row"].to_numpy(), index=owners["flow_id"].to_numpy())
    places = pd.DataFrame({"row": row_of.loc[places["flow_id"].to_numpy()].to_numpy(),
                           "place": places["place"].to_numpy(dtype=object),
                           "node": places["node"].to_numpy(dtype=object),
                           "t": places["t"].to_numpy(np.int64),
                           "packet_id": places["packet_id"].to_numpy(np.int64)})
    # the order of one pass's sightings (by packet) whatever share each came from
    places = places.sort_values(["row", "t", "packet_id"], kind="stable")
    ordered = places.drop_duplicates(["row", "place"])
    joined = ordered.groupby("row")["place"].agg(" > ".join)
    path[joined.index.to_numpy()] = joined.to_numpy()
    latest = places.groupby("row").tail(1)
    last[latest["row"].to_numpy()] = latest["place"].to_numpy()
    captured = set(capture.points["node"].dropna().astype(str))
    resp_node = picked["resp_node"].astype(object).to_numpy()
    judged = pd.Series(resp_node, dtype=object).isin(captured).to_numpy()
    hit = places.loc[places["node"].to_numpy() == resp_node[places["row"].to_numpy()], "row"]
    values = np.zeros(n, dtype=bool)
    values[hit.unique()] = True
    reached = pd.arrays.BooleanArray(values, ~judged)
    return {"path": path, "last_seen_at": last, "reached_resp_node": reached}

