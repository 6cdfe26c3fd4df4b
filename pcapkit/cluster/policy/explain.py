"""Turn "namespace/pod", pod names and IPs into PolicyEngine input, and ask it.

The engine evaluates pods and addresses; this module decides what the user meant. A pod IP
is that pod (at the asked time, reuse included); a service IP is not subject to policy
itself: NetworkPolicy sees the backend pod after kube-proxy's DNAT, so the connection is
evaluated against each backend on its target port. The verdict returned is the denying one
when backends disagree (the notes list them all).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from pcapkit.cluster.identity.address_map import AddressMap, parse_address
from pcapkit.cluster.identity.build import pod_identity
from pcapkit.cluster.identity.identity import HOST_NETWORK_POD, NODE, POD, SERVICE, Identity
from pcapkit.cluster.policy.engine import PolicyEngine
from pcapkit.cluster.policy.model import PROTOCOLS
from pcapkit.cluster.resources.pods import TERMINAL_PHASES, PodRecord
from pcapkit.cluster.resources.services import ServiceRecord
from pcapkit.cluster.snapshot.exports import OTHER_POLICY_KEYS
from pcapkit.errors import PcapkitError


class ClusterRecords(Protocol):
    """What explaining needs of a :class:`pcapkit.cluster.Cluster`: the address lookup, the
    pod and service records, and objects by kind as of a time. Declared here so that this
    module does not import the Cluster that calls it."""

    address_map: AddressMap

    def objects_at(self, key: str, when: int | None) -> list[dict[str, Any]]: ...

    def find_pod(self, ref: str, when: int | None) -> PodRecord: ...

    def find_service(self, ref: str) -> ServiceRecord | None: ...

    def pod_record(self, identity: Identity) -> PodRecord | None: ...


_PORT_SPEC = re.compile(r"^(?P<port>[A-Za-z0-9-]+)(?:/(?P<proto>[A-Za-z]+))?$")


@dataclass
class Endpoint:
    """What one side of the connection turned out to be."""

    text: str
    engine_arg: dict[str, Any] | str
    identity: Identity | None = None
    service: ServiceRecord | None = None
    ip: str | None = None


@dataclass
class Explanation:
    """The verdict returned to the caller, plus how the endpoints were read."""

    verdict: Any
    source: Endpoint
    destination: Endpoint
    backend_verdicts: list[tuple[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The verdict's dict, with a ``resolved`` section saying what src/dst were."""
        data = dict(self.verdict.to_dict())
        data["resolved"] = {
            "from": _describe(self.source),
            "to": _describe(self.destination),
        }
        if self.backend_verdicts:
            data["backends"] = [{"backend": name, "allowed": bool(v.allowed)}
                                for name, v in self.backend_verdicts]
        return data


def parse_port_spec(text: str | int, proto: str | None = None) -> tuple[int | str, str]:
    """"5432/TCP", "5432", "postgres/TCP" or 5432 -> (port, protocol)."""
    if isinstance(text, int) and not isinstance(text, bool):
        port: int | str = text
        protocol = proto or "TCP"
    else:
        match = _PORT_SPEC.match(str(text).strip())
        if not match:
            raise PcapkitError(f"bad port {text!r}: write PORT/PROTOCOL, e.g. 5432/TCP")
        raw = match["port"]
        port = int(raw) if raw.isdigit() else raw
        protocol = match["proto"] or proto or "TCP"
    protocol = protocol.upper()
    if protocol not in PROTOCOLS:
        raise PcapkitError(f"bad protocol {protocol!r}: use TCP, UDP or SCTP")
    if isinstance(port, int) and not 1 <= port <= 65535:
        raise PcapkitError(f"bad port {port}: must be 1-65535")
    return port, protocol


def policy_engine(cluster: ClusterRecords, when: int | None) -> PolicyEngine:
    """The engine over the namespaces, pods and policies in force at ``when``."""
    return PolicyEngine(
        cluster.objects_at("Namespace", when),
        cluster.objects_at("Pod", when),
        cluster.objects_at("NetworkPolicy", when),
        [o for key in OTHER_POLICY_KEYS for o in cluster.objects_at(key, when)],
    )


def explain_connection(cluster: ClusterRecords, src: str, dst: str, port: int | str, proto: str,
                       when: int | None, engine: PolicyEngine | None = None) -> Explanation:
    """Evaluate src -> dst with the policies in force at ``when`` (None: newest snapshot).

    ``engine``: :func:`policy_engine` of the same ``when``, when the caller asks many
    questions of one snapshot (the engine compiles every policy and pod once)."""
    if isinstance(port, str) and "/" in port:
        port, proto = parse_port_spec(port)
    else:
        port, proto = parse_port_spec(port, proto)
    source = _endpoint(cluster, src, when, "source")
    destination = _endpoint(cluster, dst, when, "destination")
    engine = engine or policy_engine(cluster, when)
    notes = _endpoint_notes(source, "source") + _endpoint_notes(destination, "destination")
    if destination.service is not None:
        return _via_service(engine, source, destination, port, proto, notes)
    verdict = _evaluate(engine, source, destination, port, proto)
    _prepend_notes(verdict, notes)
    return Explanation(verdict, source, destination)


def _endpoint(cluster: ClusterRecords, text: str, when: int | None, role: str) -> Endpoint:
    text = str(text).strip()
    if not text:
        raise PcapkitError(f"empty {role}: give NAMESPACE/POD, a pod name or an IP")
    if parse_address(text) is not None:
        identity = cluster.address_map.resolve(text, when)
        if identity.kind == POD:
            record = cluster.pod_record(identity)
            if record is not None:
                return Endpoint(text, _as_of(record, when), identity, ip=text)
        if identity.kind == SERVICE and role == "destination":
            service = cluster.find_service(f"{identity.namespace}/{identity.name}")
            return Endpoint(text, text, identity, service, ip=text)
        return Endpoint(text, text, identity, ip=text)
    try:
        record = cluster.find_pod(text, when)
    except PcapkitError:
        service = cluster.find_service(text) if role == "destination" else None
        if service is None:
            raise
        identity = Identity(kind=SERVICE, namespace=service.namespace, name=service.name,
                            service=service.ref)
        return Endpoint(text, text, identity, service)
    kind = "host-network-pod" if record.host_network else POD
    return Endpoint(text, _as_of(record, when), pod_identity(record, None, kind=kind))


def _as_of(record: PodRecord, when: int | None) -> dict[str, Any]:
    """The pod object as it was at ``when``: a Job pod exported as Succeeded was Running
    while its lifetime covered that time, so it had its IP and was subject to policy."""
    obj = record.obj
    status = obj.get("status") or {}
    if (when is not None and status.get("phase") in TERMINAL_PHASES
            and record.start <= when <= record.end):
        return {**obj, "status": {**status, "phase": "Running"}}
    return obj


def _pinned_ip(endpoint: Endpoint) -> str | None:
    """The address a pod end was named by (dual-stack, Multus), None for other ends."""
    return endpoint.ip if isinstance(endpoint.engine_arg, dict) and endpoint.ip else None


def _evaluate(engine: Any, source: Endpoint, destination: Endpoint, port: int | str,
              proto: str) -> Any:
    kwargs = {name: ip for name, ip in (("src_ip", _pinned_ip(source)),
                                        ("dst_ip", _pinned_ip(destination))) if ip}
    return engine.evaluate(source.engine_arg, destination.engine_arg, port, proto, **kwargs)


def _via_service(engine: Any, source: Endpoint, destination: Endpoint, port: int | str,
                 proto: str, notes: list[str]) -> Explanation:
    service = destination.service
    assert service is not None
    backends = [b for b in service.backends
                if b["protocol"] == proto and b["pod"]
                and (b["service_port"] == port or b["port_name"] == port)]
    where = f"{destination.text} is service {service.ref}"
    if not backends:
        notes.append(f"{where}, which has no backend pod for {proto} {port}; evaluated "
                     "against the service address itself")
        verdict = _evaluate(engine, source, Endpoint(destination.text, destination.ip
                                                     or destination.text), port, proto)
        _prepend_notes(verdict, notes)
        return Explanation(verdict, source, destination)
    results: list[tuple[str, Any]] = []
    seen: set[tuple[str, str, int]] = set()
    for backend in backends:
        key = (backend["pod_namespace"], backend["pod"], backend["target_port"])
        if key in seen:
            continue
        seen.add(key)
        pod_ref = f"{backend['pod_namespace']}/{backend['pod']}"
        try:
            verdict = _evaluate(engine, source, Endpoint(pod_ref, pod_ref),
                                backend["target_port"], proto)
        except PcapkitError as exc:
            notes.append(f"backend {pod_ref} could not be evaluated: {exc}")
            continue
        results.append((f"{pod_ref}:{backend['target_port']}", verdict))
    if not results:
        raise PcapkitError(f"{where}: none of its backends could be evaluated")
    chosen = next((v for _, v in results if not v.allowed), results[0][1])
    summary = ", ".join(f"{name} {'allowed' if v.allowed else 'denied'}" for name, v in results)
    notes.append(f"{where}: NetworkPolicy applies to the backend pod after DNAT; evaluated "
                 f"against {len(results)} backend(s): {summary}")
    if len({v.allowed for _, v in results}) > 1:
        notes.append("backends disagree: the connection succeeds or fails depending on which "
                     "backend kube-proxy picks; the verdict shown is a denying one")
    _prepend_notes(chosen, notes)
    return Explanation(chosen, source, destination, results)


def _endpoint_notes(endpoint: Endpoint, role: str) -> list[str]:
    identity = endpoint.identity
    if identity is None or endpoint.ip is None:
        return []
    notes = []
    if identity.kind == POD and identity.confidence != "exact":
        notes.append(f"{role} {endpoint.ip} mapped to pod {identity.namespace}/{identity.name} "
                     f"with confidence {identity.confidence}")
    if identity.secondary_network:
        notes.append(f"{role} {endpoint.ip} is on Multus network {identity.network} "
                     f"({identity.interface}): NetworkPolicy does not apply there")
    if identity.kind not in (POD, SERVICE, NODE, HOST_NETWORK_POD):
        notes.append(f"{role} {endpoint.ip} is {identity}")
    return notes


def _prepend_notes(verdict: Any, notes: list[str]) -> None:
    existing = getattr(verdict, "notes", None)
    if isinstance(existing, list):
        existing[:0] = [n for n in notes if n not in existing]


def _describe(endpoint: Endpoint) -> str:
    if endpoint.identity is not None:
        return str(endpoint.identity)
    if isinstance(endpoint.engine_arg, dict):
        meta = endpoint.engine_arg.get("metadata") or {}
        return f"pod {meta.get('namespace')}/{meta.get('name')}"
    return endpoint.text
