"""Compile ``networking.k8s.io/v1`` NetworkPolicy objects into rules, rejecting malformed ones.

:func:`compile_policy` validates one NetworkPolicy dict the way the API server would and turns
it into a :class:`CompiledPolicy`: the selected pods, the defaulted policy types and the
ingress/egress :class:`Rule` s with their :class:`Peer` s and :class:`PortSpec` s.

Semantics (Kubernetes API reference and apiserver defaulting):

* ``spec.podSelector`` selects pods of the policy's namespace; ``{}`` (or absent) selects all.
* ``policyTypes`` defaults to ``["Ingress"]`` plus ``"Egress"`` when ``spec.egress`` is a
  *non-empty* list (apiserver ``SetDefaults_NetworkPolicy``: ``len(spec.egress) != 0``);
  ``egress: []`` alone therefore does not isolate for egress.
* A peer has a ``podSelector`` and/or a ``namespaceSelector`` (ANDed when both are set), or
  an ``ipBlock`` alone whose ``except`` entries are strict subsets of its ``cidr``.
* A port has protocol TCP (default), UDP or SCTP and a number (1-65535), a
  ``port..endPort`` range or a container-port name (lowercase letters, digits and ``-``,
  at most 15 characters, at least one letter).

Malformed policies (unknown selector operator, ``In`` without values, bad CIDR, bad port...)
raise :class:`PolicyFormatError`; the engine skips them with a ``logging.warning`` naming them
and lists them as :class:`SkippedPolicy` in the verdict notes.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from pcapkit.cluster.policy.selectors import (
    LabelSelector,
    SelectorError,
    parse_label_selector,
    parse_optional_selector,
)
from pcapkit.errors import PcapkitError

PROTOCOLS = ("TCP", "UDP", "SCTP")
POLICY_GROUP = "networking.k8s.io"
_PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class PolicyFormatError(PcapkitError):
    """A NetworkPolicy the API server would reject; the engine skips it."""


@dataclass(frozen=True)
class SkippedPolicy:
    """A policy object the engine could not use, with the reason."""

    key: str
    namespace: str | None
    reason: str


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


def implied_policy_types(spec: Mapping) -> list[str]:
    """policyTypes as the apiserver defaults them: Ingress, plus Egress when ``spec.egress``
    is a non-empty list."""
    return ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def _policy_types(spec: Mapping) -> tuple[bool, bool]:
    types = spec.get("policyTypes") or implied_policy_types(spec)
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
