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


def _checked(options: FlowOptions | None) -> FlowOptions:
    if options is None:
        return FlowOptions()
    if not isinstance(options, FlowOptions):
        raise PcapkitError(f"flows: options must be a FlowOptions, not {type(options).__name__}")
    return options


def _assign(distinct: pd.DataFrame, sightings: pd.DataFrame | None,
            options: FlowOptions) -> _Flows:
    inputs = load_inputs(distinct, sightings)
    asg = keys.assign(inputs.packets, tcp_timeout=options.tcp_timeout,
                      udp_timeout=options.udp_timeout, icmp_timeout=options.icmp_timeout)
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
    options = _checked(options)
    cluster = check_cluster(cluster, "flows")
    flows = _assign(distinct, sightings, options)
    seen = seen_once(distinct).sightings if sightings is None else sightings
    table, ends = _table(flows, seen)
    pk = flows.assignment.packets
    group = flows.assignment.flow * 2 + (~flows.roles.is_orig)
    links = nat.link_service_dnat(ends, seen, pk.pid, group,
                                  nat.cluster_mapping(cluster, flows.inputs.addresses),
                                  int(round(options.nat_window * 1e9)))
    table = natview.add_nat_columns(table, links)
    ids = _packet_flow_ids(distinct.index, flows)
    if options.merge_nat:
        table, ids = natview.merge_sides(table, ids, links)
    return conform(enrich_flows(table, cluster), FLOWS), ids


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
    codes, uniques = pd.factorize(proto)
    names = [PROTO_NAMES.get(int(p), str(int(p))) for p in uniques]
    return pd.Categorical.from_codes(codes, categories=names) if len(set(names)) == len(names) \
        else pd.Categorical(np.array(names, dtype=object)[codes])


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
    return pd.Categorical.from_codes(inverse.ravel(), categories=pd.Index(addresses[used],
                                                                           dtype=object))


def _tcp_only(states: pd.Categorical, is_tcp: np.ndarray) -> pd.Categorical:
    out = pd.Series(states)
    return pd.Categorical(out.where(is_tcp), categories=states.categories)
