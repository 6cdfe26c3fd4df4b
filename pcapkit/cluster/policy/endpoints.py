"""The two ends of a connection as NetworkPolicy evaluation sees them: pods or bare IPs.

:func:`pod_info` extracts from a Pod object what evaluation needs (labels, IPs, node, named
container ports, Multus secondary-network IPs); :class:`Endpoint` is one end of the connection.

Semantics: hostNetwork pods are not subject to pod policies, at either end; as a peer they are
the node (only ipBlock rules can match their IP). Multus secondary-network traffic is not
covered by NetworkPolicy at all. Succeeded/Failed pods and pods without IP are never the pod
behind an IP address.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pcapkit.cluster.policy.model import IPAddress
from pcapkit.cluster.resources.multus import NETWORK_STATUS as NETWORK_STATUS_ANNOTATION
from pcapkit.cluster.resources.pods import TERMINAL_PHASES
from pcapkit.errors import PcapkitError

# namespace name -> the labels namespace selectors see for it
NamespaceLabels = Callable[[str], Mapping[str, str]]


@dataclass(frozen=True)
class PodInfo:
    """What policy evaluation needs from a Pod object."""

    namespace: str
    name: str
    uid: str | None
    labels: Mapping[str, str]
    host_network: bool
    phase: str | None
    ips: tuple[IPAddress, ...]
    host_ips: tuple[IPAddress, ...]
    node: str | None
    service_account: str | None
    named_ports: Mapping[tuple[str, str], frozenset[int]]
    secondary_ips: Mapping[IPAddress, tuple[str, str]]

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @property
    def active(self) -> bool:
        """True unless the pod finished (Succeeded/Failed): only active pods own an IP."""
        return self.phase not in TERMINAL_PHASES

    def ports_named(self, name: str, protocol: str) -> frozenset[int]:
        """Container port numbers called ``name`` with ``protocol``."""
        return self.named_ports.get((name, protocol), frozenset())

    def name_of_port(self, number: int, protocol: str) -> str | None:
        """The container port name for ``number``/``protocol``, if any."""
        for (name, proto), numbers in self.named_ports.items():
            if proto == protocol and number in numbers:
                return name
        return None


def pod_info(obj: Mapping) -> PodInfo:
    """Extract a :class:`PodInfo`; raises :class:`PcapkitError` naming a missing field."""
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
        raise PcapkitError("pod object has no metadata.name")
    name = meta["name"]
    namespace = meta.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        raise PcapkitError(f"pod {name} has no metadata.namespace")
    spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
    status = obj.get("status") if isinstance(obj.get("status"), Mapping) else {}
    labels = meta.get("labels") if isinstance(meta.get("labels"), Mapping) else {}
    annotations = meta.get("annotations") if isinstance(meta.get("annotations"), Mapping) else {}
    return PodInfo(
        namespace=namespace,
        name=name,
        uid=meta.get("uid") if isinstance(meta.get("uid"), str) else None,
        labels={str(k): str(v) for k, v in labels.items()},
        host_network=bool(spec.get("hostNetwork")),
        phase=status.get("phase"),
        ips=_addresses(status.get("podIPs"), status.get("podIP")),
        host_ips=_addresses(status.get("hostIPs"), status.get("hostIP")),
        node=spec.get("nodeName") if isinstance(spec.get("nodeName"), str) else None,
        service_account=spec.get("serviceAccountName") or spec.get("serviceAccount"),
        named_ports=_named_ports(spec),
        secondary_ips=_secondary_ips(annotations.get(NETWORK_STATUS_ANNOTATION)),
    )


def _addresses(listed: object, single: object) -> tuple[IPAddress, ...]:
    texts: list[object] = []
    if isinstance(listed, list):
        texts = [item.get("ip") if isinstance(item, Mapping) else item for item in listed]
    if single and single not in texts:
        texts.insert(0, single)
    found: list[IPAddress] = []
    for text in texts:
        try:
            ip = ipaddress.ip_address(str(text).strip())
        except ValueError:
            continue
        if ip not in found:
            found.append(ip)
    return tuple(found)


def _named_ports(spec: Mapping) -> dict[tuple[str, str], frozenset[int]]:
    containers = list(spec.get("containers") or [])
    # restartable init containers (native sidecars) expose ports like regular containers
    containers += [c for c in spec.get("initContainers") or []
                   if isinstance(c, Mapping) and c.get("restartPolicy") == "Always"]
    ports: dict[tuple[str, str], set[int]] = {}
    for container in containers:
        if not isinstance(container, Mapping):
            continue
        for port in container.get("ports") or []:
            if not isinstance(port, Mapping):
                continue
            name, number = port.get("name"), port.get("containerPort")
            if isinstance(name, str) and isinstance(number, int):
                ports.setdefault((name, port.get("protocol") or "TCP"), set()).add(number)
    return {key: frozenset(numbers) for key, numbers in ports.items()}


def _secondary_ips(raw: object) -> dict[IPAddress, tuple[str, str]]:
    """Multus network-status: IPs of the non-default networks -> (network, interface)."""
    if not isinstance(raw, str):
        return {}
    try:
        networks = json.loads(raw)
    except ValueError:
        return {}
    found: dict[IPAddress, tuple[str, str]] = {}
    for network in networks if isinstance(networks, list) else []:
        if not isinstance(network, Mapping) or network.get("default"):
            continue
        for ip in _addresses(network.get("ips"), None):
            found[ip] = (str(network.get("name", "?")), str(network.get("interface", "?")))
    return found


@dataclass(frozen=True)
class Endpoint:
    """One end of the connection: a pod (possibly hostNetwork) or a bare IP address."""

    label: str
    pod: PodInfo | None = None
    ips: tuple[IPAddress, ...] = ()
    secondary_network: str | None = None

    @property
    def subject_to_policy(self) -> bool:
        """True for a pod on the pod network: NetworkPolicy applies to it."""
        return self.pod is not None and not self.pod.host_network \
            and self.secondary_network is None

    @property
    def is_selectable_pod(self) -> bool:
        """True when pod/namespace selectors can match this endpoint as a peer."""
        return self.pod is not None and not self.pod.host_network

    def for_family(self, version: int | None) -> Endpoint:
        """The same endpoint keeping only addresses of IP ``version`` (None keeps all)."""
        if version is None:
            return self
        return Endpoint(self.label, self.pod, tuple(i for i in self.ips if i.version == version),
                        self.secondary_network)
