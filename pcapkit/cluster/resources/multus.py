"""Multus secondary networks: extra pod interfaces and the attachments that define them.

Multus writes what it attached into the pod annotation ``k8s.v1.cni.cncf.io/network-status``
(a JSON list of ``{name, interface, ips, mac, default}``); the request is in
``k8s.v1.cni.cncf.io/networks``. Traffic on those interfaces bypasses the cluster network, so
Kubernetes NetworkPolicy does not apply to it: identities from here carry the network name so
callers can say so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pcapkit.cluster.snapshot.validate import is_ip

NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"
NETWORK_STATUS_OLD = "k8s.v1.cni.cncf.io/networks-status"
NETWORKS_REQUEST = "k8s.v1.cni.cncf.io/networks"

SECONDARY_NETWORK_NOTE = (
    "Kubernetes NetworkPolicy does not apply on Multus secondary networks"
)


@dataclass(frozen=True)
class Attachment:
    """One interface of a pod as Multus reports (or the pod requests) it."""

    network: str
    interface: str | None
    ips: tuple[str, ...]
    mac: str | None
    default: bool
    reported: bool  # False: only requested in the networks annotation, no status yet


@dataclass(frozen=True)
class NetworkDefinition:
    """A NetworkAttachmentDefinition: its CNI plugin type and the master interface."""

    namespace: str
    name: str
    cni_type: str | None
    master: str | None
    subnet: str | None


def pod_attachments(pod: dict[str, Any]) -> tuple[list[Attachment], str | None]:
    """Attachments of a pod, and a problem message when its annotations are malformed."""
    annotations = pod["metadata"].get("annotations") or {}
    raw = annotations.get(NETWORK_STATUS, annotations.get(NETWORK_STATUS_OLD))
    attachments: list[Attachment] = []
    problem = None
    if raw:
        try:
            status = json.loads(raw)
        except json.JSONDecodeError:
            status = None
        if not isinstance(status, list):
            problem = f"annotation {NETWORK_STATUS} is not a JSON list; ignored"
            status = []
        for entry in status:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                problem = f"annotation {NETWORK_STATUS} holds an entry without a name"
                continue
            ips = tuple(ip for ip in entry.get("ips") or [] if is_ip(ip))
            attachments.append(Attachment(
                network=entry["name"],
                interface=entry.get("interface"),
                ips=ips,
                mac=(entry.get("mac") or None),
                default=bool(entry.get("default")),
                reported=True,
            ))
    reported = {a.network for a in attachments}
    for network in requested_networks(pod):
        if network not in reported and network.split("/")[-1] not in {
            r.split("/")[-1] for r in reported
        }:
            attachments.append(Attachment(network, None, (), None, False, False))
    return attachments, problem


def requested_networks(pod: dict[str, Any]) -> list[str]:
    """Networks named in ``k8s.v1.cni.cncf.io/networks`` ("a,b", "ns/a@net1" or JSON)."""
    meta = pod["metadata"]
    raw = (meta.get("annotations") or {}).get(NETWORKS_REQUEST)
    if not raw:
        return []
    namespace = meta.get("namespace") or "default"
    names: list[str] = []
    text = raw.strip()
    if text.startswith("["):
        try:
            entries = json.loads(text)
        except json.JSONDecodeError:
            return []
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                names.append(f"{entry.get('namespace') or namespace}/{entry['name']}")
        return names
    for item in text.split(","):
        item = item.strip().split("@")[0]
        if item:
            names.append(item if "/" in item else f"{namespace}/{item}")
    return names


def network_definition(nad: dict[str, Any]) -> NetworkDefinition:
    """Plugin type, master interface and IPAM subnet from a NAD's ``spec.config``."""
    meta = nad["metadata"]
    raw = (nad.get("spec") or {}).get("config") or "{}"
    config = json.loads(raw) if isinstance(raw, str) else {}
    plugin = config
    if isinstance(config.get("plugins"), list) and config["plugins"]:
        plugin = config["plugins"][0] if isinstance(config["plugins"][0], dict) else {}
    ipam = plugin.get("ipam") if isinstance(plugin.get("ipam"), dict) else {}
    subnet = ipam.get("subnet") or ipam.get("range")
    return NetworkDefinition(
        namespace=meta.get("namespace") or "default",
        name=meta["name"],
        cni_type=plugin.get("type") if isinstance(plugin.get("type"), str) else None,
        master=plugin.get("master") if isinstance(plugin.get("master"), str) else None,
        subnet=subnet if isinstance(subnet, str) else None,
    )
