"""Search-path expansion and resolver chains."""

from __future__ import annotations

import pandas as pd
from dnstx_helpers import scenario

CLUSTER_SUFFIXES = ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"]


def _check_search_path(tx: pd.DataFrame, suffixes: list[str]) -> None:
    assert tx["status"].tolist() == ["nxdomain"] * len(suffixes) + ["answered"]
    assert set(tx["search_base"]) == {"api.example.com"}
    assert set(tx["search_group"]) == {0}
    assert tx["search_suffix"].tolist()[:-1] == suffixes
    assert pd.isna(tx["search_suffix"].iloc[-1])
    assert tx["search_expansion"].tolist() == [True] * len(suffixes) + [False]
    assert tx["search_position"].tolist() == list(range(1, len(suffixes) + 2))
    assert set(tx["search_nxdomains"]) == {len(suffixes)}


def test_three_search_suffixes_then_the_name_without_a_cluster():
    _check_search_path(scenario("search-path.pcap"), CLUSTER_SUFFIXES)


def test_three_search_suffixes_with_the_cluster_namespaces(flannel_cluster):
    tx = scenario("search-path.pcap", cluster=flannel_cluster)
    _check_search_path(tx, CLUSTER_SUFFIXES)
    assert set(tx["orig_namespace"]) == {"shop"}
    assert set(tx["orig_pod"]) == {"client"}


def test_node_level_search_domain_is_inferred_from_the_data():
    _check_search_path(scenario("search-node-domain.pcap"), [*CLUSTER_SUFFIXES, "ec2.internal"])


def test_search_domains_and_cluster_domain_are_configurable():
    tx = scenario("search-path.pcap", cluster_domain="corp.example")
    assert not tx["search_expansion"].any()
    assert set(tx["search_nxdomains"]) == {0}
    tx = scenario("search-path.pcap", cluster_domain="corp.example",
                  search_domains=["cluster.local"])
    assert tx["search_expansion"].tolist() == [False, False, True, False]
    assert tx["search_suffix"].tolist()[2] == "cluster.local"


def test_a_single_name_is_not_called_an_expansion():
    tx = scenario("answered.pcap")
    assert not tx["search_expansion"].any()
    assert tx.loc[0, "search_base"] == "web.shop.svc.cluster.local"
    assert tx.loc[0, "search_nxdomains"] == 0


def _check_chain(tx: pd.DataFrame) -> None:
    client, upstream, resend = tx.iloc[0], tx.iloc[1], tx.iloc[2]
    assert client["status"] == "servfail"
    assert client["resolver_role"] == "client_query"
    assert client["upstream_tx_id"] == upstream["tx_id"]
    assert client["upstream_status"] == "unanswered"
    assert upstream["resolver_role"] == "upstream_query"
    assert upstream["resp_h"] == "8.8.8.8"
    assert upstream["downstream_tx_id"] == client["tx_id"]
    assert resend["attempt"] == 2 and resend["retry_of"] == upstream["tx_id"]
    assert resend["downstream_tx_id"] == client["tx_id"]


def test_servfail_traced_to_a_silent_upstream_without_a_cluster():
    _check_chain(scenario("resolver-chain.pcap"))


def test_servfail_traced_to_a_silent_upstream_with_the_cluster(flannel_cluster):
    tx = scenario("resolver-chain.pcap", cluster=flannel_cluster)
    _check_chain(tx)
    assert tx.loc[0, "resp_pod"] == "coredns-5d78c9869d-8xk2p"
    assert tx.loc[1, "orig_pod"] == "coredns-5d78c9869d-8xk2p"


def test_upstream_from_the_node_after_snat_needs_the_cluster(flannel_cluster):
    tx = scenario("resolver-chain-snat.pcap")
    assert tx["upstream_tx_id"].isna().all() and tx["resolver_role"].isna().all()
    tx = scenario("resolver-chain-snat.pcap", cluster=flannel_cluster)
    _check_chain(tx)
    assert tx.loc[0, "resp_service"] == "kube-system/kube-dns"
    assert tx.loc[1, "orig_h"] == "192.168.100.12"


def test_chain_needs_the_upstream_within_the_timeout():
    tx = scenario("resolver-chain.pcap", timeout=0.0005)
    assert tx["upstream_tx_id"].isna().all()
