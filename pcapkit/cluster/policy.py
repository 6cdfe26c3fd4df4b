"""Evaluate ``networking.k8s.io/v1`` NetworkPolicies for one connection, as Kubernetes does.

:class:`PolicyEngine` compiles the policies of a cluster export once and answers "may ``src``
open a ``protocol``/``port`` connection to ``dst``?" with a :class:`Verdict` that says why:
which policies isolate each end, which rule (policy, rule index, peer index, port index)
admitted the traffic, or that none did.

Semantics (Kubernetes API reference, the NetworkPolicy concept page and the upstream netpol
e2e / cyclonus truth tables):

* ``spec.podSelector`` selects pods of the policy's namespace; ``{}`` (or absent) selects all.
* ``policyTypes`` defaults to ``["Ingress"]`` plus ``"Egress"`` when ``spec.egress`` is a
  *non-empty* list (apiserver ``SetDefaults_NetworkPolicy``: ``len(spec.egress) != 0``);
  ``egress: []`` alone therefore does not isolate for egress.
* A pod is isolated for a direction when any policy selecting it has that policy type. An
  isolated direction allows exactly what at least one rule of those policies admits (rules
  are ORed across policies); ``ingress: []`` admits nothing, ``ingress: [{}]`` everything.
* A rule admits traffic when one of its peers matches (absent/empty ``from``/``to`` = any
  peer) and one of its ports matches (absent/empty ``ports`` = any port and protocol).
* Peers: ``podSelector`` alone = pods of the policy's namespace; ``namespaceSelector`` alone
  = all pods of matching namespaces; both in ONE peer = AND; separate peers = OR.
  ``ipBlock`` (``cidr`` minus ``except``) is matched against the peer's IP, pod IPs included:
  the API text says ipBlock is meant for cluster-external addresses, but the upstream e2e
  tests ("should allow egress access to server in CIDR block", "...except clause...") put
  pod IPs in ipBlocks and expect them to match, and cyclonus does the same.
* Ports: protocol TCP (default), UDP or SCTP; a number, a ``port..endPort`` range, or a
  container-port name resolved on the *destination* pod's containers with the same
  protocol, for ingress and for egress rules; a non-pod destination never matches a name.
* Traffic is allowed iff ingress on the destination AND egress on the source allow it.
  Replies of an allowed connection are always allowed (policies act on connections).
* Exceptions that follow no policy: a pod's traffic to itself (upstream e2e
  ``AllowLoopback``, docs "a pod cannot block access to itself"); traffic between a pod and
  the node it runs on (docs: "traffic to and from the node where a Pod is running is always
  allowed"; the API reference states it for ingress; some CNIs, e.g. Cilium, do enforce egress
  to the own node, which the verdict notes).
* hostNetwork pods are not subject to pod policies, at either end; as a peer they are the
  node (only ipBlock rules can match their IP). Multus secondary-network traffic is not
  covered by NetworkPolicy at all. Succeeded/Failed pods and pods without IP are never the
  pod behind an IP address.

Malformed policies (unknown selector operator, ``In`` without values, bad CIDR, bad port...)
are skipped with a ``logging.warning`` naming them and listed in the verdict notes.
Cilium and Calico policy objects are counted and mentioned per selected pod, never evaluated.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pcapkit.cluster.selectors import (
    LabelSelector,
    SelectorError,
    calico_selector_matches,
    cilium_identity_labels,
    cilium_selector_matches,
    parse_label_selector,
    parse_optional_selector,
)
from pcapkit.errors import PcapkitError

log = logging.getLogger(__name__)

PROTOCOLS = ("TCP", "UDP", "SCTP")
POLICY_GROUP = "networking.k8s.io"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"
TERMINAL_PHASES = ("Succeeded", "Failed")
_PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class PolicyFormatError(PcapkitError):
    """A NetworkPolicy the API server would reject; the engine skips it."""


# --- compiled policy -----------------------------------------------------------------------


@dataclass(frozen=True)
class IPBlockPeer:
    """``ipBlock``: addresses in ``cidr`` and in none of ``excepts``."""

    cidr: IPNetwork
    excepts: tuple[IPNetwork, ...] = ()

    def contains(self, ip: IPAddress) -> bool:
        """True when ``ip`` is inside the block (an address of the other family never is)."""
        if ip.version != self.cidr.version or ip not in self.cidr:
            return False
        return not any(ip in excluded for excluded in self.excepts)

    def describe(self) -> str:
        """``ipBlock 10.0.0.0/8 except 10.1.0.0/16``."""
        text = f"ipBlock {self.cidr}"
        if self.excepts:
            text += " except " + ", ".join(str(e) for e in self.excepts)
        return text


@dataclass(frozen=True)
class Peer:
    """One ``from``/``to`` item: selectors (ANDed when both set) or an ipBlock."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlockPeer | None = None

    def describe(self, policy_namespace: str) -> str:
        """Human text: ``pods role=db in shop``, ``all pods in namespaces team=a``..."""
        if self.ip_block is not None:
            return self.ip_block.describe()
        pods = "all pods" if self.pod_selector is None or self.pod_selector.selects_everything \
            else f"pods {self.pod_selector.describe()}"
        if self.namespace_selector is None:
            return f"{pods} in {policy_namespace}"
        if self.namespace_selector.selects_everything:
            return f"{pods} in all namespaces"
        return f"{pods} in namespaces {self.namespace_selector.describe()}"


@dataclass(frozen=True)
class PortSpec:
    """One ``ports`` item: protocol plus a number, a ``port..end_port`` range or a name."""

    protocol: str = "TCP"
    port: int | str | None = None
    end_port: int | None = None

    def describe(self) -> str:
        """``TCP 5432``, ``TCP 32000-32768``, ``TCP port 'http'``, ``all UDP ports``."""
        if self.port is None:
            return f"all {self.protocol} ports"
        if isinstance(self.port, str):
            return f"{self.protocol} port '{self.port}'"
        if self.end_port is not None:
            return f"{self.protocol} {self.port}-{self.end_port}"
        return f"{self.protocol} {self.port}"


@dataclass(frozen=True)
class Rule:
    """An ingress or egress rule; empty ``peers``/``ports`` mean "any"."""

    peers: tuple[Peer, ...] = ()
    ports: tuple[PortSpec, ...] = ()


@dataclass(frozen=True)
class CompiledPolicy:
    """A validated NetworkPolicy with its defaulted policy types."""

    namespace: str
    name: str
    pod_selector: LabelSelector
    affects_ingress: bool
    affects_egress: bool
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    def rules(self, direction: str) -> tuple[Rule, ...]:
        """The rules of ``direction`` (``"ingress"`` or ``"egress"``)."""
        return self.ingress if direction == "ingress" else self.egress

    def affects(self, direction: str) -> bool:
        """True when the policy isolates selected pods in ``direction``."""
        return self.affects_ingress if direction == "ingress" else self.affects_egress


def compile_policy(obj: Mapping) -> CompiledPolicy:
    """Validate one NetworkPolicy dict and compile it; raises :class:`PolicyFormatError`."""
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
        raise PolicyFormatError("metadata.name is missing")
    namespace = meta.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        raise PolicyFormatError("metadata.namespace is missing")
    spec = obj.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise PolicyFormatError("spec must be a mapping")
    try:
        raw_selector = spec.get("podSelector")
        pod_selector = parse_label_selector(
            {} if raw_selector is None else raw_selector, "spec.podSelector"
        )
        ingress = _compile_rules(spec.get("ingress"), "ingress", "from")
        egress = _compile_rules(spec.get("egress"), "egress", "to")
    except SelectorError as exc:
        raise PolicyFormatError(str(exc)) from exc
    affects_ingress, affects_egress = _policy_types(spec)
    return CompiledPolicy(namespace, meta["name"], pod_selector, affects_ingress,
                          affects_egress, ingress, egress)


def _policy_types(spec: Mapping) -> tuple[bool, bool]:
    types = spec.get("policyTypes")
    if not types:  # apiserver default: Ingress, plus Egress when spec.egress is non-empty
        return True, bool(spec.get("egress"))
    if not isinstance(types, list) or any(t not in ("Ingress", "Egress") for t in types):
        raise PolicyFormatError(f"spec.policyTypes {types!r}: only Ingress and Egress are valid")
    return "Ingress" in types, "Egress" in types


def _compile_rules(raw: object, direction: str, peer_field: str) -> tuple[Rule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PolicyFormatError(f"spec.{direction} must be a list")
    rules = []
    for index, rule in enumerate(raw):
        where = f"spec.{direction}[{index}]"
        if rule is None:
            rule = {}
        if not isinstance(rule, Mapping):
            raise PolicyFormatError(f"{where} must be a mapping")
        peers = rule.get(peer_field) or []
        ports = rule.get("ports") or []
        if not isinstance(peers, list) or not isinstance(ports, list):
            raise PolicyFormatError(f"{where}: {peer_field} and ports must be lists")
        rules.append(Rule(
            tuple(_compile_peer(p, f"{where}.{peer_field}[{i}]") for i, p in enumerate(peers)),
            tuple(_compile_port(p, f"{where}.ports[{i}]") for i, p in enumerate(ports)),
        ))
    return tuple(rules)


def _compile_peer(raw: object, where: str) -> Peer:
    if not isinstance(raw, Mapping):
        raise PolicyFormatError(f"{where} must be a mapping")
    pods = parse_optional_selector(raw.get("podSelector"), f"{where}.podSelector")
    namespaces = parse_optional_selector(raw.get("namespaceSelector"),
                                         f"{where}.namespaceSelector")
    block = raw.get("ipBlock")
    if block is None:
        if pods is None and namespaces is None:
            raise PolicyFormatError(f"{where}: a peer needs podSelector, namespaceSelector "
                                    "or ipBlock")
        return Peer(pods, namespaces)
    if pods is not None or namespaces is not None:
        raise PolicyFormatError(f"{where}: ipBlock cannot be combined with selectors")
    return Peer(ip_block=_compile_ip_block(block, f"{where}.ipBlock"))


def _compile_ip_block(raw: object, where: str) -> IPBlockPeer:
    if not isinstance(raw, Mapping):
        raise PolicyFormatError(f"{where} must be a mapping")
    cidr = _parse_cidr(raw.get("cidr"), f"{where}.cidr")
    excepts = []
    for index, text in enumerate(raw.get("except") or []):
        excluded = _parse_cidr(text, f"{where}.except[{index}]")
        if excluded.version != cidr.version or not excluded.subnet_of(cidr) \
                or excluded.prefixlen <= cidr.prefixlen:
            raise PolicyFormatError(f"{where}.except[{index}]: {excluded} is not a strict "
                                    f"subset of cidr {cidr}")
        excepts.append(excluded)
    return IPBlockPeer(cidr, tuple(excepts))


def _parse_cidr(text: object, where: str) -> IPNetwork:
    if not isinstance(text, str) or "/" not in text:
        raise PolicyFormatError(f"{where}: {text!r} is not a CIDR such as 10.0.0.0/8")
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise PolicyFormatError(f"{where}: {text!r} is not a valid CIDR") from exc


def _compile_port(raw: object, where: str) -> PortSpec:
    if not isinstance(raw, Mapping):
        raise PolicyFormatError(f"{where} must be a mapping")
    protocol = raw.get("protocol") or "TCP"
    if protocol not in PROTOCOLS:
        raise PolicyFormatError(f"{where}.protocol {protocol!r} is not TCP, UDP or SCTP")
    port = raw.get("port")
    end_port = raw.get("endPort")
    if isinstance(port, bool) or isinstance(end_port, bool):
        raise PolicyFormatError(f"{where}: port and endPort must be numbers or names")
    if isinstance(port, int):
        _check_port_number(port, f"{where}.port")
    elif isinstance(port, str):
        if not _PORT_NAME.match(port) or not re.search("[a-z]", port):
            raise PolicyFormatError(f"{where}.port {port!r} is not a valid port name")
    elif port is not None:
        raise PolicyFormatError(f"{where}.port {port!r} must be a number or a name")
    if end_port is not None:
        if not isinstance(port, int):
            raise PolicyFormatError(f"{where}.endPort needs a numeric port")
        if not isinstance(end_port, int):
            raise PolicyFormatError(f"{where}.endPort {end_port!r} must be a number")
        _check_port_number(end_port, f"{where}.endPort")
        if end_port < port:
            raise PolicyFormatError(f"{where}.endPort {end_port} is below port {port}")
    return PortSpec(protocol, port, end_port)


def _check_port_number(value: int, where: str) -> None:
    if not 1 <= value <= 65535:
        raise PolicyFormatError(f"{where} {value} is outside 1-65535")


# --- endpoints -----------------------------------------------------------------------------


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


# --- verdict -------------------------------------------------------------------------------


@dataclass
class RuleMatch:
    """A rule that admitted the traffic: indexes into the policy spec plus readable text."""

    policy: str
    rule_index: int
    peer_index: int | None
    port_index: int | None
    peer: str
    port: str

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"policy": self.policy, "rule_index": self.rule_index,
                "peer_index": self.peer_index, "port_index": self.port_index,
                "peer": self.peer, "port": self.port}

    def describe(self) -> str:
        """``shop/allow-web rule 0 (peer 1: pods role=web in shop; port 0: TCP 5432)``."""
        peer = "any peer" if self.peer_index is None else f"peer {self.peer_index}: {self.peer}"
        port = "any port" if self.port_index is None else f"port {self.port_index}: {self.port}"
        return f"{self.policy} rule {self.rule_index} ({peer}; {port})"


@dataclass
class DirectionVerdict:
    """Ingress on the destination pod, or egress on the source pod."""

    direction: str
    endpoint: str
    applicable: bool
    isolated: bool
    policies: list[str]
    allowed: bool
    matched: list[RuleMatch]
    reason: str
    near_misses: list[str] = field(default_factory=list)

    @property
    def heading(self) -> str:
        """``ingress to shop/db`` or ``egress from shop/web``."""
        word = "to" if self.direction == "ingress" else "from"
        return f"{self.direction} {word} {self.endpoint}"

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"direction": self.direction, "endpoint": self.endpoint,
                "applicable": self.applicable, "isolated": self.isolated,
                "policies": list(self.policies), "allowed": self.allowed,
                "matched": [m.to_dict() for m in self.matched], "reason": self.reason,
                "near_misses": list(self.near_misses)}


@dataclass
class Verdict:
    """Whether ``src`` may open a ``protocol``/``port`` connection to ``dst``, and why.

    ``reply`` marks a verdict asked for a reply packet (``dst`` -> ``src``); it carries the
    verdict of the original connection, since replies of an allowed connection are always
    allowed and replies of a denied one cannot exist.
    """

    allowed: bool
    src: str
    dst: str
    port: int
    protocol: str
    ingress: DirectionVerdict
    egress: DirectionVerdict
    notes: list[str] = field(default_factory=list)
    port_name: str | None = None
    reply: bool = False

    @property
    def return_traffic_allowed(self) -> bool:
        """Replies of this connection pass exactly when the connection itself is allowed."""
        return self.allowed

    @property
    def traffic(self) -> str:
        """``TCP 5432 (postgres)``."""
        text = f"{self.protocol} {self.port}"
        return f"{text} ({self.port_name})" if self.port_name else text

    def to_dict(self) -> dict:
        """JSON-ready form with ``allowed``, ``ingress``, ``egress`` and ``notes``."""
        return {"allowed": self.allowed, "src": self.src, "dst": self.dst, "port": self.port,
                "port_name": self.port_name, "protocol": self.protocol, "reply": self.reply,
                "return_traffic_allowed": self.return_traffic_allowed,
                "ingress": self.ingress.to_dict(), "egress": self.egress.to_dict(),
                "notes": list(self.notes)}

    def explain(self) -> str:
        """Human text: a summary line, then one line per direction and the notes."""
        connection = f"{self.src} -> {self.dst} {self.traffic}"
        failing = [d for d in (self.egress, self.ingress) if not d.allowed]
        why = "; also ".join(f"{d.heading} {d.reason}" for d in failing)
        if self.reply and self.allowed:
            head = (f"allowed (reply): {self.dst} -> {self.src} answers the allowed connection "
                    f"{connection}")
        elif self.reply:
            head = f"denied (reply): the connection {connection} is denied: {why}"
        elif self.allowed:
            head = f"allowed: {connection}"
        else:
            head = f"denied: {why}"
        lines = [head] + [f"  {d.heading}: {d.reason}" for d in (self.egress, self.ingress)]
        for direction in (self.egress, self.ingress):
            lines += [f"  {direction.direction} near miss: {m}" for m in direction.near_misses]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


# --- engine --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkippedPolicy:
    """A policy object the engine could not use, with the reason."""

    key: str
    namespace: str | None
    reason: str


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
                       notes, name, reply)

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
        to_or_from = "from" if direction == "ingress" else "to"
        dst = target if direction == "ingress" else peer
        if target.pod is None:
            return DirectionVerdict(direction, target.label, False, False, [], True, [],
                                    f"{target.label} is not a pod: no {direction} policy "
                                    "applies")
        if target.pod.host_network:
            return DirectionVerdict(direction, target.label, False, False, [], True, [],
                                    f"{target.label} is a hostNetwork pod: NetworkPolicy does "
                                    "not apply (treated like its node)")
        if target.secondary_network is not None:
            return DirectionVerdict(direction, target.label, False, False, [], True, [],
                                    f"traffic on Multus {target.secondary_network}: "
                                    "NetworkPolicy does not apply on secondary networks")
        selecting = self.selecting_policies(target.pod, direction)
        keys = [p.key for p in selecting]
        if not selecting:
            return DirectionVerdict(direction, target.label, True, False, [], True, [],
                                    f"not isolated: no NetworkPolicy selects {target.label} for "
                                    f"{direction.capitalize()}")
        if peer.pod is not None and peer.pod.key == target.pod.key \
                and (peer.pod.uid == target.pod.uid):
            return DirectionVerdict(direction, target.label, True, True, keys, True, [],
                                    "traffic of a pod to itself is always allowed")
        if _is_own_node(target.pod, peer):
            return DirectionVerdict(direction, target.label, True, True, keys, True, [],
                                    f"traffic {to_or_from} the node of {target.label} is always "
                                    "allowed")
        matched: list[RuleMatch] = []
        near: list[str] = []
        traffic = f"{protocol} {port}"
        for policy in selecting:
            for index, rule in enumerate(policy.rules(direction)):
                peer_hits = self._matching_peers(rule, policy.namespace, peer)
                port_hits = _matching_ports(rule, port, protocol, dst.pod)
                if peer_hits and port_hits:
                    matched += [_rule_match(policy, index, rule, pi, qi)
                                for pi in peer_hits for qi in port_hits]
                elif peer_hits:
                    near.append(f"{policy.key} rule {index} matches {peer.label} but admits "
                                "only " + ", ".join(p.describe() for p in rule.ports))
                elif port_hits:
                    near.append(f"{policy.key} rule {index} admits {traffic} but only "
                                f"{to_or_from} " + "; ".join(
                                    p.describe(policy.namespace) for p in rule.peers))
        if matched:
            return DirectionVerdict(direction, target.label, True, True, keys, True, matched,
                                    "admitted by " + ", ".join(m.describe() for m in matched))
        with_rules = [p.key for p in selecting if p.rules(direction)]
        reason = f"isolated by {_and_list(keys)}"
        if with_rules:
            reason += (f"; no rule of {_and_list(with_rules)} admits {traffic} {to_or_from} "
                       f"{peer.label}")
        elif len(keys) == 1:
            reason += f", which has no {direction} rule"
        else:
            reason += f", none of which has an {direction} rule"
        return DirectionVerdict(direction, target.label, True, True, keys, False, [], reason,
                                near[:3])

    def _matching_peers(self, rule: Rule, policy_namespace: str,
                        peer: Endpoint) -> list[int | None]:
        if not rule.peers:
            return [None]
        return [i for i, p in enumerate(rule.peers)
                if self._peer_matches(p, policy_namespace, peer)]

    def _peer_matches(self, peer: Peer, policy_namespace: str, endpoint: Endpoint) -> bool:
        if peer.ip_block is not None:
            return any(peer.ip_block.contains(ip) for ip in endpoint.ips)
        if not endpoint.is_selectable_pod:
            return False
        pod = endpoint.pod
        if peer.namespace_selector is None:
            if pod.namespace != policy_namespace:
                return False
        elif not peer.namespace_selector.matches(self.namespace_labels_of(pod.namespace)):
            return False
        return peer.pod_selector is None or peer.pod_selector.matches(pod.labels)

    # -- notes --

    def _notes(self, src: Endpoint, dst: Endpoint, protocol: str, egress: DirectionVerdict,
               reply: bool, allowed: bool) -> list[str]:
        notes: list[str] = []
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
        notes += self._other_policy_notes([e for e in (src, dst) if e.subject_to_policy])
        if reply:
            notes.append("reply packet: replies of an allowed connection are always allowed"
                         if allowed else "reply packet of a connection NetworkPolicy denies: "
                         "the connection cannot have been established under these policies")
        return notes

    def _other_policy_notes(self, ends: list[Endpoint]) -> list[str]:
        if not self.other_policies:
            return []
        notes: list[str] = []
        mentioned: set[int] = set()
        for end in ends:
            sure: dict[str, list[str]] = {}
            maybe: dict[str, list[str]] = {}
            for index, obj in enumerate(self.other_policies):
                verdict = self._other_selects(obj, end.pod)
                if verdict is False:
                    continue
                mentioned.add(index)
                bucket = sure if verdict else maybe
                bucket.setdefault(_kind_label(obj), []).append(_object_key(obj))
            for kind, names in sure.items():
                notes.append(f"{end.label} is also subject to {_plural(kind, len(names))} "
                             f"({', '.join(names)}) that pcapkit does not evaluate")
            for kind, names in maybe.items():
                notes.append(f"{end.label} may also be subject to {_plural(kind, len(names))} "
                             f"({', '.join(names)}) whose selectors pcapkit cannot evaluate")
        rest: dict[str, int] = {}
        for index, obj in enumerate(self.other_policies):
            if index not in mentioned:
                rest[_kind_label(obj)] = rest.get(_kind_label(obj), 0) + 1
        if rest:
            counted = ", ".join(_plural(kind, n) for kind, n in sorted(rest.items()))
            notes.append(f"the snapshot also holds {counted} that pcapkit does not evaluate, "
                         "selecting neither endpoint")
        return notes

    def _other_selects(self, obj: Mapping, pod: PodInfo) -> bool | None:
        """True/False when a CNI policy object selects ``pod``; None when unknown."""
        kind = obj.get("kind")
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
        spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
        ns_labels = self.namespace_labels_of(pod.namespace)
        if kind in ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"):
            if kind == "CiliumNetworkPolicy" and meta.get("namespace") != pod.namespace:
                return False
            specs = [spec] if spec else []
            specs += [s for s in obj.get("specs") or [] if isinstance(s, Mapping)]
            identity = cilium_identity_labels(pod.labels, pod.namespace, ns_labels,
                                              pod.service_account)
            answers = [cilium_selector_matches(s["endpointSelector"], identity)
                       for s in specs if "endpointSelector" in s]
            if not answers:
                return False  # node-selecting clusterwide policies do not select pods
            return True if True in answers else (None if None in answers else False)
        if kind in ("NetworkPolicy", "GlobalNetworkPolicy") and "projectcalico.org" in str(
                obj.get("apiVersion", "")):
            if kind == "NetworkPolicy" and meta.get("namespace") != pod.namespace:
                return False
            if spec.get("serviceAccountSelector"):
                return None
            labels = {**pod.labels, "projectcalico.org/namespace": pod.namespace,
                      "projectcalico.org/orchestrator": "k8s"}
            selected = calico_selector_matches(spec.get("selector"), labels)
            if kind == "GlobalNetworkPolicy" and spec.get("namespaceSelector"):
                in_ns = calico_selector_matches(spec.get("namespaceSelector"), ns_labels)
                if in_ns is False or selected is False:
                    return False
                return None if None in (in_ns, selected) else True
            return selected
        return None


# --- helpers -------------------------------------------------------------------------------


def _matching_ports(rule: Rule, port: int, protocol: str,
                    dst_pod: PodInfo | None) -> list[int | None]:
    if not rule.ports:
        return [None]
    hits: list[int | None] = []
    for index, spec in enumerate(rule.ports):
        if spec.protocol != protocol:
            continue
        if spec.port is None:
            hits.append(index)
        elif isinstance(spec.port, str):
            # named ports resolve on the destination pod (ingress and egress alike)
            if dst_pod is not None and not dst_pod.host_network \
                    and port in dst_pod.ports_named(spec.port, protocol):
                hits.append(index)
        elif spec.port <= port <= (spec.end_port or spec.port):
            hits.append(index)
    return hits


def _rule_match(policy: CompiledPolicy, rule_index: int, rule: Rule, peer_index: int | None,
                port_index: int | None) -> RuleMatch:
    peer = "any" if peer_index is None else rule.peers[peer_index].describe(policy.namespace)
    port = "any" if port_index is None else rule.ports[port_index].describe()
    return RuleMatch(policy.key, rule_index, peer_index, port_index, peer, port)


def _is_own_node(target: PodInfo, peer: Endpoint) -> bool:
    if peer.pod is not None and peer.pod.host_network:
        if target.node and peer.pod.node == target.node:
            return True
    elif peer.pod is not None:
        return False
    return any(ip in target.host_ips for ip in peer.ips)


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


def _and_list(items: Iterable[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _kind_label(obj: Mapping) -> str:
    kind = str(obj.get("kind") or "policy object")
    if "projectcalico.org" in str(obj.get("apiVersion", "")) and kind == "NetworkPolicy":
        return "Calico NetworkPolicy"
    return kind


def _object_key(obj: Mapping) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    name = str(meta.get("name", "?"))
    return f"{meta['namespace']}/{name}" if meta.get("namespace") else name


def _plural(kind: str, count: int) -> str:
    if count == 1:
        return f"1 {kind}"
    word = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    return f"{count} {word}"
