"""Loading cluster exports: every format, snapshot times, and bad input."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pandas as pd
import pytest

from pcapkit.cluster import Cluster, load_snapshot
from pcapkit.errors import SnapshotError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cluster"
FLANNEL = FIXTURES / "flannel"


def _summary(cluster: Cluster) -> dict:
    return {
        "pods": sorted(cluster.pods["namespace"] + "/" + cluster.pods["name"]),
        "services": sorted(cluster.services["namespace"] + "/" + cluster.services["name"]),
        "nodes": sorted(cluster.nodes["name"]),
        "web": str(cluster.resolve("10.244.2.10")),
    }


def test_list_json_has_every_table():
    cluster = load_snapshot(FLANNEL / "snapshot-t1.json")
    assert len(cluster.pods) == 11
    assert set(cluster.services["name"]) == {
        "web", "web-nodeport", "web-lb", "web-internal", "db", "kube-dns", "kubernetes"}
    assert list(cluster.nodes["name"]) == ["node1", "node2"]
    assert set(cluster.policies["name"]) == {"default-deny", "allow-web", "allow-db-from-web"}
    assert cluster.problems == []
    for table in ("pods", "services", "nodes", "policies", "endpoints", "networks"):
        assert isinstance(getattr(cluster, table), pd.DataFrame)


@pytest.mark.parametrize("variant", ["snapshot-t1.yaml", "per-kind", "cluster-info-dump",
                                     "cluster-info.dump"])
def test_other_formats_give_the_same_cluster(variant):
    reference = _summary(load_snapshot(FLANNEL / "snapshot-t1.json"))
    assert _summary(load_snapshot(FLANNEL / variant)) == reference


def test_cluster_info_dump_infers_item_kinds_and_has_no_policies():
    cluster = load_snapshot(FLANNEL / "cluster-info-dump")
    kinds = set(cluster.snapshots[0].objects)
    assert {"Pod", "Service", "Node", "ReplicaSet", "Deployment", "DaemonSet"} <= kinds
    assert cluster.policies.empty
    # no EndpointSlices in a dump: backends come from the selectors, named ports resolved
    web = cluster.endpoints[cluster.endpoints["service"] == "web"]
    assert set(web["source"]) == {"selector"}
    assert set(web["target_port"]) == {8080}


def test_snapshot_time_sources(tmp_path):
    t1 = load_snapshot(FLANNEL / "snapshot-t1.json").snapshots[0]
    assert t1.time_source == "newest-object-time"
    assert pd.Timestamp(t1.time, unit="ns", tz="UTC") == pd.Timestamp("2024-05-01T09:59:50Z")
    t2 = load_snapshot(FLANNEL / "snapshot-t2.json").snapshots[0]
    assert t2.time_source == "list-metadata"
    assert pd.Timestamp(t2.time, unit="ns", tz="UTC") == pd.Timestamp("2024-05-01T11:00:00Z")
    given = load_snapshot(FLANNEL / "snapshot-t1.json", times="2024-05-01T10:05:00Z")
    assert given.snapshots[0].time_source == "given"
    assert given.times == [pd.Timestamp("2024-05-01T10:05:00Z")]
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}]}))
    os.utime(bare, (1_700_000_000, 1_700_000_000))
    snapshot = load_snapshot(bare).snapshots[0]
    assert snapshot.time_source == "file-mtime"
    assert snapshot.time == 1_700_000_000 * 10**9


def test_several_snapshots_are_ordered_by_time():
    cluster = load_snapshot([FLANNEL / "snapshot-t2.json", FLANNEL / "snapshot-t1.json"])
    assert cluster.times == sorted(cluster.times)
    assert len(cluster.snapshots) == 2


def test_times_must_match_paths():
    with pytest.raises(SnapshotError, match="2 snapshot paths"):
        load_snapshot([FLANNEL / "snapshot-t1.json", FLANNEL / "snapshot-t2.json"],
                      times=["2024-05-01T10:00:00Z"])
    with pytest.raises(SnapshotError, match="not a timestamp"):
        load_snapshot(FLANNEL / "snapshot-t1.json", times="yesterday-ish")


@pytest.mark.parametrize("name, message", [
    ("not-kubernetes.json", "not a Kubernetes object"),
    ("broken.yaml", "neither JSON nor YAML"),
    ("missing.json", "no such file"),
])
def test_unreadable_exports_name_the_file(name, message):
    with pytest.raises(SnapshotError, match=message) as info:
        load_snapshot(FIXTURES / "bad" / name)
    assert name in str(info.value)


def test_empty_directory_is_an_error(tmp_path):
    with pytest.raises(SnapshotError, match="holds no"):
        load_snapshot(tmp_path)


def test_malformed_objects_are_skipped_with_warnings(caplog):
    with caplog.at_level(logging.DEBUG, logger="pcapkit.cluster"):
        cluster = load_snapshot(FIXTURES / "bad" / "malformed-objects.json")
    assert set(cluster.pods["name"]) == {"good-pod", "bad-network-status"}
    assert list(cluster.policies["name"]) == ["good-policy"]
    assert list(cluster.nodes["name"]) == ["node8"]
    assert cluster.services.empty
    expected = [
        "Pod shop/bad-ip", "Pod shop/<no name>", "Service shop/bad-selector",
        "NetworkPolicy shop/bad-operator", "NetworkPolicy shop/bad-cidr",
        "NetworkPolicy shop/in-without-values", "Node node9", "non-object item",
        "IPv4IPIPTunnelAddr", "backend-data", "Pod shop/bad-network-status",
    ]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for fragment in expected:
        assert any(fragment in p for p in cluster.problems), fragment
        assert any(fragment in w for w in warnings), fragment
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("Widget w" in m and "not used" in m for m in debug)
    # the node with bad annotations is kept, only the bad values are dropped
    node8 = cluster.nodes.iloc[0]
    assert "not-an-ip" not in node8["addresses"]
    assert pd.isna(node8["vtep_mac"])


def test_single_object_and_typed_list_files(tmp_path):
    single = tmp_path / "pod.yaml"
    single.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: one, namespace: a}\n"
        "spec: {nodeName: n}\nstatus: {phase: Running, podIP: 10.9.0.5}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: two}\n"
        "status: {phase: Running, podIP: 10.9.0.6}\n")
    cluster = load_snapshot(single)
    assert sorted(cluster.pods["name"]) == ["one", "two"]
    # a pod exported without namespace is taken as in "default"
    assert cluster.resolve("10.9.0.6").namespace == "default"
    typed = tmp_path / "netpols.json"
    typed.write_text(json.dumps({"apiVersion": "networking.k8s.io/v1",
                                 "kind": "NetworkPolicyList",
                                 "items": [{"metadata": {"name": "p", "namespace": "a"},
                                            "spec": {"podSelector": {}}}]}))
    assert list(load_snapshot(typed).policies["kind"]) == ["NetworkPolicy"]
