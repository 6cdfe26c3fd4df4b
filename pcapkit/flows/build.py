"""Assemble bidirectional flows from distinct packets and their sightings.

Steps, each vectorised over all packets: load the table as arrays (``arrays``), key and
split packets into flows (``keys``), pick originators (``originator``), count per direction
(``counters``), run Zeek's TCP state machine (``tcpstate``) and history (``history``), link
ICMP errors, and describe each direction's path from the sightings (``path``); finally link
the two flows of each Service-DNAT'd connection (``nat``, ``natview``) and name each end's
pod, workload, service and node (:func:`enrich_flows`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pcapkit.cluster import Cluster, check_cluster
from pcapkit.cluster.identity.enrich import end_identities
from pcapkit.column_arrays import nullable
from pcapkit.errors import PcapkitError
from pcapkit.flows import counters, history, keys, nat, natview, originator, path, tcpstate
from pcapkit.flows.arrays import Inputs, load_inputs
from pcapkit.flows.groups import first_where, set_labels
from pcapkit.flows.options import FlowOptions
from pcapkit.schema.convert import conform, to_kind
from pcapkit.schema.flows import FLOWS
from pcapkit.vantage import seen_once

PROTO_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp6", 132: "sctp"}


@dataclass
class _Flows:
    inputs: Inputs
    assignment: keys.Assignment
    roles: originator.Roles


@dataclass
class FlowPart:
    """The flows of some of an incident's packets (one share, or all of them), before the
    steps that read every flow: numbering, Service-DNAT links, identities.

    ``table`` has local ``flow_id`` 0..n-1; ``ends`` and ``addresses`` are the flows' ends
    as address codes into ``addresses``; ``points`` the (``item`` = flow * 2 + direction,
    ``point_id``) pairs of where each direction was seen; ``rows``/``packet_ids``/
    ``packet_flow``: every packet in a flow (position in the distinct table given, its
    packet_id, its local flow); ``first_packet``: the packet_id of each flow's first
    packet, which with ``ts`` orders flows; ``deferred``: positions of the ICMP errors set
    aside (``defer_errors``)."""

    table: pd.DataFrame
    ends: nat.FlowEnds
    addresses: np.ndarray
    points: pd.DataFrame
    rows: np.ndarray
    packet_ids: np.ndarray
    packet_flow: np.ndarray
    first_packet: np.ndarray
    deferred: np.ndarray


def _checked(options: FlowOptions | None) -> FlowOptions:
    if options is None:
        return FlowOptions()
    if not isinstance(options, FlowOptions):
        raise PcapkitError(f"flows: options must be a FlowOptions, not {type(options).__name__}")
    return options


def _assign(distinct: pd.DataFrame, sightings: pd.DataFrame | None,
            options: FlowOptions, defer_errors: bool = False) -> _Flows:
    inputs = load_inputs(distinct, sightings)
    asg = keys.assign(inputs.packets, tcp_timeout=options.tcp_timeout,
                      udp_timeout=options.udp_timeout, icmp_timeout=options.icmp_timeout,
                      defer_errors=defer_errors)
    pk = asg.packets
    roles = originator.decide(asg.flow, asg.n_flows, pk.proto, pk.flags, asg.lo_is_src,
                              pk.sport, pk.dport, pk.itype)
    return _Flows(inputs, asg, roles)


def _packet_flow_ids(index: pd.Index, flows: _Flows) -> pd.Series:
    asg = flows.assignment
    ids = np.full(len(index), -1, dtype=np.int64)
    ids[asg.packets.row] = asg.flow
    ids[asg.errors.row] = asg.error_flow
    return pd.Series(nullable(ids, "Int64"), index=index, name="flow_id")


def flow_part(distinct: pd.DataFrame, sightings: pd.DataFrame | None = None, *,
              options: FlowOptions | None = None, defer_errors: bool = False) -> FlowPart:
    """The flows of ``distinct`` (with their ``sightings``; None: each packet seen once)
    as a :class:`FlowPart`, for :func:`finish_flows`."""
    options = _checked(options)
    flows = _assign(distinct, sightings, options, defer_errors)
    seen = seen_once(distinct).sightings if sightings is None else sightings
    table, ends = _table(flows, seen)
    asg, pk = flows.assignment, flows.assignment.packets
    group = asg.flow * 2 + (~flows.roles.is_orig)
    return FlowPart(
        table=table, ends=ends, addresses=flows.inputs.addresses,
        points=nat.flow_points(seen, pk.pid, group),
        rows=np.concatenate([pk.row, asg.errors.row]),
        packet_ids=np.concatenate([pk.pid, asg.errors.pid]),
        packet_flow=np.concatenate([asg.flow, asg.error_flow]),
        first_packet=pk.pid[flows.roles.first],
        deferred=flows.inputs.packets.row[asg.deferred])


def flow_ids(distinct: pd.DataFrame, sightings: pd.DataFrame | None = None, *,
             cluster: Cluster | None = None, options: FlowOptions | None = None) -> pd.Series:
    """The flow_id of every distinct packet (aligned with ``distinct.index``; <NA> for
    non-IP packets). ICMP errors get the id of the flow they quote. Pass the same
    sightings and options as to build_flows so the ids match (with ``merge_nat`` the
    packets of a backend-side flow get the id of its service-side flow)."""
    options = _checked(options)
    if options.merge_nat:
        return assemble_flows(distinct, sightings, cluster=cluster, options=options)[1]
    return _packet_flow_ids(distinct.index, _assign(distinct, sightings, options))


def build_flows(distinct: pd.DataFrame, sightings: pd.DataFrame | None = None, *,
                cluster: Cluster | None = None, options: FlowOptions | None = None) -> pd.DataFrame:
    """One row per bidirectional flow (the ``flows`` table of pcapkit.schema), from the distinct-packet
    table and the sightings table of the vantage stage (None: each packet seen once).
    ``options`` (``FlowOptions``; None: the defaults) hold the idle timeouts that split a
    key into separate flows.

    The two flows of a connection seen before and after a Service's DNAT are linked (the
    ``nat`` columns): by the Service -> backend table of ``cluster`` when given, else by a
    conservative TCP rule, their first packets at most ``options.nat_window`` apart.
    ``options.merge_nat`` folds each linked pair into one row (docs/flows.md)."""
    return assemble_flows(distinct, sightings, cluster=cluster, options=options)[0]


def assemble_flows(distinct: pd.DataFrame, sightings: pd.DataFrame | None = None, *,
                   cluster: Cluster | None = None, options: FlowOptions | None = None
                   ) -> tuple[pd.DataFrame, pd.Series]:
    """(build_flows(...), flow_ids(...)) computed once."""
    part = flow_part(distinct, sightings, options=options)
    table, local, links = finish_flows([part], cluster=cluster, options=options)
    ids = np.full(len(distinct), -1, dtype=np.int64)
    ids[part.rows] = local[0][part.packet_flow]
    ids = pd.Series(nullable(ids, "Int64"), index=distinct.index, name="flow_id")
    return complete_flows(table, ids, links, cluster=cluster, options=options)


def finish_flows(parts: list[FlowPart], *, cluster: Cluster | None = None,
                 options: FlowOptions | None = None
                 ) -> tuple[pd.DataFrame, list[np.ndarray], nat.Links]:
    """(the flows of every part, for each part the final flow_id of each of its flows,
    the Service-DNAT links): flows numbered by (first packet time, its packet_id) across
    parts, links found among all of them."""
    options = _checked(options)
    cluster = check_cluster(cluster, "flows")
    sizes = [len(part.table) for part in parts]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    ts = np.concatenate([part.ends.start for part in parts]).astype(np.int64)
    first = np.concatenate([part.first_packet for part in parts]).astype(np.int64)
    rank = np.empty(len(ts), dtype=np.int64)
    order = np.lexsort((first, ts))
    rank[order] = np.arange(len(ts))
    if len(parts) == 1:
        table = parts[0].table
    else:
        table = _concat(parts).take(order).reset_index(drop=True)
        table["flow_id"] = np.arange(len(table))
    addresses, ends = _merged_ends(parts, order)
    points = pd.concat([_renumbered(part.points, rank[offsets[i]:offsets[i + 1]])
                        for i, part in enumerate(parts)], ignore_index=True)
    links = nat.link_service_dnat(ends, points, nat.cluster_mapping(cluster, addresses),
                                  int(round(options.nat_window * 1e9)))
    return table, [rank[offsets[i]:offsets[i + 1]] for i in range(len(parts))], links


def complete_flows(table: pd.DataFrame, ids: pd.Series, links: nat.Links, *,
                   cluster: Cluster | None = None, options: FlowOptions | None = None
                   ) -> tuple[pd.DataFrame, pd.Series]:
    """(the flows table, the distinct packets' flow ids) in their final form, from
    finish_flows' table and links: NAT columns, each linked pair folded into one row with
    ``options.merge_nat``, identities named, dtypes as the registry declares."""
    options = _checked(options)
    cluster = check_cluster(cluster, "flows")
    table = natview.add_nat_columns(table, links)
    if options.merge_nat:
        table, ids = natview.merge_sides(table, ids, links)
    return conform(enrich_flows(table, cluster), FLOWS), ids


def _concat(parts: list[FlowPart]) -> pd.DataFrame:
    """The parts' tables one after another; a categorical column whose categories differ
    between parts keeps a categorical dtype, with the union of categories sorted as one
    part's are."""
    table = pd.concat([part.table for part in parts], ignore_index=True)
    for name, dtype in parts[0].table.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype) and \
                not isinstance(table[name].dtype, pd.CategoricalDtype):
            table[name] = to_kind(table[name].to_numpy(dtype=object), "category")
    return table


def _renumbered(points: pd.DataFrame, flow_ids: np.ndarray) -> pd.DataFrame:
    """``points`` with each item's local flow replaced by its id in ``flow_ids``."""
    item = points["item"].to_numpy(dtype=np.int64)
    return points.assign(item=flow_ids[item >> 1] * 2 + (item & 1))


def _merged_ends(parts: list[FlowPart], order: np.ndarray) -> tuple[np.ndarray, nat.FlowEnds]:
    """Every part's flow ends in flow_id order, their address codes in one label space."""
    if len(parts) == 1:
        return parts[0].addresses, parts[0].ends
    addresses = pd.unique(np.concatenate([part.addresses for part in parts]))
    index = pd.Index(addresses)
    recode = [np.append(index.get_indexer(part.addresses), -1) for part in parts]
    columns = {}
    for name in nat.FlowEnds.__dataclass_fields__:
        values = [getattr(part.ends, name) for part in parts]
        if name in ("client", "server"):
            values = [codes[v] for codes, v in zip(recode, values, strict=True)]
        columns[name] = np.concatenate(values)[order]
    return np.asarray(addresses, dtype=object), nat.FlowEnds(**columns)


def enrich_flows(flows: pd.DataFrame, cluster: Cluster | None) -> pd.DataFrame:
    """A copy of ``flows`` with ``orig_<field>`` and ``resp_<field>`` for every identity field
    (pcapkit.schema.IDENTITY_FIELDS), resolved by the cluster snapshot at each flow's start
    time; all NA without a cluster, so the table has the same columns either way."""
    cluster = check_cluster(cluster, "enrich_flows")
    identities = end_identities(flows, cluster.address_map if cluster else None, "ts")
    enriched = pd.concat([flows.drop(columns=identities.columns, errors="ignore"), identities],
                         axis=1)
    if cluster is not None and "cilium_identity" in cluster.pods.columns:
        from pcapkit.cluster.identity.cilium import identity_owners, name_by_identity

        enriched = name_by_identity(enriched, identity_owners(cluster.pods))
    return enriched


def _table(flows: _Flows, sightings: pd.DataFrame) -> tuple[pd.DataFrame, nat.FlowEnds]:
    inputs, asg, roles = flows.inputs, flows.assignment, flows.roles
    pk, flow, n = asg.packets, asg.flow, asg.n_flows
    is_orig = roles.is_orig
    group = flow * 2 + (~is_orig)
    tcp = pk.proto == keys.TCP
    rst = (pk.flags & keys.RST) != 0
    retrans = counters.retransmissions(group, tcp, pk.seq, pk.flags, pk.plen)
    zero = counters.zero_windows(flow, n, tcp, is_orig, pk.flags, pk.win)
    new_payload = np.where(tcp & (retrans | rst), 0, pk.plen)
    pkts = counters.per_direction(np.ones(len(flow)), group, n)
    ip_bytes = counters.per_direction(pk.iplen, group, n)
    payload = counters.per_direction(new_payload, group, n)
    retr = counters.per_direction(retrans, group, n)
    zeros = counters.per_direction(zero, group, n)
    syns, syn_acks = counters.syn_counts(group, n, tcp, pk.flags)
    rtt_a, rtt_b = counters.handshake_rtt(flow, n, tcp, is_orig, pk.flags, pk.t)
    first = roles.first
    last = np.append(first[1:], len(flow)) - 1 if n else first
    hist = history.build_history(flow, n, pk.proto, is_orig, pk.flags, pk.seq, pk.plen, retrans,
                                 zero, roles.flipped, first)
    o_state, r_state = tcpstate.run_state_machine(flow, n, tcp, is_orig, pk.flags, pk.plen)
    proto = pk.proto[first]
    state = np.full(n, "OTH", dtype=object)
    is_tcp, is_udp = proto == keys.TCP, proto == keys.UDP
    state[is_tcp] = tcpstate.conn_state(o_state, r_state, payload[:, 0], payload[:, 1],
                                        hist)[is_tcp]
    state[is_udp] = tcpstate.udp_conn_state(pkts[:, 0], pkts[:, 1])[is_udp]

    sender_orig = is_orig[first]
    orig_h = np.where(sender_orig, pk.src[first], pk.dst[first])
    resp_h = np.where(sender_orig, pk.dst[first], pk.src[first])
    orig_p = np.where(sender_orig, pk.sport[first], pk.dport[first])
    resp_p = np.where(sender_orig, pk.dport[first], pk.sport[first])
    icmp = (proto == keys.ICMP) | (proto == keys.ICMP6)
    orig_first = first_where(is_orig, flow, n)
    has = icmp & (orig_first >= 0)
    orig_p[has] = pk.itype[orig_first[has]]
    resp_p[has] = pk.icode[orig_first[has]]

    errors = asg.errors
    error_codes = pd.factorize(errors.itype * 256 + errors.icode)
    error_labels = np.array([f"{int(c) // 256}/{int(c) % 256}" for c in error_codes[1]],
                            dtype=object)
    t = pk.t
    data = {
        "flow_id": np.arange(n),
        "ts": t[first],
        "last_ts": t[last],
        "duration": (t[last] - t[first]) / 1e9,
        "proto": _proto_names(proto),
        "ip_proto": proto,
        "orig_h": _addresses(orig_h, inputs.addresses),
        "orig_p": orig_p,
        "resp_h": _addresses(resp_h, inputs.addresses),
        "resp_p": resp_p,
        "icmp_family": _family_names(asg.family[first], icmp),
        "encap": inputs.ctx_encap[pk.ctx[first]],
        "vni": inputs.ctx_vni[pk.ctx[first]],
        "conn_state": pd.Categorical(state, categories=list(tcpstate.CONN_STATES)),
        "history": hist,
        "mid_flow": roles.mid_flow,
        "flipped": roles.flipped,
        "orig_state": _tcp_only(tcpstate.state_names(o_state), is_tcp),
        "resp_state": _tcp_only(tcpstate.state_names(r_state), is_tcp),
        "orig_pkts": pkts[:, 0], "orig_ip_bytes": ip_bytes[:, 0], "orig_bytes": payload[:, 0],
        "resp_pkts": pkts[:, 1], "resp_ip_bytes": ip_bytes[:, 1], "resp_bytes": payload[:, 1],
        "syn_retrans": np.maximum(syns[:, 0] - 1, 0),
        "synack_retrans": np.maximum(syn_acks[:, 1] - 1, 0),
        "orig_retrans": retr[:, 0], "resp_retrans": retr[:, 1],
        "orig_zero_windows": zeros[:, 0], "resp_zero_windows": zeros[:, 1],
        "rtt_syn_synack": rtt_a, "rtt_synack_ack": rtt_b, "rtt_handshake": rtt_a + rtt_b,
        "icmp_errors": np.bincount(asg.error_flow, minlength=n)[:n],
        "icmp_error_types": set_labels(asg.error_flow, error_codes[0].astype(np.int64),
                                       error_labels, n),
        "icmp_error_senders": set_labels(asg.error_flow, errors.src, inputs.addresses, n),
        **path.flow_paths(sightings, pk.pid, group, n),
    }
    opening = first_where(is_orig & tcp & ((pk.flags & (keys.SYN | keys.ACK)) == keys.SYN),
                          flow, n)
    ends = nat.FlowEnds(client=orig_h, client_port=orig_p, server=resp_h, server_port=resp_p,
                        proto=proto, start=t[first],
                        syn_seq=np.where(opening >= 0, pk.seq[np.maximum(opening, 0)], -1))
    return pd.DataFrame({name: to_kind(values, FLOWS[name].kind)
                         for name, values in data.items()}), ends


def _proto_names(proto: np.ndarray) -> pd.Categorical:
    """Protocol names, categories sorted (so every share of an incident agrees on them)."""
    codes, uniques = pd.factorize(proto)
    names = np.array([PROTO_NAMES.get(int(p), str(int(p))) for p in uniques], dtype=object)
    return _sorted_categorical(codes, names)


def _sorted_categorical(codes: np.ndarray, labels: np.ndarray) -> pd.Categorical:
    """``labels[codes]`` as a Categorical whose categories are the distinct labels sorted."""
    categories, inverse = np.unique(labels.astype(str), return_inverse=True)
    return pd.Categorical.from_codes(inverse.ravel()[codes],
                                     categories=pd.Index(categories))


def _family_names(family: np.ndarray, icmp: np.ndarray) -> np.ndarray:
    """ICMP family name per flow (None for other protocols), one lookup per distinct family."""
    out = np.full(len(family), None, dtype=object)
    if icmp.any():
        codes, uniques = pd.factorize(family[icmp])
        names = np.array([keys.FAMILY_NAMES.get(int(f), f"type{int(f) - 100}") for f in uniques],
                         dtype=object)
        out[icmp] = names[codes]
    return out


def _addresses(codes: np.ndarray, addresses: np.ndarray) -> pd.Categorical:
    used, inverse = np.unique(codes, return_inverse=True)
    return _sorted_categorical(inverse.ravel(), addresses[used])


def _tcp_only(states: pd.Categorical, is_tcp: np.ndarray) -> pd.Categorical:
    out = pd.Series(states)
    return pd.Categorical(out.where(is_tcp), categories=states.categories)
