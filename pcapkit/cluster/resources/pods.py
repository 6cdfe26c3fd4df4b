"""Pods across snapshots: one record per pod, with the time span it held its addresses.

A pod IP can be reused: a CronJob's pod completes, its IP goes back to the pool and a new
pod gets it. To say which pod held an IP at time t, each pod gets a lifetime:

- start: ``status.startTime`` (else ``creationTimestamp``);
- end: for Succeeded/Failed pods the newest container ``finishedAt``; else the
  ``deletionTimestamp``; else, if a later snapshot no longer lists the pod, the last
  snapshot that did (the pod ended at an unknown time after it); else open.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pcapkit.cluster.resources import istio, multus
from pcapkit.cluster.resources.workloads import OwnerIndex, Workload, resolve_workload
from pcapkit.cluster.snapshot.snapshot import Snapshot
from pcapkit.cluster.snapshot.times import NEVER_AFTER, NEVER_BEFORE, object_times, parse_time
from pcapkit.cluster.snapshot.validate import is_ip

log = logging.getLogger(__name__)

TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass
class ContainerPort:
    """A port a pod's container declares."""

    container: str
    name: str | None
    port: int
    protocol: str
    host_port: int | None


@dataclass
class PodRecord:
    """One pod (by uid) merged over every snapshot that lists it."""

    key: str
    namespace: str
    name: str
    uid: str | None
    obj: dict[str, Any]
    labels: dict[str, str]
    node: str | None
    host_network: bool
    phase: str | None
    ips: list[str]
    workload: Workload | None
    start: int
    end: int
    end_source: str
    first_seen: int
    last_seen: int
    istio: str | None = None
    attachments: list[multus.Attachment] = field(default_factory=list)
    ports: list[ContainerPort] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    cilium_identity: int | None = None
    source: str = "Pod"


def pod_key(pod: dict[str, Any]) -> str:
    """uid, or namespace/name/creation when the export dropped uids."""
    meta = pod["metadata"]
    if meta.get("uid"):
        return str(meta["uid"])
    return f"{meta.get('namespace')}/{meta['name']}/{meta.get('creationTimestamp', '')}"


def pod_ips(pod: dict[str, Any]) -> list[str]:
    """Primary-network IPs from ``status.podIPs`` / ``status.podIP``."""
    status = pod.get("status") or {}
    ips = [p["ip"] for p in status.get("podIPs") or [] if p.get("ip")]
    if status.get("podIP") and status["podIP"] not in ips:
        ips.insert(0, status["podIP"])
    return ips


def container_ports(pod: dict[str, Any]) -> list[ContainerPort]:
    """Declared ports of all containers (init containers too: native sidecars serve)."""
    spec = pod.get("spec") or {}
    out = []
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            for port in container.get("ports") or []:
                out.append(ContainerPort(
                    container=container.get("name") or "",
                    name=port.get("name"),
                    port=port["containerPort"],
                    protocol=port.get("protocol") or "TCP",
                    host_port=port.get("hostPort"),
                ))
    return out


def collect_pods(snapshots: list[Snapshot], problems: list[str]) -> list[PodRecord]:
    """Merge the pods of time-ordered snapshots into records with lifetimes."""
    owners = OwnerIndex([o for s in snapshots for k in ("ReplicaSet", "Job") for o in s.of(k)])
    namespace_labels = _namespace_labels(snapshots)
    versions: dict[str, list[tuple[Snapshot, dict[str, Any]]]] = {}
    for snapshot in snapshots:
        for pod in snapshot.of("Pod"):
            versions.setdefault(pod_key(pod), []).append((snapshot, pod))
    pod_snapshots = [s for s in snapshots if s.has("Pod")]
    records = [
        _record(key, seen, pod_snapshots, owners, namespace_labels, problems)
        for key, seen in versions.items()
    ]
    _merge_cilium_endpoints(records, snapshots)
    return records


def _namespace_labels(snapshots: list[Snapshot]) -> dict[str, dict[str, str]]:
    labels: dict[str, dict[str, str]] = {}
    for snapshot in snapshots:
        for namespace in snapshot.of("Namespace"):
            labels[namespace["metadata"]["name"]] = namespace["metadata"].get("labels") or {}
    return labels


def _record(
    key: str,
    seen: list[tuple[Snapshot, dict[str, Any]]],
    pod_snapshots: list[Snapshot],
    owners: OwnerIndex,
    namespace_labels: dict[str, dict[str, str]],
    problems: list[str],
) -> PodRecord:
    latest_snapshot, pod = seen[-1]
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    namespace = meta.get("namespace") or "default"
    first_seen, last_seen = seen[0][0].time, latest_snapshot.time
    gone_by = next((s.time for s in pod_snapshots if s.time > last_seen), None)
    start, end, end_source = _lifetime(pod, [p for _, p in seen], last_seen, gone_by)
    attachments, problem = multus.pod_attachments(pod)
    if problem:
        message = f"Pod {namespace}/{meta['name']}: {problem}"
        log.warning("%s", message)
        problems.append(message)
    return PodRecord(
        key=key,
        namespace=namespace,
        name=meta["name"],
        uid=meta.get("uid"),
        obj=pod,
        labels=dict(meta.get("labels") or {}),
        node=spec.get("nodeName"),
        host_network=bool(spec.get("hostNetwork")),
        phase=status.get("phase"),
        ips=pod_ips(pod),
        workload=resolve_workload(pod, owners),
        start=start,
        end=end,
        end_source=end_source,
        first_seen=first_seen,
        last_seen=last_seen,
        istio=istio.pod_mode(pod, namespace_labels.get(namespace)),
        attachments=attachments,
        ports=container_ports(pod),
    )


def _lifetime(
    pod: dict[str, Any], versions: list[dict[str, Any]], last_seen: int, gone_by: int | None
) -> tuple[int, int, str]:
    starts = []
    for version in versions:
        status = version.get("status") or {}
        for value in (status.get("startTime"), version["metadata"].get("creationTimestamp")):
            ns = parse_time(value)
            if ns is not None:
                starts.append(ns)
    start = min(starts) if starts else NEVER_BEFORE
    status = pod.get("status") or {}
    if status.get("phase") in TERMINAL_PHASES:
        finished = [
            ns
            for cstatus in status.get("containerStatuses") or []
            for ns in [parse_time(((cstatus.get("state") or {}).get("terminated") or {})
                                  .get("finishedAt"))]
            if ns is not None
        ]
        if finished:
            return start, max(finished), "containers-finished"
        return start, max(object_times(pod), default=last_seen), "terminal-phase"
    deleted = parse_time(pod["metadata"].get("deletionTimestamp"))
    if deleted is not None:
        return start, deleted, "deletionTimestamp"
    if gone_by is not None:
        return start, last_seen, "absent-from-later-snapshot"
    return start, NEVER_AFTER, "running"


def _merge_cilium_endpoints(records: list[PodRecord], snapshots: list[Snapshot]) -> None:
    """CiliumEndpoints add the security identity, and pods the export does not list."""
    by_name = {(r.namespace, r.name): r for r in records}
    for snapshot in snapshots:
        for cep in snapshot.of("CiliumEndpoint"):
            meta = cep["metadata"]
            status = cep.get("status") if isinstance(cep.get("status"), dict) else {}
            identity = status.get("identity") if isinstance(status.get("identity"), dict) else {}
            namespace = meta.get("namespace") or "default"
            record = by_name.get((namespace, meta["name"]))
            if record is None:
                record = _record_from_cep(cep, snapshot)
                if record is None:
                    continue
                records.append(record)
                by_name[(namespace, meta["name"])] = record
            if isinstance(identity.get("id"), int):
                record.cilium_identity = identity["id"]


def _record_from_cep(cep: dict[str, Any], snapshot: Snapshot) -> PodRecord | None:
    meta = cep["metadata"]
    status = cep.get("status") if isinstance(cep.get("status"), dict) else {}
    networking = status.get("networking") if isinstance(status.get("networking"), dict) else {}
    ips = [
        a[family]
        for a in networking.get("addressing") or []
        if isinstance(a, dict)
        for family in ("ipv4", "ipv6")
        if is_ip(a.get(family))
    ]
    if not ips:
        return None
    identity = status.get("identity") if isinstance(status.get("identity"), dict) else {}
    labels = {}
    for label in identity.get("labels") or []:
        if isinstance(label, str) and label.startswith("k8s:") and "=" in label:
            k, v = label[4:].split("=", 1)
            labels[k] = v
    namespace = meta.get("namespace") or "default"
    return _cep_record(namespace, meta["name"], labels, ips, snapshot, networking.get("node"))


def _cep_record(
    namespace: str,
    name: str,
    labels: dict[str, str],
    ips: list[str],
    snapshot: Snapshot,
    node_ip: Any,
) -> PodRecord:
    record = PodRecord(
        key=f"cep:{namespace}/{name}",
        namespace=namespace,
        name=name,
        uid=None,
        obj={"metadata": {"name": name, "namespace": namespace, "labels": labels},
             "spec": {}, "status": {"podIP": ips[0], "phase": "Running"}},
        labels=labels,
        node=None,
        host_network=False,
        phase="Running",
        ips=ips,
        workload=None,
        start=NEVER_BEFORE,
        end=NEVER_AFTER,
        end_source="CiliumEndpoint",
        first_seen=snapshot.time,
        last_seen=snapshot.time,
        source="CiliumEndpoint",
    )
    record.obj["status"]["hostIP"] = node_ip if isinstance(node_ip, str) else None
    return record
