"""Fill an AddressMap from the pods, services and nodes of the snapshots.

Registration order matters where addresses coincide: node addresses are registered before
service addresses, because some load balancers (k3s servicelb) publish node IPs as ingress
IPs; such a service is still found when a port is given.
"""

from __future__ import annotations

from pcapkit.cluster.identity.address_map import AddressMap
from pcapkit.cluster.identity.identity import (
    HOST_NETWORK_POD,
    NODE,
    POD,
    POD_CIDR,
    SERVICE,
    Identity,
)
from pcapkit.cluster.resources import multus
from pcapkit.cluster.resources.nodes import NodeInfo, PodRange
from pcapkit.cluster.resources.pods import PodRecord
from pcapkit.cluster.resources.services import ServiceRecord

_NODE_ROLES_FOR_PORTS = ("InternalIP", "ExternalIP")


def build_address_map(
    default_time: int,
    pods: list[PodRecord],
    services: list[ServiceRecord],
    nodes: dict[str, NodeInfo],
    ranges: list[PodRange],
    definitions: dict[str, multus.NetworkDefinition],
) -> AddressMap:
    """An AddressMap holding every address the snapshots reveal."""
    amap = AddressMap(default_time)
    for record in pods:
        _add_pod(amap, record, nodes)
    for info in nodes.values():
        for ip, role in info.addresses.items():
            amap.add_static(ip, Identity(kind=NODE, address=ip, name=info.name, node=info.name,
                                         labels=info.labels, note=role))
    for service in services:
        _add_service(amap, service, nodes)
    for pod_range in ranges:
        amap.add_range(pod_range.cidr, Identity(kind=POD_CIDR, node=pod_range.node,
                                                note=f"{pod_range.source} {pod_range.cidr}"))
    for ref, definition in definitions.items():
        if definition.subnet:
            amap.add_range(definition.subnet, Identity(
                kind=POD_CIDR, network=ref,
                note=f"Multus network {ref} ({definition.cni_type}) subnet {definition.subnet}"))
    return amap


def pod_identity(record: PodRecord, ip: str | None, kind: str = POD, **extra: str | None) -> Identity:
    """The identity of a pod record, for one of its addresses."""
    workload = record.workload
    return Identity(
        kind=kind,
        address=ip,
        namespace=record.namespace,
        name=record.name,
        uid=record.uid,
        labels=record.labels,
        node=record.node,
        workload_kind=workload.kind if workload else None,
        workload_name=workload.name if workload else None,
        service=", ".join(record.services) or None,
        istio=record.istio,
        **extra,
    )


def _node_ips(record: PodRecord, nodes: dict[str, NodeInfo]) -> list[str]:
    info = nodes.get(record.node or "")
    ips = list(record.ips) if record.host_network else []
    host_ip = (record.obj.get("status") or {}).get("hostIP")
    if host_ip and host_ip not in ips:
        ips.append(host_ip)
    if info is not None:
        ips += [ip for ip, role in info.addresses.items()
                if role in _NODE_ROLES_FOR_PORTS and ip not in ips]
    return ips


def _add_pod(amap: AddressMap, record: PodRecord, nodes: dict[str, NodeInfo]) -> None:
    if record.host_network:
        ports = {p.port for p in record.ports} | {p.host_port for p in record.ports if p.host_port}
        for ip in _node_ips(record, nodes):
            amap.add_ported(ip, pod_identity(record, ip, kind=HOST_NETWORK_POD), ports)
        return
    for ip in record.ips:
        amap.add_timed(ip, pod_identity(record, ip), record.start, record.end)
    for attachment in record.attachments:
        if attachment.default:
            continue
        for ip in attachment.ips:
            amap.add_timed(ip, pod_identity(record, ip, network=attachment.network,
                                            interface=attachment.interface,
                                            note=multus.SECONDARY_NETWORK_NOTE),
                           record.start, record.end)
    for port in record.ports:
        if port.host_port:
            for ip in _node_ips(record, nodes):
                amap.add_ported(ip, pod_identity(record, ip, note=f"hostPort {port.host_port}"),
                                {port.host_port})


def _add_service(amap: AddressMap, service: ServiceRecord, nodes: dict[str, NodeInfo]) -> None:
    def identity(ip: str | None, note: str) -> Identity:
        return Identity(kind=SERVICE, address=ip, namespace=service.namespace, name=service.name,
                        uid=service.uid, service=service.ref, note=note)

    service_ports = {p["port"] for p in service.ports}
    for ip in service.cluster_ips:
        note = "ClusterIP" if service.type == "ClusterIP" else f"ClusterIP of a {service.type}"
        amap.add_static(ip, identity(ip, note))
    for ip in service.load_balancer_ips:
        amap.add_ported(ip, identity(ip, "LoadBalancer ingress IP"), service_ports)
        amap.add_static(ip, identity(ip, "LoadBalancer ingress IP"))
    for ip in service.external_ips:
        amap.add_ported(ip, identity(ip, "externalIP"), service_ports)
        amap.add_static(ip, identity(ip, "externalIP"))
    for port in service.ports:
        node_port = port.get("nodePort")
        if not isinstance(node_port, int):
            continue
        for info in nodes.values():
            for ip, role in info.addresses.items():
                if role in _NODE_ROLES_FOR_PORTS:
                    amap.add_ported(ip, identity(ip, f"NodePort {node_port} on {info.name}"),
                                    {node_port})
