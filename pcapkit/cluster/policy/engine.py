"""Evaluate ``networking.k8s.io/v1`` NetworkPolicies for one connection, as Kubernetes does.

:class:`PolicyEngine` compiles the policies of a cluster export once and answers "may ``src``
open a ``protocol``/``port`` connection to ``dst``?" with a :class:`Verdict` that says why:
which policies isolate each end, which rule (policy, rule index, peer index, port index)
admitted the traffic, or that none did.

The engine resolves both ends (pod objects, ``namespace/name`` or IP addresses) and the port,
then asks each direction in turn. Its parts:

* :mod:`pcapkit.cluster.policy.model`: parsing and validating NetworkPolicy objects
  (``podSelector``, ``policyTypes`` defaulting, peers, ports, malformed policies);
* :mod:`pcapkit.cluster.policy.endpoints`: pods and bare IPs as connection ends
  (hostNetwork, Multus secondary networks, finished pods);
* :mod:`pcapkit.cluster.policy.direction`: isolation, rule, peer and port matching and the
  exceptions that follow no policy (a pod to itself, a pod and its node);
* :mod:`pcapkit.cluster.policy.verdict`: the verdict dataclasses, JSON form and text;
* :mod:`pcapkit.cluster.policy.other_kinds`: Cilium and Calico policy objects, counted and
  mentioned per selected pod, never evaluated.

Semantics of the whole: traffic is allowed iff ingress on the destination AND egress on the
source allow it. Replies of an allowed connection are always allowed (policies act on
connections). Malformed policies are skipped with a ``logging.warning`` naming them (logger
``pcapkit.cluster.policy.engine``) and listed in the verdict notes.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping

from pcapkit.cluster.policy.direction import evaluate_direction
from pcapkit.cluster.policy.endpoints import (
    NETWORK_STATUS_ANNOTATION,
    TERMINAL_PHASES,
    Endpoint,
    PodInfo,
    pod_info,
)
from pcapkit.cluster.policy.model import (
    POLICY_GROUP,
    PROTOCOLS,
    CompiledPolicy,
    IPAddress,
    IPBlockPeer,
    IPNetwork,
    Peer,
    PolicyFormatError,
    PortSpec,
    Rule,
    SkippedPolicy,
    compile_policy,
)
from pcapkit.cluster.policy.other_kinds import other_policy_notes
from pcapkit.cluster.policy.verdict import NO_POLICIES, DirectionVerdict, RuleMatch, Verdict
from pcapkit.errors import PcapkitError

__all__ = [
    "NAMESPACE_NAME_LABEL",
    "NETWORK_STATUS_ANNOTATION",
    "POLICY_GROUP",
    "PROTOCOLS",
    "TERMINAL_PHASES",
    "CompiledPolicy",
    "DirectionVerdict",
    "Endpoint",
    "IPAddress",
    "IPBlockPeer",
    "IPNetwork",
    "Peer",
    "PodInfo",
    "PolicyEngine",
    "PolicyFormatError",
    "PortSpec",
    "Rule",
    "RuleMatch",
    "SkippedPolicy",
    "Verdict",
    "compile_policy",
    "pod_info",
]

log = logging.getLogger(__name__)

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


class PolicyEngine:
    """NetworkPolicy evaluation over one cluster export (see module docstring for semantics).

    ``namespaces``, ``pods`` and ``policies`` are raw Kubernetes objects as dicts (as in
    ``kubectl get -o json``). ``other_policies`` are CNI policy objects (Cilium, Calico...):
    counted and mentioned in verdict notes for the pods they select, never evaluated.
    NetworkPolicy-kind objects of another API group (Calico ``projectcalico.org``) found in
    ``policies`` are moved to the other policies.
    """

    def __init__(self, namespaces: list[dict], pods: list[dict], policies: list[dict],
                 other_policies: list[dict] | None = None) -> None:
        self.namespace_labels: dict[str, dict[str, str]] = {}
        for obj in namespaces or []:
            self._add_namespace(obj)
        self.pods: list[PodInfo] = []
        for obj in pods or []:
            try:
                self.pods.append(pod_info(obj))
            except PcapkitError as exc:
                log.warning("skipping pod: %s", exc)
        self.skipped: list[SkippedPolicy] = []
        self.other_policies: list[dict] = [p for p in other_policies or []
                                           if isinstance(p, Mapping)]
        self.policies: list[CompiledPolicy] = []
        self._by_namespace: dict[str, list[CompiledPolicy]] = {}
        for obj in policies or []:
            self._add_policy(obj)
        self._pods_by_key = {pod.key: pod for pod in self.pods}
        self._node_by_ip = {ip: pod.node for pod in self.pods if pod.node for ip in pod.host_ips}
        self._pods_by_ip: dict[IPAddress, list[PodInfo]] = {}
        self._pods_by_secondary_ip: dict[IPAddress, list[PodInfo]] = {}
        for pod in self.pods:
            if not pod.active:
                continue
            for ip in pod.ips if not pod.host_network else ():
                self._pods_by_ip.setdefault(ip, []).append(pod)
            for ip in pod.secondary_ips:
                self._pods_by_secondary_ip.setdefault(ip, []).append(pod)

    # -- loading --

    def _add_namespace(self, obj: object) -> None:
        meta = obj.get("metadata") if isinstance(obj, Mapping) else None
        if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
            log.warning("skipping namespace object without metadata.name")
            return
        labels = meta.get("labels") if isinstance(meta.get("labels"), Mapping) else {}
        merged = {str(k): str(v) for k, v in labels.items()}
        merged.setdefault(NAMESPACE_NAME_LABEL, meta["name"])  # automatic since 1.22
        self.namespace_labels[meta["name"]] = merged

    def _add_policy(self, obj: object) -> None:
        if not isinstance(obj, Mapping):
            log.warning("skipping NetworkPolicy entry that is not an object: %r", obj)
            return
        group = str(obj.get("apiVersion") or f"{POLICY_GROUP}/v1").split("/")[0]
        if group != POLICY_GROUP:
            self.other_policies.append(obj)
            return
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
        namespace = meta.get("namespace") if isinstance(meta.get("namespace"), str) else None
        key = f"{namespace or '?'}/{meta.get('name', '?')}"
        if obj.get("kind", "NetworkPolicy") != "NetworkPolicy":
            log.warning("ignoring %s %s given as a NetworkPolicy", obj.get("kind"), key)
            return
        try:
            policy = compile_policy(obj)
        except PcapkitError as exc:
            log.warning("skipping NetworkPolicy %s: %s", key, exc)
            self.skipped.append(SkippedPolicy(key, namespace, str(exc)))
            return
        self.policies.append(policy)
        self._by_namespace.setdefault(policy.namespace, []).append(policy)

    def namespace_labels_of(self, namespace: str) -> dict[str, str]:
        """Labels of ``namespace``; only the automatic name label when it is not exported."""
        return self.namespace_labels.get(namespace, {NAMESPACE_NAME_LABEL: namespace})

    def selecting_policies(self, pod: PodInfo, direction: str) -> list[CompiledPolicy]:
        """Policies of the pod's namespace that select it and isolate ``direction``."""
        return [p for p in self._by_namespace.get(pod.namespace, [])
                if p.affects(direction) and p.pod_selector.matches(pod.labels)]

    # -- evaluation --

    def evaluate(self, src: dict | str, dst: dict | str, port: int | str,
                 protocol: str = "TCP", *, reply: bool = False, src_ip: str | None = None,
                 dst_ip: str | None = None, secondary_network: bool = False) -> Verdict:
        """Evaluate a connection from ``src`` to ``dst`` on ``protocol``/``port``.

        ``src``/``dst``: a Pod dict, ``"namespace/name"`` of an exported pod, or an IP
        string (resolved to the active pod holding it, if exactly one does). ``port``: a
        number or a container-port name of the destination pod. ``src_ip``/``dst_ip`` name
        the address a pod used (dual-stack, Multus); ``secondary_network=True`` says the
        traffic ran on a Multus secondary network, where NetworkPolicy does not apply.
        ``reply=True``: ``src``/``dst``/``port`` describe a reply packet (server -> client,
        ``port`` = the server's port); the verdict is that of the original connection.
        """
        if reply:
            src, dst, src_ip, dst_ip = dst, src, dst_ip, src_ip
        notes: list[str] = []
        src_end = self._endpoint(src, src_ip, "source", notes)
        dst_end = self._endpoint(dst, dst_ip, "destination", notes)
        if secondary_network:
            src_end = Endpoint(src_end.label, src_end.pod, src_end.ips, "secondary network")
            dst_end = Endpoint(dst_end.label, dst_end.pod, dst_end.ips, "secondary network")
        proto = str(protocol).strip().upper()
        number, name = self._resolve_port(port, proto, dst_end)
        version = _connection_family(src_end, dst_end)
        src_end, dst_end = src_end.for_family(version), dst_end.for_family(version)

        egress = self._direction("egress", src_end, dst_end, number, proto)
        ingress = self._direction("ingress", dst_end, src_end, number, proto)
        allowed = ingress.allowed and egress.allowed
        notes += self._notes(src_end, dst_end, proto, egress, reply, allowed)
        return Verdict(allowed, src_end.label, dst_end.label, number, proto, ingress, egress,
                       notes, name, reply, self.no_policies)

    @property
    def no_policies(self) -> bool:
        """True when the export held no NetworkPolicy object at all (not even a malformed
        one): its verdicts cannot clear or convict anything."""
        return not self.policies and not self.skipped

    def _endpoint(self, raw: dict | str, ip_text: str | None, role: str,
                  notes: list[str]) -> Endpoint:
        explicit = _parse_ip(ip_text, f"{role} IP") if ip_text else None
        if isinstance(raw, Mapping):
            pod = pod_info(raw)
        elif isinstance(raw, str) and "/" in raw and not _looks_like_ip(raw):
            pod = self._pods_by_key.get(raw.strip())
            if pod is None:
                raise PcapkitError(f"{role} {raw!r}: no such pod in the snapshot")
        elif isinstance(raw, str):
            ip = _parse_ip(raw, role)
            return self._endpoint_for_ip(ip, role, notes)
        else:
            raise PcapkitError(f"{role} must be a pod object, 'namespace/pod' or an IP address, "
                               f"got {type(raw).__name__}")
        return self._pod_endpoint(pod, explicit, role, notes)

    def _pod_endpoint(self, pod: PodInfo, explicit: IPAddress | None, role: str,
                      notes: list[str]) -> Endpoint:
        if not pod.active:
            notes.append(f"{role} pod {pod.key} is in phase {pod.phase}: it has no network; "
                         "traffic to its former IP reached whichever pod holds that IP now")
        if explicit is None:
            if not pod.ips:
                notes.append(f"{role} pod {pod.key} has no IP in the snapshot: ipBlock peers "
                             "cannot match it")
            return Endpoint(pod.key, pod, pod.ips)
        if explicit in pod.secondary_ips:
            network, interface = pod.secondary_ips[explicit]
            return Endpoint(pod.key, pod, (explicit,), f"{network} ({interface})")
        if explicit not in pod.ips and pod.ips:
            notes.append(f"{role} IP {explicit} is not listed among the IPs of pod {pod.key}")
        return Endpoint(pod.key, pod, (explicit,))

    def _endpoint_for_ip(self, ip: IPAddress, role: str, notes: list[str]) -> Endpoint:
        owners = self._pods_by_ip.get(ip, [])
        if len(owners) == 1:
            notes.append(f"{role} {ip} is pod {owners[0].key}")
            return Endpoint(owners[0].key, owners[0], (ip,))
        if len(owners) > 1:
            names = ", ".join(p.key for p in owners)
            notes.append(f"{role} {ip} is claimed by several active pods ({names}); evaluated "
                         "as a plain address")
            return Endpoint(str(ip), None, (ip,))
        secondary = self._pods_by_secondary_ip.get(ip, [])
        if len(secondary) == 1:
            network, interface = secondary[0].secondary_ips[ip]
            notes.append(f"{role} {ip} is pod {secondary[0].key} on secondary network "
                         f"{network} ({interface})")
            return Endpoint(secondary[0].key, secondary[0], (ip,), f"{network} ({interface})")
        if ip in self._node_by_ip:
            notes.append(f"{role} {ip} is the address of node {self._node_by_ip[ip]} (or of a "
                         "hostNetwork pod on it)")
        return Endpoint(str(ip), None, (ip,))

    def _resolve_port(self, port: int | str, protocol: str,
                      dst: Endpoint) -> tuple[int, str | None]:
        if isinstance(port, str) and port.strip().isdigit():
            port = int(port.strip())
        if isinstance(port, bool) or not isinstance(port, int | str):
            raise PcapkitError(f"port must be a number or a port name, got {port!r}")
        if isinstance(port, int):
            low = 0 if protocol not in PROTOCOLS else 1
            if not low <= port <= 65535:
                raise PcapkitError(f"port {port} is outside {low}-65535")
            name = dst.pod.name_of_port(port, protocol) if dst.pod else None
            return port, name
        name = port.strip()
        if dst.pod is None:
            raise PcapkitError(f"port name {name!r} needs a pod destination; {dst.label} is "
                               "not a pod")
        numbers = dst.pod.ports_named(name, protocol)
        if not numbers:
            raise PcapkitError(f"pod {dst.label} has no {protocol} container port named "
                               f"{name!r}")
        return min(numbers), name

    def _direction(self, direction: str, target: Endpoint, peer: Endpoint, port: int,
                   protocol: str) -> DirectionVerdict:
        """Ingress on ``target`` from ``peer``, or egress from ``target`` to ``peer``."""
        return evaluate_direction(direction, target, peer, port, protocol,
                                  self.selecting_policies, self.namespace_labels_of)

    # -- notes --

    def _notes(self, src: Endpoint, dst: Endpoint, protocol: str, egress: DirectionVerdict,
               reply: bool, allowed: bool) -> list[str]:
        notes: list[str] = [NO_POLICIES] if self.no_policies else []
        if protocol not in PROTOCOLS:
            notes.append(f"NetworkPolicy is defined for TCP, UDP and SCTP; for {protocol} the "
                         "behaviour varies across network plugins (only rules without ports "
                         "were applied)")
        for end in (src, dst):
            if end.pod is not None and end.pod.host_network:
                notes.append(f"{end.label} uses hostNetwork: it is not subject to pod "
                             "NetworkPolicies and peers see it as its node")
        if src.secondary_network or dst.secondary_network:
            notes.append("NetworkPolicy does not apply on Multus secondary networks "
                         "(MultiNetworkPolicy objects, if any, are not evaluated)")
        if egress.allowed and egress.isolated and egress.reason.startswith("traffic to the node"):
            notes.append("egress to the pod's own node is allowed per the Kubernetes docs; some "
                         "CNIs (e.g. Cilium) enforce it")
        namespaces = {e.pod.namespace for e in (src, dst) if e.pod is not None}
        for skipped in self.skipped:
            if skipped.namespace in namespaces or skipped.namespace is None:
                notes.append(f"NetworkPolicy {skipped.key} was skipped as malformed "
                             f"({skipped.reason}); the verdict ignores it")
        notes += other_policy_notes(self.other_policies,
                                    [e for e in (src, dst) if e.subject_to_policy],
                                    self.namespace_labels_of)
        if reply:
            notes.append("reply packet: replies of an allowed connection are always allowed"
                         if allowed else "reply packet of a connection NetworkPolicy denies: "
                         "the connection cannot have been established under these policies")
        return notes


def _connection_family(src: Endpoint, dst: Endpoint) -> int | None:
    """IP version of the connection when one end pins it (bare IP or explicit address)."""
    for end in (src, dst):
        pinned = end.pod is None or end.ips != end.pod.ips
        if pinned and end.ips:
            return end.ips[0].version
    return None


def _parse_ip(text: str, what: str) -> IPAddress:
    try:
        return ipaddress.ip_address(str(text).strip())
    except ValueError:
        raise PcapkitError(f"{what} {text!r} is neither a pod nor an IP address") from None


def _looks_like_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return True
