"""Service DNAT: the flows before and after kube-proxy's rewrite are linked (or merged).

fixtures/flows/service-dnat-any.pcap (see the generator's docstring for every connection)
read through the vantage stage as node1's ``tcpdump -i any``, with the flannel snapshot's
Service shop/web (10.96.10.10:80 -> 10.244.2.10, 10.244.1.12, 10.244.1.50 port 8080).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from flows_helpers import CRAFTED, ROOT

from pcapkit.cluster import load_snapshot
from pcapkit.decode import decode_files
from pcapkit.errors import PcapkitError
from pcapkit.flows import (
    FlowOptions,
    assemble_flows,
    build_flows,
    flow_ids,
)
from pcapkit.schema.flows import FLOWS, NAT_COLUMNS
from pcapkit.vantage import build_sightings, capture_points, seen_once

CAPTURE = CRAFTED / "service-dnat-any.pcap"
SNAPSHOT = ROOT / "fixtures" / "cluster" / "flannel" / "snapshot-t2.json"
SERVICE, CLIENT, TOOLS = "10.96.10.10", "10.244.1.10", "10.244.1.11"


@cache
def _vantage(path: str):
    decoded = decode_files([path])
    return build_sightings(decoded, capture_points(decoded, nodes={path: "node1"}))


@cache
def _cluster():
    return load_snapshot(SNAPSHOT)


def flows(cluster: bool = True, path=CAPTURE, **options) -> pd.DataFrame:
    view = _vantage(str(path))
    return build_flows(view.distinct, view.sightings,
                       cluster=_cluster() if cluster else None, options=FlowOptions(**options))


def side(table: pd.DataFrame, client: str, port: int, server: str) -> pd.Series:
    rows = table[(table["orig_h"] == client) & (table["orig_p"] == port)
                 & (table["resp_h"] == server)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def assert_linked(table: pd.DataFrame, client: str, port: int, backend: str) -> None:
    service, back = side(table, client, port, SERVICE), side(table, client, port, backend)
    assert (service["nat"], back["nat"]) == ("dnat", "dnat")
    assert (service["nat_side"], back["nat_side"]) == ("service", "backend")
    assert service["nat_peer_flow_id"] == back["flow_id"]
    assert back["nat_peer_flow_id"] == service["flow_id"]
    for row in (service, back):
        assert (row["service_ip"], row["service_port"]) == (SERVICE, 80)
        assert (row["backend_ip"], row["backend_port"]) == (backend, 8080)
    assert service["nat_conn_state"] == back["conn_state"]
    assert pd.isna(back["nat_conn_state"])


def assert_unlinked(row: pd.Series) -> None:
    for column in NAT_COLUMNS:
        assert pd.isna(row[column.name]), (column.name, row[column.name])


def test_nat_columns_are_flow_columns():
    assert {c.name for c in NAT_COLUMNS} <= set(FLOWS.names)
    assert list(flows().columns) == FLOWS.names


@pytest.mark.parametrize("cluster", [True, False])
def test_http_through_the_service_is_two_linked_sf_flows(cluster):
    table = flows(cluster)
    assert_linked(table, CLIENT, 40100, "10.244.2.10")
    service, back = side(table, CLIENT, 40100, SERVICE), side(table, CLIENT, 40100,
                                                              "10.244.2.10")
    assert (service["conn_state"], back["conn_state"]) == ("SF", "SF")
    assert service["history"] == back["history"]
    assert service["encap"] == "none" and back["encap"] == "vxlan"
    assert service["orig_interfaces"] == "node1:if3,node1:if5"       # cni0, the client veth
    assert back["orig_interfaces"] == "node1:if2,node1:if4"          # eth0, flannel.1


@pytest.mark.parametrize("cluster", [True, False])
def test_unanswered_syn_after_dnat_is_s0_on_both_linked_sides(cluster):
    table = flows(cluster)
    assert_linked(table, CLIENT, 40101, "10.244.2.10")
    service = side(table, CLIENT, 40101, SERVICE)
    assert (service["conn_state"], service["nat_conn_state"]) == ("S0", "S0")
    assert service["syn_retrans"] == 1


@pytest.mark.parametrize("cluster", [True, False])
def test_kube_proxy_reject_without_dnat_is_rej_and_not_linked(cluster):
    rejected = side(flows(cluster), CLIENT, 40102, SERVICE)
    assert rejected["conn_state"] == "REJ"
    assert_unlinked(rejected)


@pytest.mark.parametrize("cluster", [True, False])
def test_another_client_on_the_same_port_and_isn_is_not_linked(cluster):
    table = flows(cluster)
    assert_unlinked(side(table, CLIENT, 40104, "10.244.2.10"))
    # tools' own connection, DNAT'd to a backend on the same node: cni0 sees the request
    # before the rewrite coming in and after it going out, still two points.
    assert_linked(table, TOOLS, 40104, "10.244.1.12")


@pytest.mark.parametrize("cluster", [True, False])
def test_flows_seen_at_one_capture_point_are_not_linked(cluster):
    table = flows(cluster)
    assert_unlinked(side(table, CLIENT, 40105, SERVICE))
    assert_unlinked(side(table, CLIENT, 40105, "10.244.2.10"))


def test_with_a_cluster_only_listed_backends_link():
    assert_unlinked(side(flows(True), CLIENT, 40106, SERVICE))
    assert_unlinked(side(flows(True), CLIENT, 40106, "10.244.2.99"))
    assert_linked(flows(False), CLIENT, 40106, "10.244.2.99")   # the guess has no list


def test_the_window_bounds_the_first_packets_gap():
    assert flows(True, nat_window=0.0)["nat"].isna().all()       # the sides are 20 us apart
    assert flows(False, nat_window=0.00001)["nat"].isna().all()
    assert flows(True, nat_window=0.00002)["nat"].notna().any()
    with pytest.raises(PcapkitError, match="nat_window"):
        flows(True, nat_window=-1)


def test_different_client_isns_are_never_one_connection():
    view = _vantage(str(CAPTURE))
    distinct = view.distinct.copy()
    backend_syn = ((distinct["dst"].astype(str) == "10.244.2.10")
                   & (distinct["sport"] == 40100) & (distinct["tcp_flags"] == 2)).to_numpy()
    assert backend_syn.sum() == 1
    seq = distinct["tcp_seq"].to_numpy(dtype=np.int64, na_value=-1)
    seq[backend_syn] += 1
    distinct["tcp_seq"] = pd.array(seq, dtype=distinct["tcp_seq"].dtype)
    table = build_flows(distinct, view.sightings, cluster=_cluster())
    assert_unlinked(side(table, CLIENT, 40100, SERVICE))
    assert_linked(table, CLIENT, 40101, "10.244.2.10")


def test_udp_service_flows_link_with_the_cluster_only():
    """fixtures/dnstx/dnat-any.pcap: DNS to kube-dns 10.96.0.10:53, DNAT'd to CoreDNS."""
    path = ROOT / "fixtures" / "dnstx" / "dnat-any.pcap"
    assert path.exists(), f"committed fixture {path} is missing"
    table = flows(True, path=path)
    to_service = table[(table["resp_h"] == "10.96.0.10") & (table["proto"] == "udp")]
    assert len(to_service) and to_service["nat_side"].eq("service").all()
    peers = table.set_index("flow_id").loc[to_service["nat_peer_flow_id"].to_numpy()]
    assert (peers["resp_h"] == "10.244.2.20").all() and (peers["resp_p"] == 53).all()
    assert flows(False, path=path)["nat"].isna().all()   # no guess for UDP


def test_merged_view_has_one_row_per_connection():
    view = _vantage(str(CAPTURE))
    linked, ids = assemble_flows(view.distinct, view.sightings, cluster=_cluster())
    merged, merged_ids = assemble_flows(view.distinct, view.sightings, cluster=_cluster(),
                                        options=FlowOptions(merge_nat=True))
    backends = linked.loc[linked["nat_side"] == "backend", "flow_id"]
    assert len(merged) == len(linked) - len(backends) == len(linked) - 3
    assert not merged["flow_id"].isin(backends).any()
    row = side(merged, CLIENT, 40100, SERVICE)
    service = side(linked, CLIENT, 40100, SERVICE)
    assert row["nat_side"] == "merged" and row["nat_peer_flow_id"] == service["nat_peer_flow_id"]
    for column in ("orig_pkts", "resp_pkts", "orig_bytes", "conn_state", "history", "ts"):
        assert row[column] == service[column], column
    assert row["orig_interfaces"] == "node1:if2,node1:if3,node1:if4,node1:if5"
    assert row["encap"] == "vxlan" and row["orig_encapsulated"]
    back = side(linked, CLIENT, 40100, "10.244.2.10")
    assert row["orig_sightings"] == service["orig_sightings"] + back["orig_sightings"]
    # Packets of a backend-side flow now carry the service-side flow's id.
    was_backend = ids.isin(backends).to_numpy(dtype=bool, na_value=False)
    assert merged_ids[was_backend].isin(merged["flow_id"]).all()
    assert (merged_ids[~was_backend].fillna(-1) == ids[~was_backend].fillna(-1)).all()
    standalone = flow_ids(view.distinct, view.sightings, cluster=_cluster(),
                          options=FlowOptions(merge_nat=True))
    assert standalone.equals(merged_ids)


def test_a_capture_read_alone_still_links():
    """seen_once: each sighting its own packet; the capture points come from the file, the
    SLL2 ifindex and packet type."""
    view = seen_once(decode_files([str(CAPTURE)]).packets)
    table = build_flows(view.distinct, view.sightings, cluster=_cluster())
    assert_linked(table, CLIENT, 40100, "10.244.2.10")
    assert_unlinked(side(table, CLIENT, 40105, SERVICE))


def test_a_non_cluster_object_is_refused():
    view = _vantage(str(CAPTURE))
    with pytest.raises(PcapkitError, match="cluster"):
        build_flows(view.distinct, view.sightings, cluster="snapshot.json")
