"""What an address is in the cluster: a pod, a service, a node, a pod range or external.

``Identity`` is what ``Cluster.resolve`` returns and what enrichment columns are made of.
``confidence`` says how sure the answer is for the time asked about:

- ``exact``: the object's known lifetime covers that time (or the address is not time-bound);
- ``nearest-snapshot``: no known lifetime covers it, the closest holder is reported;
- ``ambiguous``: two holders fit equally well, the most recent one is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

POD = "pod"
HOST_NETWORK_POD = "host-network-pod"
SERVICE = "service"
NODE = "node"
POD_CIDR = "pod-cidr"
EXTERNAL = "external"

EXACT = "exact"
NEAREST = "nearest-snapshot"
AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class Identity:
    """An address's owner. Fields not meaningful for a kind are None.

    ``name`` is the pod, service or node name; ``service`` lists "ns/name" of the services
    an address belongs to (the service itself, or the services a pod backs); ``network`` and
    ``interface`` are set for Multus secondary-network addresses; ``note`` says which
    address of the object matched (e.g. "Calico tunl0 (IPIP) address").
    """

    kind: str
    address: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None
    labels: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    node: str | None = None
    workload_kind: str | None = None
    workload_name: str | None = None
    service: str | None = None
    network: str | None = None
    interface: str | None = None
    istio: str | None = None
    confidence: str = EXACT
    note: str | None = None

    @property
    def workload(self) -> str | None:
        """``Kind namespace/name`` of the owning workload, or None."""
        if not self.workload_kind:
            return None
        return f"{self.workload_kind} {self.namespace}/{self.workload_name}"

    @property
    def secondary_network(self) -> bool:
        """True for an address on a Multus secondary network (no NetworkPolicy there)."""
        return self.network is not None

    def with_confidence(self, confidence: str) -> Identity:
        """A copy with another confidence."""
        return self if confidence == self.confidence else replace(self, confidence=confidence)

    def __str__(self) -> str:
        text = self._describe()
        if self.confidence != EXACT:
            text += f" [{self.confidence}]"
        return text

    def _describe(self) -> str:
        if self.kind in (POD, HOST_NETWORK_POD):
            label = "pod" if self.kind == POD else "hostNetwork pod"
            text = f"{label} {self.namespace}/{self.name}"
            if self.workload_kind and self.workload_kind != "Pod":
                text += f" ({self.workload})"
            if self.node:
                text += f" on {self.node}"
            if self.network:
                text += f", {self.interface or 'interface ?'} on network {self.network}"
            if self.note:
                text += f" via {self.note}"
            return text
        if self.kind == SERVICE:
            return f"service {self.namespace}/{self.name}" + (f" ({self.note})" if self.note else "")
        if self.kind == NODE:
            return f"node {self.name}" + (f" ({self.note})" if self.note else "")
        if self.kind == POD_CIDR:
            where = f"node {self.node}" if self.node else "no known node"
            return f"unknown pod on {where}" + (f" ({self.note})" if self.note else "")
        return f"external {self.address}" if self.address else "external"
