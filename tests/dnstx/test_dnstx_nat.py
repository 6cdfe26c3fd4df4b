"""Service DNAT: a query seen to the kube-dns Service IP and, after DNAT, to the CoreDNS pod
is one transaction (fixtures/dnstx/dnat-*.pcap, nat-*.pcap; see the generator)."""

from __future__ import annotations

import pandas as pd
import pytest
from dnstx_helpers import SCENARIOS, scenario

from pcapkit.decode import decode_files
from pcapkit.dnstx import DnsOptions, build_dns_transactions
from pcapkit.errors import PcapkitError
from pcapkit.schema.dnstx import DNS

SERVICE, BACKEND, COREDNS_POD = "10.96.0.10", "10.244.2.20", "coredns-5d78c9869d-8xk2p"
NAT_COLUMNS = ["backend_ip", "backend_port", "backend_pod", "nat",
               "nat_reply_seen"]


def test_the_nat_columns_are_part_of_the_contract():
    assert all(column in DNS for column in NAT_COLUMNS)


def _check_merged(tx: pd.DataFrame, backend_pod) -> None:
    """dnat-any.pcap: three lookups (the lost one re-sent), each one transaction."""
    assert len(tx) == 3
    assert tx["resp_h"].astype(str).tolist() == [SERVICE] * 3
    assert tx["backend_ip"].astype(str).tolist() == [BACKEND] * 3
    assert tx["backend_port"].tolist() == [53] * 3
    assert tx["nat"].tolist() == ["dnat"] * 3
    assert tx["orig_h"].astype(str).unique().tolist() == ["10.244.1.10"]
    assert tx["qname"].tolist() == ["web.shop.svc.cluster.local",
                                    "db.shop.svc.cluster.local", "db.shop.svc.cluster.local"]
    # every sighting of both views counted once: veth + flannel.1 + eth0 query, eth0 +
    # flannel.1 (+ veth) response
    assert tx["sightings"].tolist() == [6, 5, 6]
    if backend_pod is None:
        assert tx["backend_pod"].isna().all()
    else:
        assert tx["backend_pod"].tolist() == [backend_pod] * 3


def test_one_lookup_through_the_service_is_one_transaction(flannel_cluster):
    tx = scenario("dnat-any.pcap", cluster=flannel_cluster)
    _check_merged(tx, COREDNS_POD)
    first = tx.iloc[0]
    assert first["status"] == "answered" and first["nat_reply_seen"] == "both"
    assert first["resp_service"] == "kube-system/kube-dns"
    assert pd.isna(first["resp_pod"])  # a Service IP is no pod: the pod is backend_pod
    assert first["resolver_role"] == "client_query"
    # the client-side (veth) sightings: query frame 1, un-NATed response frame 6
    assert (first["query_frame"], first["response_frame"]) == (1, 6)
    assert first["latency_s"] == pytest.approx(0.00153, abs=1e-6)
    assert first["answer_addrs"] == ["10.96.10.10"]


def test_a_reply_lost_after_the_dnat_point_is_answered_once_and_shows_where(flannel_cluster):
    tx = scenario("dnat-any.pcap", cluster=flannel_cluster)
    lost, resent = tx.iloc[1], tx.iloc[2]
    assert lost["status"] == "answered"
    assert lost["nat_reply_seen"] == "backend_only"
    assert lost["rcode"] == "NOERROR" and lost["answer_addrs"] == ["10.244.2.30"]
    # the response seen is the tunnel's (eth0 frame 10), latency from the client's query
    assert lost["response_frame"] == 10 and lost["query_frame"] == 7
    assert lost["latency_s"] == pytest.approx(0.0015, abs=1e-6)
    # the client never got it: glibc's re-send 5 s later is a retry of it, not a new lookup
    assert resent["attempt"] == 2 and resent["retry_of"] == lost["tx_id"]
    assert lost["retries"] == 1 and resent["retry_pattern"] == "resend"
    assert resent["nat_reply_seen"] == "both" and resent["status"] == "answered"
    assert resent["retry_delay_s"] == pytest.approx(5.0)


def test_without_a_cluster_the_same_sightings_are_merged_by_the_heuristic():
    tx = scenario("dnat-any.pcap")
    _check_merged(tx, None)
    assert tx["nat_reply_seen"].tolist() == ["both", "backend_only", "both"]
    assert tx["status"].tolist() == ["answered"] * 3
    assert tx["retry_of"].tolist() == [0, 1, 1]


def test_the_cluster_decides_which_addresses_are_a_service_and_its_backend(flannel_cluster):
    # 10.244.2.99 is not behind kube-dns in the snapshot: with the cluster, two transactions
    with_cluster = scenario("nat-unknown-backend.pcap", cluster=flannel_cluster)
    assert with_cluster["resp_h"].astype(str).tolist() == [SERVICE, "10.244.2.99"]
    assert with_cluster["nat"].isna().all() and with_cluster["backend_ip"].isna().all()
    # the capture alone looks like a DNAT: the heuristic merges it
    guessed = scenario("nat-unknown-backend.pcap")
    assert len(guessed) == 1 and guessed.loc[0, "backend_ip"] == "10.244.2.99"


@pytest.mark.parametrize("cluster", [False, True])
def test_parallel_queries_of_one_socket_to_two_servers_are_not_merged(flannel_cluster, cluster):
    # same socket, id and question to the Service and to the pod, both through the veth:
    # one capture point saw both queries, so neither is the other after DNAT (even though
    # the cluster says 10.96.0.10 -> 10.244.2.20 is a Service and its backend)
    tx = scenario("nat-parallel-servers.pcap", cluster=flannel_cluster if cluster else None)
    assert tx["resp_h"].astype(str).tolist() == [SERVICE, BACKEND]
    assert tx["nat"].isna().all()
    assert tx["status"].tolist() == ["answered", "answered"]


def test_two_resolvers_on_two_interfaces_are_not_merged_without_a_cluster():
    # seen apart (eth0, eth1) and in order, but the first server answered before the second:
    # a backend's answer always comes before the un-NATed copy, so this is not a DNAT
    tx = scenario("nat-multihomed.pcap")
    assert tx["resp_h"].astype(str).tolist() == ["192.168.100.1", "10.10.0.1"]
    assert tx["nat"].isna().all()


def test_sightings_further_apart_than_nat_window_stay_apart(flannel_cluster):
    # the DNAT'd copy is 20 microseconds after the veth copy
    tx = scenario("dnat-any.pcap", cluster=flannel_cluster, nat_window=0.00001)
    assert len(tx) == 6 and tx["nat"].isna().all()
    assert scenario("dnat-any.pcap", cluster=flannel_cluster, nat_window=0.0001)["nat"].notna(
    ).all()
    decoded = decode_files(SCENARIOS / "dnat-any.pcap")
    with pytest.raises(PcapkitError, match="nat_window must be a positive"):
        build_dns_transactions(decoded.dns, decoded.packets, options=DnsOptions(nat_window=0))


@pytest.mark.parametrize("cluster", [False, True])
def test_the_upstream_query_of_the_backend_links_to_the_merged_transaction(flannel_cluster,
                                                                            cluster):
    tx = scenario("dnat-upstream.pcap", cluster=flannel_cluster if cluster else None)
    client, upstream = tx.iloc[0], tx.iloc[1]
    assert client["resp_h"] == SERVICE and client["backend_ip"] == BACKEND
    assert client["resolver_role"] == "client_query"
    assert client["upstream_tx_id"] == upstream["tx_id"]
    assert client["upstream_status"] == "answered"
    assert upstream["orig_h"] == BACKEND and upstream["resp_h"] == "8.8.8.8"
    assert upstream["downstream_tx_id"] == client["tx_id"]


@pytest.mark.parametrize("cluster", [False, True])
def test_an_icmp_error_quoting_the_dnat_copy_reaches_the_merged_transaction(flannel_cluster,
                                                                           cluster):
    tx = scenario("dnat-icmp.pcap", cluster=flannel_cluster if cluster else None)
    assert len(tx) == 1
    row = tx.iloc[0]
    assert row["resp_h"] == SERVICE and row["backend_ip"] == BACKEND
    assert row["icmp_error"] == "port-unreachable" and row["icmp_error_from"] == BACKEND
    assert row["status"] == "unanswered" and pd.isna(row["nat_reply_seen"])
