"""Address -> identity: every kind, workloads, time-aware IP reuse, services, CNI extras."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pcapkit.cluster import load_snapshot
from pcapkit.cluster.identity.identity import AMBIGUOUS, EXACT, NEAREST
from pcapkit.errors import PcapkitError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cluster"
FLANNEL = FIXTURES / "flannel"


@pytest.fixture(scope="module")
def flannel():
    return load_snapshot([FLANNEL / "snapshot-t1.json", FLANNEL / "snapshot-t2.json"])


def _pod(name, ip, *, namespace="ns", owner=None, labels=None, started="2024-01-01T00:00:00Z",
         phase="Running", finished=None, node="n1", host_network=False, ports=None):
    containers = [{"name": "c", "ports": ports or []}]
    meta = {"name": name, "namespace": namespace, "uid": f"uid-{name}",
            "creationTimestamp": started, "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    state = {"running": {"startedAt": started}}
    if finished:
        state = {"terminated": {"startedAt": started, "finishedAt": finished}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeName": node, "containers": containers, "hostNetwork": host_network},
            "status": {"phase": phase, "podIP": ip, "startTime": started,
                       "containerStatuses": [{"name": "c", "state": state}]}}


def _write(tmp_path, name, items, snapshot_time=None):
    path = tmp_path / name
    meta = {"annotations": {"pcapkit.io/snapshot-time": snapshot_time}} if snapshot_time else {}
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "metadata": meta,
                                "items": items}))
    return path


# --------------------------------------------------------------------------- kinds

def test_pod_identity_has_every_field(flannel):
    identity = flannel.resolve("10.244.2.10")
    assert identity.kind == "pod"
    assert (identity.namespace, identity.name, identity.node) == (
        "shop", "web-7d9f8c6b5d-abcde", "node2")
    assert identity.uid and identity.labels["app"] == "web"
    assert (identity.workload_kind, identity.workload_name) == ("Deployment", "web")
    assert "shop/web" in identity.service.split(", ")
    assert identity.confidence == EXACT
    assert str(identity) == "pod shop/web-7d9f8c6b5d-abcde (Deployment shop/web) on node2"


def test_ipv6_pod_address_and_range(flannel):
    assert flannel.resolve("fd00:10:244:2::10").name == "web-7d9f8c6b5d-abcde"
    assert flannel.resolve("::ffff:10.244.2.10").name == "web-7d9f8c6b5d-abcde"
    unknown = flannel.resolve("fd00:10:244:2::99")
    assert (unknown.kind, unknown.node) == ("pod-cidr", "node2")


def test_host_network_pod_needs_the_port(flannel):
    assert flannel.resolve("192.168.100.11").kind == "node"
    exporter = flannel.resolve("192.168.100.11", port=9100)
    assert (exporter.kind, exporter.name) == ("host-network-pod", "node-exporter-p9kq2")
    assert exporter.workload == "DaemonSet monitoring/node-exporter"
    proxy = flannel.resolve("192.168.100.12", port=10249)
    assert (proxy.kind, proxy.name, proxy.node) == ("host-network-pod", "kube-proxy-m4ntr",
                                                    "node2")
    assert str(exporter).startswith("hostNetwork pod monitoring/node-exporter-p9kq2")
    assert flannel.resolve("192.168.100.11", port=12345).kind == "node"


@pytest.mark.parametrize("ip, port, name, note", [
    ("10.96.10.10", None, "web", "ClusterIP"),
    ("10.96.10.11", None, "web-nodeport", "ClusterIP of a NodePort"),
    ("203.0.113.100", None, "web-lb", "LoadBalancer ingress IP"),
    ("198.51.100.7", None, "web-lb", "externalIP"),
    ("192.168.100.12", 30080, "web-nodeport", "NodePort 30080 on node2"),
    ("203.0.113.12", 31443, "web-lb", "NodePort 31443 on node2"),
])
def test_service_addresses(flannel, ip, port, name, note):
    identity = flannel.resolve(ip, port=port)
    assert (identity.kind, identity.namespace, identity.name) == ("service", "shop", name)
    assert identity.note == note
    assert identity.service == f"shop/{name}"


def test_headless_service_has_no_address_but_names_its_pods(flannel):
    db = flannel.services.set_index("name").loc["db"]
    assert db["headless"] and pd.isna(db["cluster_ip"])
    assert flannel.resolve("10.244.2.30").service == "shop/db"


@pytest.mark.parametrize("ip, role", [
    ("192.168.100.11", "InternalIP"),
    ("203.0.113.12", "ExternalIP"),
    ("10.244.1.0", "Flannel flannel.1 VTEP (.0 of podCIDR)"),
    ("10.244.2.1", "cni0 bridge gateway (.1 of podCIDR)"),
    ("10.244.2.192", "Calico vxlan.calico address"),
])
def test_node_addresses(flannel, ip, role):
    identity = flannel.resolve(ip)
    assert identity.kind == "node" and identity.note == role
    assert identity.name == identity.node == ("node1" if ".1." in ip or ip.endswith(".11")
                                              else "node2")


def test_unknown_pod_in_pod_cidr_and_external(flannel):
    unknown = flannel.resolve("10.244.2.99")
    assert (unknown.kind, unknown.node) == ("pod-cidr", "node2")
    assert str(unknown) == "unknown pod on node node2 (podCIDR 10.244.2.0/24)"
    external = flannel.resolve("8.8.8.8")
    assert external.kind == "external" and str(external) == "external 8.8.8.8"


def test_not_an_address_is_a_clear_error(flannel):
    with pytest.raises(PcapkitError, match="not an IP address"):
        flannel.resolve("web.shop")


def test_flannel_vtep_macs(flannel):
    nodes = flannel.nodes.set_index("name")
    assert nodes.loc["node1", "vtep_mac"] == "02:f1:00:00:01:00"
    assert nodes.loc["node2", "cni"] == "flannel"
    assert flannel.node_for_mac("02:F1:00:00:02:00") == "node2"
    assert flannel.node_for_mac("02:00:00:00:00:99") is None


# --------------------------------------------------------------------------- workloads

def test_workloads_from_the_fixture(flannel):
    pods = flannel.pods.set_index("name")
    assert tuple(pods.loc["db-0", ["workload_kind", "workload_name"]]) == ("StatefulSet", "db")
    assert tuple(pods.loc["kube-proxy-xq7zt", ["workload_kind", "workload_name"]]) == (
        "DaemonSet", "kube-proxy")
    assert tuple(pods.loc["report-28579560-x7k2p", ["workload_kind", "workload_name",
                                                    "workload_how"]]) == (
        "CronJob", "report", "owner-chain")
    assert tuple(pods.loc["client", ["workload_kind", "workload_how"]]) == ("Pod", "bare-pod")
    # ReplicaSet tools-6b8f7c9d4f is not exported: stripped by pod-template-hash
    assert tuple(pods.loc["tools-6b8f7c9d4f-q2w3e", ["workload_kind", "workload_name",
                                                     "workload_how"]]) == (
        "Deployment", "tools", "inferred-from-pod-template-hash")


def test_workloads_without_owner_objects(tmp_path):
    items = [
        _pod("api-5c8d7f9b4d-zz9kq", "10.1.0.2", owner=("ReplicaSet", "api-5c8d7f9b4d")),
        _pod("nightly-28579560-abcde", "10.1.0.3", owner=("Job", "nightly-28579560")),
        _pod("once-xyz12", "10.1.0.4", owner=("Job", "once")),
        _pod("etcd-n1", "10.1.0.5", namespace="kube-system", owner=("Node", "n1")),
        _pod("rs-only-abc", "10.1.0.6", owner=("ReplicaSet", "rs-only")),
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": "rs-only", "namespace": "ns"}},
    ]
    pods = load_snapshot(_write(tmp_path, "w.json", items)).pods.set_index("name")
    expected = {
        "api-5c8d7f9b4d-zz9kq": ("Deployment", "api", "inferred-from-name"),
        "nightly-28579560-abcde": ("CronJob", "nightly", "inferred-from-name"),
        "once-xyz12": ("Job", "once", "owner-chain"),
        "etcd-n1": ("StaticPod", "etcd", "owner-chain"),
        "rs-only-abc": ("ReplicaSet", "rs-only", "owner-chain"),
    }
    for name, workload in expected.items():
        assert tuple(pods.loc[name, ["workload_kind", "workload_name", "workload_how"]]) == \
            workload, name


# --------------------------------------------------------------------------- time

@pytest.mark.parametrize("at, name, confidence", [
    ("2024-05-01T09:00:30Z", "report-28579560-x7k2p", EXACT),    # job pod running
    ("2024-05-01T09:01:45Z", "report-28579560-x7k2p", NEAREST),  # just after it finished
    ("2024-05-01T10:15:00Z", "web-7d9f8c6b5d-kl3mn", NEAREST),   # between the two
    ("2024-05-01T10:45:00Z", "web-7d9f8c6b5d-kl3mn", EXACT),     # the new pod holds it
    (None, "web-7d9f8c6b5d-kl3mn", EXACT),                        # newest snapshot
])
def test_reused_ip_resolves_by_time(flannel, at, name, confidence):
    identity = flannel.resolve("10.244.1.50", at=at)
    assert (identity.name, identity.confidence) == (name, confidence)


def test_pod_lifetimes_in_the_pods_table(flannel):
    pods = flannel.pods.set_index("name")
    report = pods.loc["report-28579560-x7k2p"]
    assert report["end"] == report["end"] and report["end_source"] == "containers-finished"
    assert str(report["end"]) == "2024-05-01 09:01:30+00:00"
    assert report["last_seen"] < pods.loc["web-7d9f8c6b5d-kl3mn", "first_seen"]


def test_ambiguous_when_two_pods_claim_an_ip(tmp_path):
    items = [_pod("old", "10.2.0.9", started="2024-01-01T00:00:00Z"),
             _pod("new", "10.2.0.9", started="2024-01-01T01:00:00Z")]
    cluster = load_snapshot(_write(tmp_path, "a.json", items, "2024-01-01T02:00:00Z"))
    identity = cluster.resolve("10.2.0.9", at="2024-01-01T01:30:00Z")
    assert (identity.name, identity.confidence) == ("new", AMBIGUOUS)
    only_old = cluster.resolve("10.2.0.9", at="2024-01-01T00:30:00Z")
    assert (only_old.name, only_old.confidence) == ("old", EXACT)
    assert str(identity).endswith("[ambiguous]")


def test_pod_missing_from_a_later_snapshot_ends_at_its_last_sighting(tmp_path):
    first = _write(tmp_path, "1.json", [_pod("gone", "10.3.0.4"), _pod("stays", "10.3.0.5")],
                   "2024-02-01T00:00:00Z")
    second = _write(tmp_path, "2.json", [_pod("stays", "10.3.0.5")], "2024-02-02T00:00:00Z")
    cluster = load_snapshot([first, second])
    pods = cluster.pods.set_index("name")
    assert pods.loc["gone", "end_source"] == "absent-from-later-snapshot"
    assert cluster.resolve("10.3.0.4", at="2024-01-15T00:00:00Z").confidence == EXACT
    assert cluster.resolve("10.3.0.4", at="2024-02-01T12:00:00Z").confidence == NEAREST
    assert cluster.resolve("10.3.0.5", at="2024-02-01T12:00:00Z").confidence == EXACT


# --------------------------------------------------------------------------- services

def test_endpoint_sources_and_named_ports(flannel):
    endpoints = flannel.endpoints
    by_service = endpoints.groupby("service")["source"].first().to_dict()
    assert by_service["web"] == "EndpointSlice"
    assert by_service["web-nodeport"] == "Endpoints"
    assert by_service["web-internal"] == "selector"
    web_lb = endpoints[endpoints["service"] == "web-lb"]
    assert set(web_lb["service_port"]) == {80} and set(web_lb["target_port"]) == {8443}
    internal = endpoints[endpoints["service"] == "web-internal"]
    assert set(internal["target_port"]) == {8080}  # targetPort "http" on the pods
    assert set(internal["pod"]) == {"web-7d9f8c6b5d-abcde", "web-7d9f8c6b5d-fghij",
                                    "web-7d9f8c6b5d-kl3mn"}
    dns = endpoints[endpoints["service"] == "kube-dns"]
    assert set(zip(dns["port_name"], dns["protocol"], dns["target_port"], strict=True)) == {
        ("dns", "UDP", 53), ("dns-tcp", "TCP", 53), ("metrics", "TCP", 9153)}
    api = endpoints[endpoints["service"] == "kubernetes"].iloc[0]
    assert api["ip"] == "192.168.100.11" and pd.isna(api["pod"])
    assert flannel.services.set_index("name").loc["web", "backends"] == 3


def test_named_target_port_missing_on_a_pod_skips_that_pod(tmp_path):
    with_port = _pod("a", "10.4.0.2", labels={"app": "x"},
                     ports=[{"containerPort": 9000, "name": "api", "protocol": "TCP"}])
    without = _pod("b", "10.4.0.3", labels={"app": "x"})
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x", "namespace": "ns"},
               "spec": {"clusterIP": "10.97.0.1", "selector": {"app": "x"},
                        "ports": [{"port": 80, "targetPort": "api"}]}}
    cluster = load_snapshot(_write(tmp_path, "s.json", [with_port, without, service]))
    assert list(cluster.endpoints["pod"]) == ["a"]
    assert list(cluster.endpoints["target_port"]) == [9000]


# --------------------------------------------------------------------------- CNI extras

def test_calico_ranges_and_tunnel_addresses():
    cluster = load_snapshot(FIXTURES / "calico" / "cluster.json")
    nodes = cluster.nodes.set_index("name")
    assert nodes.loc["cal-node1", "pod_cidrs"] == [] and nodes.loc["cal-node1", "cni"] == "calico"
    tunnel = cluster.resolve("10.42.17.0")
    assert (tunnel.kind, tunnel.name, tunnel.note) == ("node", "cal-node1",
                                                       "Calico tunl0 (IPIP) address")
    assert cluster.resolve("10.42.88.129").note == "Calico wireguard.cali address"
    from_affinity = cluster.resolve("10.42.17.40")
    assert (from_affinity.kind, from_affinity.node) == ("pod-cidr", "cal-node1")
    assert "BlockAffinity" in from_affinity.note
    from_block = cluster.resolve("10.42.88.150")
    assert (from_block.node, "IPAMBlock" in from_block.note) == ("cal-node2", True)
    from_pool = cluster.resolve("10.42.200.1")
    assert (from_pool.kind, from_pool.node) == ("pod-cidr", None)
    assert str(from_pool).startswith("unknown pod on no known node (Calico IPPool")
    assert cluster.resolve("10.42.17.5").workload == "Deployment app/api"
    assert set(cluster.policies["kind"]) == {"NetworkPolicy", "CalicoNetworkPolicy",
                                             "CalicoGlobalNetworkPolicy"}
    assert list(cluster.policies[cluster.policies["evaluated"]]["name"]) == ["allow-api"]


def test_cilium_nodes_and_endpoints():
    cluster = load_snapshot(FIXTURES / "cilium" / "cluster.json")
    host = cluster.resolve("10.0.1.197")
    assert (host.kind, host.name, host.note) == ("node", "cil-node1",
                                                 "Cilium cilium_host address")
    assert cluster.resolve("10.0.2.61").note == "CiliumInternalIP (cilium_host)"
    assert cluster.resolve("10.0.2.140").note == "Cilium health endpoint"
    assert cluster.resolve("10.0.2.200").node == "cil-node2"  # CiliumNode spec.ipam.podCIDRs
    pods = cluster.pods.set_index("name")
    assert pods.loc["frontend-5b7f6c8d9-abcde", "cilium_identity"] == 48213
    orphan = cluster.resolve("10.0.2.77")
    assert (orphan.kind, orphan.name, orphan.node) == ("pod", "batch-7c4d9-x1y2z", "cil-node2")
    assert pods.loc["batch-7c4d9-x1y2z", "source"] == "CiliumEndpoint"
    assert orphan.labels == {"app": "batch", "io.kubernetes.pod.namespace": "default"}


# --------------------------------------------------------------------------- Multus, Istio

@pytest.fixture(scope="module")
def mesh():
    return load_snapshot(FIXTURES / "multus-istio" / "cluster.yaml")


def test_multus_secondary_addresses(mesh):
    secondary = mesh.resolve("192.168.50.21")
    assert (secondary.kind, secondary.name) == ("pod", "cnf-1")
    assert (secondary.network, secondary.interface) == ("telco/macvlan-conf", "net1")
    assert secondary.secondary_network
    assert "NetworkPolicy does not apply" in secondary.note
    assert "net1 on network telco/macvlan-conf" in str(secondary)
    primary = mesh.resolve("10.244.0.15")
    assert primary.name == "cnf-1" and not primary.secondary_network
    unknown = mesh.resolve("192.168.50.40")
    assert (unknown.kind, unknown.network) == ("pod-cidr", "telco/macvlan-conf")


def test_multus_networks_table(mesh):
    networks = mesh.networks.set_index("network")
    macvlan = networks.loc["telco/macvlan-conf"]
    assert (macvlan["interface"], macvlan["cni_type"], macvlan["master"]) == (
        "net1", "macvlan", "eth1")
    assert macvlan["ips"] == ["192.168.50.21"] and macvlan["reported"]
    sriov = networks.loc["telco/sriov-net"]
    assert (sriov["cni_type"], sriov["reported"], sriov["definition_found"]) == (
        "sriov", False, True)
    assert bool(networks.loc["k8s-pod-network", "default"])
    assert mesh.pods.set_index("name").loc["cnf-1", "secondary_ips"] == ["192.168.50.21"]


def test_istio_modes(mesh):
    modes = mesh.pods.set_index("name")["istio"].to_dict()
    assert modes["productpage-v1-6c8d9f5b7-w2x3y"] == "sidecar"
    assert modes["reviews-v2-5f7d8c9b6-k4l5m"] == "sidecar"  # native sidecar init container
    assert modes["ratings-v1-7d9f6b8c5-n6p7q"] == "ambient"
    assert modes["ztunnel-h8j9k"] == "ztunnel"
    assert pd.isna(modes["cnf-1"])
    assert mesh.resolve("10.244.0.21").istio == "sidecar"


def test_ambient_from_namespace_label_only():
    from pcapkit.cluster.resources.istio import pod_mode

    pod = {"metadata": {"name": "p", "namespace": "n"}, "spec": {"containers": [{"name": "a"}]}}
    assert pod_mode(pod, {"istio.io/dataplane-mode": "ambient"}) == "ambient"
    opted_out = {"metadata": {"name": "p", "labels": {"istio.io/dataplane-mode": "none"}},
                 "spec": {}}
    assert pod_mode(opted_out, {"istio.io/dataplane-mode": "ambient"}) is None
    assert pod_mode(pod, {}) is None


def test_envoy_port_labels():
    from pcapkit.cluster import ENVOY_PORTS, envoy_port_label, label_envoy_ports

    assert envoy_port_label(15006) == "envoy-inbound-capture"
    assert envoy_port_label(15008) == "hbone-mtls-tunnel"
    assert envoy_port_label(80) is None
    assert {15000, 15001, 15020, 15021, 15090} <= set(ENVOY_PORTS)
    labels = label_envoy_ports(pd.Series([15001, 443, None, 15090], name="dport"))
    assert list(labels.astype(object).where(labels.notna(), None)) == [
        "envoy-outbound-capture", None, None, "envoy-prometheus"]
