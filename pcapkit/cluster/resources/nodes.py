"""Node addresses and pod ranges, including what Calico, Cilium and Flannel add.

A packet between nodes may carry any of a node's addresses: its InternalIP/ExternalIP, a
tunnel device address (Calico tunl0 / vxlan.calico, Flannel flannel.1, Cilium cilium_host),
or the pod-CIDR gateway of a cni bridge. Pod ranges come from ``spec.podCIDR(s)``, or for
Calico (which usually leaves podCIDR empty) from IPAM blocks, or from CiliumNode IPAM.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from pcapkit.cluster.snapshot.validate import is_cidr, is_ip

log = logging.getLogger(__name__)

CALICO_ADDRESS_ANNOTATIONS = {
    "projectcalico.org/IPv4Address": "Calico node address",
    "projectcalico.org/IPv6Address": "Calico node address",
    "projectcalico.org/IPv4IPIPTunnelAddr": "Calico tunl0 (IPIP) address",
    "projectcalico.org/IPv4VXLANTunnelAddr": "Calico vxlan.calico address",
    "projectcalico.org/IPv6VXLANTunnelAddr": "Calico vxlan-v6.calico address",
    "projectcalico.org/IPv4WireguardInterfaceAddr": "Calico wireguard.cali address",
}
FLANNEL_PUBLIC_IP = "flannel.alpha.coreos.com/public-ip"
FLANNEL_PUBLIC_IP_V6 = "flannel.alpha.coreos.com/public-ipv6"
FLANNEL_BACKEND_DATA = "flannel.alpha.coreos.com/backend-data"
FLANNEL_BACKEND_TYPE = "flannel.alpha.coreos.com/backend-type"
CILIUM_HOST_ANNOTATIONS = ("network.cilium.io/ipv4-cilium-host", "io.cilium.network.ipv4-cilium-host")
CILIUM_PODCIDR_ANNOTATIONS = ("network.cilium.io/ipv4-pod-cidr", "io.cilium.network.ipv4-pod-cidr")


@dataclass
class NodeInfo:
    """Everything pcapkit knows about one node's addressing."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)  # ip -> role
    pod_cidrs: list[str] = field(default_factory=list)
    cni: str | None = None
    vtep_mac: str | None = None
    vni: int | None = None
    backend: str | None = None

    def add_address(self, ip: str, role: str) -> None:
        """Record an address; the first role recorded for an IP wins."""
        ip = str(ipaddress.ip_address(ip))
        self.addresses.setdefault(ip, role)

    def ips_with_role(self, prefix: str) -> list[str]:
        """Addresses whose role starts with ``prefix``."""
        return [ip for ip, role in self.addresses.items() if role.startswith(prefix)]


@dataclass(frozen=True)
class PodRange:
    """A CIDR from which pods get addresses, and the node it belongs to (if known)."""

    cidr: str
    node: str | None
    source: str


def node_info(node: dict[str, Any], problems: list[str]) -> NodeInfo:
    """Addresses, pod CIDRs and CNI details of a Node object."""
    meta = node["metadata"]
    annotations = meta.get("annotations") or {}
    info = NodeInfo(name=meta["name"], labels=dict(meta.get("labels") or {}))
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") in ("InternalIP", "ExternalIP"):
            info.add_address(address["address"], address["type"])
    spec = node.get("spec") or {}
    info.pod_cidrs = list(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))
    for key, role in CALICO_ADDRESS_ANNOTATIONS.items():
        if key in annotations:
            info.cni = "calico"
            _annotation_ip(info, annotations[key], role, key, problems)
    for key in CILIUM_HOST_ANNOTATIONS:
        if key in annotations:
            info.cni = "cilium"
            _annotation_ip(info, annotations[key], "Cilium cilium_host address", key, problems)
    for key in CILIUM_PODCIDR_ANNOTATIONS:
        if key in annotations and not info.pod_cidrs and is_cidr(annotations[key]):
            info.pod_cidrs.append(annotations[key])
    if any(k.startswith("flannel.alpha.coreos.com/") for k in annotations):
        info.cni = "flannel"
        for key in (FLANNEL_PUBLIC_IP, FLANNEL_PUBLIC_IP_V6):
            if key in annotations:
                _annotation_ip(info, annotations[key], "Flannel public-ip", key, problems)
        info.backend = annotations.get(FLANNEL_BACKEND_TYPE)
        _flannel_backend_data(info, annotations.get(FLANNEL_BACKEND_DATA), problems)
    return info


def _annotation_ip(info: NodeInfo, value: str, role: str, key: str, problems: list[str]) -> None:
    candidate = value.split("/")[0].strip()
    if is_ip(candidate):
        info.add_address(candidate, role)
    else:
        _problem(problems, f"Node {info.name}: annotation {key}={value!r} is not an IP; ignored")


def _flannel_backend_data(info: NodeInfo, raw: str | None, problems: list[str]) -> None:
    if not raw:
        return
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        _problem(problems, f"Node {info.name}: {FLANNEL_BACKEND_DATA} is not JSON; ignored")
        return
    mac = data.get("VtepMAC")
    info.vtep_mac = mac.lower() if isinstance(mac, str) else None
    info.vni = data.get("VNI") if isinstance(data.get("VNI"), int) else None


def add_bridge_gateways(info: NodeInfo) -> None:
    """Flannel and plain bridge CNIs: .0 is flannel.1 (Flannel VXLAN), .1 is the cni0 bridge."""
    if info.cni not in (None, "flannel"):
        return
    for cidr in info.pod_cidrs:
        network = ipaddress.ip_network(cidr, strict=False)
        if network.num_addresses < 4:
            continue
        if info.cni == "flannel" and network.version == 4:
            info.add_address(str(network.network_address), "Flannel flannel.1 VTEP (.0 of podCIDR)")
        info.add_address(str(network.network_address + 1), "cni0 bridge gateway (.1 of podCIDR)")


def apply_cilium_node(info: NodeInfo, cilium_node: dict[str, Any]) -> None:
    """Merge a CiliumNode: cilium_host (CiliumInternalIP), health IP, IPAM pod CIDRs."""
    info.cni = "cilium"
    spec = cilium_node.get("spec") or {}
    for address in spec.get("addresses") or []:
        kind = address.get("type")
        if kind == "CiliumInternalIP":
            info.add_address(address["ip"], "CiliumInternalIP (cilium_host)")
        elif kind in ("InternalIP", "ExternalIP"):
            info.add_address(address["ip"], kind)
    for key in ("health", "ingress"):
        block = spec.get(key) if isinstance(spec.get(key), dict) else {}
        for family in ("ipv4", "ipv6"):
            if is_ip(block.get(family)):
                info.add_address(block[family], f"Cilium {key} endpoint")
    ipam = spec.get("ipam") if isinstance(spec.get("ipam"), dict) else {}
    for cidr in ipam.get("podCIDRs") or []:
        if cidr not in info.pod_cidrs:
            info.pod_cidrs.append(cidr)


def calico_ranges(
    blocks: list[dict[str, Any]], affinities: list[dict[str, Any]], pools: list[dict[str, Any]]
) -> list[PodRange]:
    """Pod ranges from Calico IPAMBlocks (affinity ``host:<node>``), BlockAffinities, IPPools."""
    ranges: list[PodRange] = []
    for block in blocks:
        spec = block.get("spec") or {}
        affinity = spec.get("affinity") or ""
        node = affinity[len("host:"):] if affinity.startswith("host:") else None
        if spec.get("cidr"):
            ranges.append(PodRange(spec["cidr"], node, f"Calico IPAMBlock {block['metadata']['name']}"))
    for affinity in affinities:
        spec = affinity.get("spec") or {}
        if spec.get("cidr") and spec.get("node") and spec.get("state", "confirmed") != "pendingDeletion":
            ranges.append(PodRange(spec["cidr"], spec["node"],
                                   f"Calico BlockAffinity {affinity['metadata']['name']}"))
    for pool in pools:
        spec = pool.get("spec") or {}
        if spec.get("cidr"):
            ranges.append(PodRange(spec["cidr"], None, f"Calico IPPool {pool['metadata']['name']}"))
    return ranges


def _problem(problems: list[str], message: str) -> None:
    log.warning("%s", message)
    problems.append(message)
