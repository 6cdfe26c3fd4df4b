"""Cluster snapshots: map capture addresses to pods, services and nodes; explain policies.

>>> from pcapkit.cluster import load_snapshot
>>> cluster = load_snapshot(["before.json", "after.json"])      # doctest: +SKIP
>>> cluster.resolve("10.244.1.7", at="2024-05-01T10:00:00Z")     # doctest: +SKIP
"""

from pcapkit.cluster.cluster import Cluster, check_cluster, load_snapshot
from pcapkit.cluster.identity.identity import Identity
from pcapkit.cluster.resources.istio import ENVOY_PORTS, envoy_port_label, label_envoy_ports

__all__ = [
    "ENVOY_PORTS",
    "Cluster",
    "Identity",
    "check_cluster",
    "envoy_port_label",
    "label_envoy_ports",
    "load_snapshot",
]
