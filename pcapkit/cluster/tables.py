"""The DataFrames a Cluster exposes: pods, services, nodes, policies, endpoints, networks,
and the Service -> backend address table derived from services and endpoints.

Column lists are fixed (and documented in docs/cluster.md) so an empty export still yields
tables with the expected columns.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from pcapkit.cluster.policy.model import implied_policy_types
from pcapkit.cluster.resources import multus
from pcapkit.cluster.resources.nodes import NodeInfo
from pcapkit.cluster.resources.pods import PodRecord
from pcapkit.cluster.resources.services import ServiceRecord
from pcapkit.cluster.snapshot.exports import OTHER_POLICY_KEYS
from pcapkit.cluster.snapshot.snapshot import Snapshot
from pcapkit.cluster.snapshot.times import to_timestamp

POD_COLUMNS = [
    "namespace", "name", "uid", "node", "ip", "ips", "host_network", "phase", "workload_kind",
    "workload_name", "workload_how", "services", "labels", "istio", "secondary_ips",
    "ports", "start", "end", "end_source", "first_seen", "last_seen", "cilium_identity",
    "source",
]
SERVICE_COLUMNS = [
    "namespace", "name", "uid", "type", "cluster_ip", "cluster_ips", "external_ips",
    "load_balancer_ips", "headless", "selector", "ports", "external_name", "backends",
]
NODE_COLUMNS = [
    "name", "internal_ip", "external_ip", "addresses", "pod_cidrs", "cni", "backend",
    "vtep_mac", "vni", "labels",
]
POLICY_COLUMNS = [
    "namespace", "name", "kind", "api_version", "evaluated", "pod_selector", "policy_types",
    "ingress_rules", "egress_rules", "snapshot_time",
]
ENDPOINT_COLUMNS = [
    "namespace", "service", "service_port", "port_name", "protocol", "target_port", "ip",
    "pod_namespace", "pod", "node", "ready", "source",
]
NETWORK_COLUMNS = [
    "namespace", "pod", "network", "interface", "ips", "mac", "default", "reported",
    "cni_type", "master", "definition_found",
]
SERVICE_BACKEND_COLUMNS = ["service_ip", "service_port", "transport", "backend_ip",
                           "backend_port", "backend_pod"]
"""Columns of a Service -> backend table (one row per service address/port and backend)."""


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def pods_table(records: list[PodRecord]) -> pd.DataFrame:
    """One row per pod (newest version), with its lifetime."""
    rows = []
    for r in records:
        rows.append({
            "namespace": r.namespace,
            "name": r.name,
            "uid": r.uid,
            "node": r.node,
            "ip": r.ips[0] if r.ips else None,
            "ips": list(r.ips),
            "host_network": r.host_network,
            "phase": r.phase,
            "workload_kind": r.workload.kind if r.workload else None,
            "workload_name": r.workload.name if r.workload else None,
            "workload_how": r.workload.how if r.workload else None,
            "services": list(r.services),
            "labels": dict(r.labels),
            "istio": r.istio,
            "secondary_ips": [ip for a in r.attachments if not a.default for ip in a.ips],
            "ports": [f"{p.name + '=' if p.name else ''}{p.port}/{p.protocol}" for p in r.ports],
            "start": to_timestamp(r.start),
            "end": to_timestamp(r.end),
            "end_source": r.end_source,
            "first_seen": to_timestamp(r.first_seen),
            "last_seen": to_timestamp(r.last_seen),
            "cilium_identity": r.cilium_identity,
            "source": r.source,
        })
    frame = _frame(rows, POD_COLUMNS)
    for column in ("start", "end", "first_seen", "last_seen"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["cilium_identity"] = frame["cilium_identity"].astype("Int64")
    return frame


def services_table(records: list[ServiceRecord]) -> pd.DataFrame:
    """One row per service."""
    return _frame([{
        "namespace": s.namespace,
        "name": s.name,
        "uid": s.uid,
        "type": s.type,
        "cluster_ip": s.cluster_ips[0] if s.cluster_ips else None,
        "cluster_ips": list(s.cluster_ips),
        "external_ips": list(s.external_ips),
        "load_balancer_ips": list(s.load_balancer_ips),
        "headless": s.headless,
        "selector": dict(s.selector or {}),
        "ports": [dict(p) for p in s.ports],
        "external_name": s.external_name,
        "backends": len({b["ip"] for b in s.backends}),
    } for s in records], SERVICE_COLUMNS)


def endpoints_table(records: list[ServiceRecord]) -> pd.DataFrame:
    """One row per (service, port, backend address)."""
    return _frame([row for s in records for row in s.backends], ENDPOINT_COLUMNS)


def empty_service_backends() -> pd.DataFrame:
    """A Service -> backend table without rows (ports int64, the rest object)."""
    return pd.DataFrame({c: pd.Series(dtype=np.int64 if c in ("service_port", "backend_port")
                                      else object) for c in SERVICE_BACKEND_COLUMNS})


def service_backends_table(services: pd.DataFrame, endpoints: pd.DataFrame) -> pd.DataFrame:
    """Service address/port/transport -> backend pod address/port/pod.

    Every cluster IP of every Service with its backends (``endpoints``); backends whose
    target port is unknown (a named port no pod declares) are left out.
    """
    if services.empty or endpoints.empty:
        return empty_service_backends()
    ips = services[["namespace", "name", "cluster_ips"]].explode("cluster_ips")
    ips = ips.rename(columns={"name": "service", "cluster_ips": "service_ip"})
    ips = ips[ips["service_ip"].notna()]
    rows = endpoints.merge(ips, on=["namespace", "service"])
    rows = rows[rows["service_port"].notna() & rows["target_port"].notna()
                & rows["ip"].notna() & rows["protocol"].notna()]
    if rows.empty:
        return empty_service_backends()
    pods = rows["pod"].astype(object)
    return pd.DataFrame({
        "service_ip": rows["service_ip"].astype(str).to_numpy(dtype=object),
        "service_port": rows["service_port"].to_numpy(dtype=np.int64),
        "transport": rows["protocol"].astype(str).str.lower().to_numpy(dtype=object),
        "backend_ip": rows["ip"].astype(str).to_numpy(dtype=object),
        "backend_port": rows["target_port"].to_numpy(dtype=np.int64),
        "backend_pod": pods.where(pods.notna(), None).to_numpy(dtype=object),
    }).drop_duplicates(["service_ip", "service_port", "transport", "backend_ip",
                        "backend_port"]).reset_index(drop=True)


def nodes_table(nodes: dict[str, NodeInfo]) -> pd.DataFrame:
    """One row per node, with every address and its role."""
    rows = []
    for info in nodes.values():
        internal = info.ips_with_role("InternalIP")
        external = info.ips_with_role("ExternalIP")
        rows.append({
            "name": info.name,
            "internal_ip": internal[0] if internal else None,
            "external_ip": external[0] if external else None,
            "addresses": dict(info.addresses),
            "pod_cidrs": list(info.pod_cidrs),
            "cni": info.cni,
            "backend": info.backend,
            "vtep_mac": info.vtep_mac,
            "vni": info.vni,
            "labels": dict(info.labels),
        })
    return _frame(rows, NODE_COLUMNS)


def policies_table(snapshots: list[Snapshot]) -> pd.DataFrame:
    """Policies of every kind, each as of the newest snapshot holding that kind."""
    rows = []
    for key in ("NetworkPolicy", *OTHER_POLICY_KEYS):
        holder = next((s for s in reversed(snapshots) if s.has(key)), None)
        if holder is None:
            continue
        for policy in holder.of(key):
            spec = policy.get("spec") if isinstance(policy.get("spec"), dict) else {}
            rows.append({
                "namespace": policy["metadata"].get("namespace"),
                "name": policy["metadata"]["name"],
                "kind": key,
                "api_version": policy.get("apiVersion"),
                "evaluated": key == "NetworkPolicy",
                "pod_selector": json.dumps(spec.get("podSelector", spec.get("selector")),
                                           sort_keys=True),
                "policy_types": list(spec.get("policyTypes") or implied_policy_types(spec)),
                "ingress_rules": len(spec.get("ingress") or []),
                "egress_rules": len(spec.get("egress") or []),
                "snapshot_time": to_timestamp(holder.time),
            })
    frame = _frame(rows, POLICY_COLUMNS)
    frame["snapshot_time"] = pd.to_datetime(frame["snapshot_time"], utc=True)
    return frame


def networks_table(
    records: list[PodRecord], definitions: dict[str, multus.NetworkDefinition]
) -> pd.DataFrame:
    """One row per Multus attachment of a pod (reported or only requested)."""
    rows = []
    for r in records:
        for a in r.attachments:
            ref = a.network if "/" in a.network else f"{r.namespace}/{a.network}"
            definition = definitions.get(ref)
            rows.append({
                "namespace": r.namespace,
                "pod": r.name,
                "network": a.network,
                "interface": a.interface,
                "ips": list(a.ips),
                "mac": a.mac,
                "default": a.default,
                "reported": a.reported,
                "cni_type": definition.cni_type if definition else None,
                "master": definition.master if definition else None,
                "definition_found": definition is not None,
            })
    return _frame(rows, NETWORK_COLUMNS)
