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


def _is_dns_service(row: pd.Series) -> bool:
    selector = row.get("selector") if isinstance(row.get("selector"), dict) else {}
    return (f"{row['namespace']}/{row['name']}" == _DNS_SERVICE
            or selector.get("k8s-app") in _DNS_APP_LABELS)


def _is_dns_pod(row: pd.Series) -> bool:
    labels = row.get("labels") if isinstance(row.get("labels"), dict) else {}
    return (labels.get("k8s-app") in _DNS_APP_LABELS
            or _DNS_SERVICE in _as_list(row.get("services")))


def cluster_dns_addresses(cluster: Cluster | None) -> tuple[set[str], set[str]]:
    """(addresses clients query for cluster DNS, addresses cluster DNS sends upstream from).

    The first set holds the kube-dns service IPs and the DNS pods' IPs; the second the DNS
    pods' IPs and every address of the nodes they run on (SNAT sources). Both are empty
    without a cluster or when the snapshot has no cluster DNS.
    """
    if cluster is None:
        return set(), set()
    servers: set[str] = set()
    for _, row in cluster.services.iterrows():
        if _is_dns_service(row):
            servers.update(str(ip) for ip in _as_list(row.get("cluster_ips")) if ip)
    pod_ips: set[str] = set()
    dns_nodes: set[str] = set()
    for _, row in cluster.pods.iterrows():
        if not _is_dns_pod(row):
            continue
        pod_ips.update(str(ip) for ip in _as_list(row.get("ips")) if ip)
        if isinstance(row.get("ip"), str):
            pod_ips.add(row["ip"])
        if isinstance(row.get("node"), str):
            dns_nodes.add(row["node"])
    node_ips: set[str] = set()
    for _, row in cluster.nodes.iterrows():
        if row.get("name") in dns_nodes:
            addresses = row.get("addresses")
            node_ips.update(str(a) for a in (addresses or {}))
            for column in ("internal_ip", "external_ip"):
                if isinstance(row.get(column), str):
                    node_ips.add(row[column])
    return servers | pod_ips, pod_ips | node_ips
