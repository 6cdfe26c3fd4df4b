"""Services, their addresses, and their backends (service port -> pod IP and target port).

Backends come from EndpointSlices; from the older ``Endpoints`` when no slice names the
service; else, as kube-proxy's controller would compute them, from the service selector
over the pods of the snapshot (``kubectl cluster-info dump`` exports no endpoints). Named
``targetPort``s are resolved through each backend pod's container ports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pcapkit.cluster.resources.pods import TERMINAL_PHASES, container_ports, pod_ips
from pcapkit.cluster.snapshot.snapshot import Snapshot

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass
class ServiceRecord:
    """One Service as of the newest snapshot listing it."""

    namespace: str
    name: str
    uid: str | None
    type: str
    cluster_ips: list[str]
    external_ips: list[str]
    load_balancer_ips: list[str]
    headless: bool
    selector: dict[str, str] | None
    ports: list[dict[str, Any]]
    external_name: str | None
    snapshot_time: int
    backends: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"


def collect_services(snapshots: list[Snapshot]) -> list[ServiceRecord]:
    """Newest version of every service, each with its backends from that snapshot."""
    latest: dict[tuple[str, str], tuple[Snapshot, dict[str, Any]]] = {}
    for snapshot in snapshots:
        for service in snapshot.of("Service"):
            meta = service["metadata"]
            latest[(meta["namespace"], meta["name"])] = (snapshot, service)
    records = []
    for snapshot, service in latest.values():
        record = _service_record(service, snapshot.time)
        record.backends = service_backends(record, snapshot)
        records.append(record)
    return records


def _service_record(service: dict[str, Any], time: int) -> ServiceRecord:
    meta, spec = service["metadata"], service.get("spec") or {}
    status = service.get("status") or {}
    cluster_ips = [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip]
    headless = any(ip == "None" for ip in cluster_ips)
    cluster_ips = [ip for ip in cluster_ips if ip != "None"]
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    return ServiceRecord(
        namespace=meta["namespace"],
        name=meta["name"],
        uid=meta.get("uid"),
        type=spec.get("type") or "ClusterIP",
        cluster_ips=cluster_ips,
        external_ips=list(spec.get("externalIPs") or []),
        load_balancer_ips=[i["ip"] for i in ingress if isinstance(i, dict) and i.get("ip")],
        headless=headless,
        selector=spec.get("selector"),
        ports=[dict(p) for p in spec.get("ports") or []],
        external_name=spec.get("externalName"),
        snapshot_time=time,
    )


def service_backends(record: ServiceRecord, snapshot: Snapshot) -> list[dict[str, Any]]:
    """Backend rows: service_port, port_name, protocol, target_port, ip, pod, node, ready."""
    slices = [
        s for s in snapshot.of("EndpointSlice")
        if s["metadata"]["namespace"] == record.namespace
        and (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == record.name
        and s.get("addressType") != "FQDN"
    ]
    if slices:
        return _from_slices(record, slices)
    endpoints = [
        e for e in snapshot.of("Endpoints")
        if e["metadata"]["namespace"] == record.namespace and e["metadata"]["name"] == record.name
    ]
    if endpoints:
        return _from_endpoints(record, endpoints[0])
    if record.selector:
        return _from_selector(record, snapshot)
    return []


def _service_port_for(record: ServiceRecord, name: str | None, protocol: str) -> int | None:
    for port in record.ports:
        if (port.get("name") or None) == (name or None) and (port.get("protocol") or "TCP") == protocol:
            return port["port"]
    if len(record.ports) == 1 and not name:
        return record.ports[0]["port"]
    return None


def _row(record: ServiceRecord, port: dict[str, Any], ip: str, target_ref: Any,
         node: str | None, ready: bool, source: str) -> dict[str, Any]:
    protocol = port.get("protocol") or "TCP"
    ref = target_ref if isinstance(target_ref, dict) else {}
    is_pod = ref.get("kind", "Pod") == "Pod" and ref.get("name")
    return {
        "namespace": record.namespace,
        "service": record.name,
        "service_port": _service_port_for(record, port.get("name"), protocol),
        "port_name": port.get("name") or None,
        "protocol": protocol,
        "target_port": port.get("port"),
        "ip": ip,
        "pod_namespace": (ref.get("namespace") or record.namespace) if is_pod else None,
        "pod": ref.get("name") if is_pod else None,
        "node": node,
        "ready": ready,
        "source": source,
    }


def _from_slices(record: ServiceRecord, slices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for endpoint_slice in slices:
        ports = endpoint_slice.get("ports") or [{}]
        for endpoint in endpoint_slice.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            ready = conditions.get("ready") is not False
            for ip in endpoint.get("addresses") or []:
                for port in ports:
                    rows.append(_row(record, port if isinstance(port, dict) else {}, ip,
                                     endpoint.get("targetRef"), endpoint.get("nodeName"),
                                     ready, "EndpointSlice"))
    return rows


def _from_endpoints(record: ServiceRecord, endpoints: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for subset in endpoints.get("subsets") or []:
        ports = subset.get("ports") or [{}]
        for key, ready in (("addresses", True), ("notReadyAddresses", False)):
            for address in subset.get(key) or []:
                for port in ports:
                    rows.append(_row(record, port if isinstance(port, dict) else {}, address["ip"],
                                     address.get("targetRef"), address.get("nodeName"), ready,
                                     "Endpoints"))
    return rows


def _from_selector(record: ServiceRecord, snapshot: Snapshot) -> list[dict[str, Any]]:
    rows = []
    selector = record.selector or {}
    for pod in snapshot.of("Pod"):
        meta = pod["metadata"]
        labels = meta.get("labels") or {}
        status = pod.get("status") or {}
        if meta["namespace"] != record.namespace or status.get("phase") in TERMINAL_PHASES:
            continue
        if any(labels.get(k) != v for k, v in selector.items()):
            continue
        ips = pod_ips(pod)
        if not ips:
            continue
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in status.get("conditions") or [])
        declared = container_ports(pod)
        for port in record.ports:
            protocol = port.get("protocol") or "TCP"
            target = resolve_target_port(port.get("targetPort", port["port"]), protocol, declared)
            if target is None:
                continue
            for ip in ips:
                rows.append({
                    "namespace": record.namespace,
                    "service": record.name,
                    "service_port": port["port"],
                    "port_name": port.get("name") or None,
                    "protocol": protocol,
                    "target_port": target,
                    "ip": ip,
                    "pod_namespace": meta["namespace"],
                    "pod": meta["name"],
                    "node": (pod.get("spec") or {}).get("nodeName"),
                    "ready": ready,
                    "source": "selector",
                })
    return rows


def resolve_target_port(target: Any, protocol: str, declared: list) -> int | None:
    """A service targetPort (number or container-port name) on one pod, None if absent."""
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    if isinstance(target, str):
        if target.isdigit():
            return int(target)
        for port in declared:
            if port.name == target and port.protocol == protocol:
                return port.port
    return None
