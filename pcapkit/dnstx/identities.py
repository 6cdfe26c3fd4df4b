"""What the cluster snapshot says about DNS: namespaces, cluster DNS addresses, identities."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pcapkit.cluster import Cluster

_DNS_APP_LABELS = ("kube-dns", "coredns")
_DNS_SERVICE = "kube-system/kube-dns"


def cluster_namespaces(cluster: Cluster | None) -> list[str]:
    """Every namespace that has a pod or a service in the snapshot."""
    if cluster is None:
        return []
    names: set[str] = set()
    for table in (cluster.pods, cluster.services):
        if "namespace" in table.columns:
            names.update(str(n) for n in table["namespace"].dropna().unique())
    return sorted(names)


def _as_list(value: Any) -> list:
    if isinstance(value, list | tuple | np.ndarray):
        return list(value)
    return []


def _column(table: pd.DataFrame, name: str) -> list:
    """A column's values as a list (None per row when the table lacks it)."""
    return table[name].tolist() if name in table.columns else [None] * len(table)


def _dicts(values: list) -> list[dict]:
    return [value if isinstance(value, dict) else {} for value in values]


def _dns_services(services: pd.DataFrame) -> list[bool]:
    """Per service: kube-system/kube-dns, or one that selects the DNS pods' label."""
    return [f"{namespace}/{name}" == _DNS_SERVICE or selector.get("k8s-app") in _DNS_APP_LABELS
            for namespace, name, selector in zip(
                _column(services, "namespace"), _column(services, "name"),
                _dicts(_column(services, "selector")), strict=True)]


def _dns_pods(pods: pd.DataFrame) -> list[bool]:
    """Per pod: labelled as cluster DNS, or behind kube-system/kube-dns."""
    return [labels.get("k8s-app") in _DNS_APP_LABELS or _DNS_SERVICE in _as_list(services)
            for labels, services in zip(_dicts(_column(pods, "labels")),
                                        _column(pods, "services"), strict=True)]


def cluster_dns_addresses(cluster: Cluster | None) -> tuple[set[str], set[str]]:
    """(addresses clients query for cluster DNS, addresses cluster DNS sends upstream from).

    The first set holds the kube-dns service IPs and the DNS pods' IPs; the second the DNS
    pods' IPs and every address of the nodes they run on (SNAT sources). Both are empty
    without a cluster or when the snapshot has no cluster DNS. The snapshot's tables are
    read a column at a time (a large cluster has many pods, few of them DNS).
    """
    if cluster is None:
        return set(), set()
    services, pods, nodes = cluster.services, cluster.pods, cluster.nodes
    servers: set[str] = set()
    for ips in services.loc[_dns_services(services), "cluster_ips"].tolist() \
            if "cluster_ips" in services.columns else []:
        servers.update(str(ip) for ip in _as_list(ips) if ip)
    pod_ips: set[str] = set()
    dns_nodes: set[str] = set()
    dns_pods = pods[_dns_pods(pods)] if len(pods) else pods
    for ips, ip, node in zip(_column(dns_pods, "ips"), _column(dns_pods, "ip"),
                             _column(dns_pods, "node"), strict=True):
        pod_ips.update(str(one) for one in _as_list(ips) if one)
        if isinstance(ip, str):
            pod_ips.add(ip)
        if isinstance(node, str):
            dns_nodes.add(node)
    node_ips: set[str] = set()
    on_dns_nodes = [name in dns_nodes for name in _column(nodes, "name")]
    dns_hosts = nodes[on_dns_nodes] if len(nodes) else nodes
    for addresses, internal, external in zip(
            _column(dns_hosts, "addresses"), _column(dns_hosts, "internal_ip"),
            _column(dns_hosts, "external_ip"), strict=True):
        node_ips.update(str(a) for a in (addresses or {}))
        for address in (internal, external):
            if isinstance(address, str):
                node_ips.add(address)
    return servers | pod_ips, pod_ips | node_ips
