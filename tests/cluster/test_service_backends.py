"""Cluster.service_backends: every Service address/port with the pods behind it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pcapkit.cluster import load_snapshot
from pcapkit.cluster.tables import SERVICE_BACKEND_COLUMNS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cluster"
SERVICE, BACKEND, COREDNS_POD = "10.96.0.10", "10.244.2.20", "coredns-5d78c9869d-8xk2p"


def test_the_flannel_snapshot_maps_kube_dns_to_its_coredns_pod():
    mapping = load_snapshot(FIXTURES / "flannel" / "snapshot-t1.json").service_backends()
    assert list(mapping.columns) == SERVICE_BACKEND_COLUMNS
    dns = mapping[(mapping["service_ip"] == SERVICE) & (mapping["service_port"] == 53)]
    assert set(zip(dns["transport"], dns["backend_ip"], dns["backend_port"],
                   dns["backend_pod"], strict=True)) == {
        ("udp", BACKEND, 53, COREDNS_POD), ("tcp", BACKEND, 53, COREDNS_POD)}


def test_a_cluster_without_services_has_an_empty_table_of_the_same_shape():
    cluster = load_snapshot(FIXTURES / "bad" / "malformed-objects.json")
    assert cluster.services.empty
    mapping = cluster.service_backends()
    assert mapping.empty
    assert list(mapping.columns) == SERVICE_BACKEND_COLUMNS
    assert mapping["service_port"].dtype == np.int64 and mapping["backend_port"].dtype == np.int64
