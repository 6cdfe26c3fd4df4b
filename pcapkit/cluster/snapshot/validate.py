"""Structural checks on exported objects, so a damaged export never crashes pcapkit.

Each check returns the reason an object is unusable, or None. The snapshot skips unusable
objects with a logged warning naming them. The API server would have rejected such objects,
so they only appear in hand-edited or truncated exports.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from typing import Any

SELECTOR_OPERATORS = {"In", "NotIn", "Exists", "DoesNotExist"}
POLICY_PROTOCOLS = {"TCP", "UDP", "SCTP"}
POLICY_TYPES = {"Ingress", "Egress"}


def problem_with(key: str, obj: dict[str, Any]) -> str | None:
    """Why ``obj`` (filed under ``key``) cannot be used, or None when it is fine."""
    reason = _check_metadata(obj)
    if reason:
        return reason
    check = _CHECKS.get(key)
    return check(obj) if check else None


def is_ip(value: Any) -> bool:
    """True for a textual IPv4/IPv6 address."""
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_cidr(value: Any) -> bool:
    """True for a textual IPv4/IPv6 network (host bits allowed, as in Kubernetes)."""
    if not isinstance(value, str) or "/" not in value:
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _check_metadata(obj: dict[str, Any]) -> str | None:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return "no metadata"
    if not isinstance(meta.get("name"), str) or not meta["name"]:
        return "no metadata.name"
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is None:
            continue
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            return f"metadata.{field} is not a map of strings"
    return None


def _dict(obj: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None:
        return {}
    return value if isinstance(value, dict) else None


def _bad_values(values: Any, where: str, valid: Callable[[Any], bool], what: str,
                allow_empty: bool = False) -> str | None:
    """Why a field holding one value or a list of them has a value that is not ``what``."""
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return f"{where} is not a list"
    for value in values:
        if allow_empty and value in ("", "None"):
            continue
        if not valid(value):
            return f"{where}: {value!r} is not {what}"
    return None


def _bad_ip(values: Any, where: str, allow_empty: bool = False) -> str | None:
    return _bad_values(values, where, is_ip, "an IP address", allow_empty)


def _bad_cidr(values: Any, where: str) -> str | None:
    return _bad_values(values, where, is_cidr, "a CIDR")


def _check_pod(obj: dict[str, Any]) -> str | None:
    spec, status = _dict(obj, "spec"), _dict(obj, "status")
    if spec is None or status is None:
        return "spec or status is not an object"
    for key in ("containers", "initContainers"):
        containers = spec.get(key) or []
        if not isinstance(containers, list):
            return f"spec.{key} is not a list"
        for container in containers:
            if not isinstance(container, dict):
                return f"spec.{key} holds a non-object"
            for port in container.get("ports") or []:
                if not isinstance(port, dict) or not _is_port(port.get("containerPort")):
                    return f"container {container.get('name')!r} has a bad port {port!r}"
                if port.get("hostPort") is not None and not _is_port(port.get("hostPort")):
                    return f"container {container.get('name')!r} has a bad hostPort"
    reason = _bad_ip(status.get("podIP"), "status.podIP", allow_empty=True)
    if reason:
        return reason
    pod_ips = status.get("podIPs") or []
    if not isinstance(pod_ips, list) or not all(isinstance(p, dict) for p in pod_ips):
        return "status.podIPs is not a list of objects"
    return _bad_ip([p.get("ip") for p in pod_ips], "status.podIPs")


def _is_port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536


def _check_service(obj: dict[str, Any]) -> str | None:
    spec, status = _dict(obj, "spec"), _dict(obj, "status")
    if spec is None or status is None:
        return "spec or status is not an object"
    selector = spec.get("selector")
    if selector is not None and not (
        isinstance(selector, dict) and all(isinstance(v, str) for v in selector.values())
    ):
        return "spec.selector is not a map of strings"
    for key in ("clusterIP", "clusterIPs"):
        reason = _bad_ip(spec.get(key), f"spec.{key}", allow_empty=True)
        if reason:
            return reason
    reason = _bad_ip(spec.get("externalIPs"), "spec.externalIPs")
    if reason:
        return reason
    ingress = ((status.get("loadBalancer") or {}).get("ingress")) or []
    if not isinstance(ingress, list):
        return "status.loadBalancer.ingress is not a list"
    reason = _bad_ip([i.get("ip") for i in ingress if isinstance(i, dict) and i.get("ip")],
                     "status.loadBalancer.ingress")
    if reason:
        return reason
    ports = spec.get("ports") or []
    if not isinstance(ports, list):
        return "spec.ports is not a list"
    for port in ports:
        if not isinstance(port, dict) or not _is_port(port.get("port")):
            return f"spec.ports holds a bad port {port!r}"
    return None


def _check_endpointslice(obj: dict[str, Any]) -> str | None:
    endpoints = obj.get("endpoints") or []
    ports = obj.get("ports") or []
    if not isinstance(endpoints, list) or not isinstance(ports, list):
        return "endpoints or ports is not a list"
    if obj.get("addressType") == "FQDN":
        return None
    for endpoint in endpoints:
        if not isinstance(endpoint, dict):
            return "endpoints holds a non-object"
        reason = _bad_ip(endpoint.get("addresses"), "endpoints[].addresses")
        if reason:
            return reason
    return None


def _check_endpoints(obj: dict[str, Any]) -> str | None:
    subsets = obj.get("subsets") or []
    if not isinstance(subsets, list):
        return "subsets is not a list"
    for subset in subsets:
        if not isinstance(subset, dict):
            return "subsets holds a non-object"
        for key in ("addresses", "notReadyAddresses"):
            addresses = subset.get(key) or []
            if not isinstance(addresses, list) or not all(isinstance(a, dict) for a in addresses):
                return f"subsets[].{key} is not a list of objects"
            reason = _bad_ip([a.get("ip") for a in addresses], f"subsets[].{key}")
            if reason:
                return reason
    return None


def _check_node(obj: dict[str, Any]) -> str | None:
    spec, status = _dict(obj, "spec"), _dict(obj, "status")
    if spec is None or status is None:
        return "spec or status is not an object"
    reason = _bad_cidr(spec.get("podCIDR"), "spec.podCIDR") or _bad_cidr(
        spec.get("podCIDRs"), "spec.podCIDRs"
    )
    if reason:
        return reason
    addresses = status.get("addresses") or []
    if not isinstance(addresses, list) or not all(isinstance(a, dict) for a in addresses):
        return "status.addresses is not a list of objects"
    ips = [a.get("address") for a in addresses if a.get("type") in ("InternalIP", "ExternalIP")]
    return _bad_ip(ips, "status.addresses")


def selector_problem(selector: Any, where: str) -> str | None:
    """Why a LabelSelector is malformed, or None."""
    if selector is None:
        return None
    if not isinstance(selector, dict):
        return f"{where} is not an object"
    labels = selector.get("matchLabels") or {}
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        return f"{where}.matchLabels is not a map of strings"
    expressions = selector.get("matchExpressions") or []
    if not isinstance(expressions, list):
        return f"{where}.matchExpressions is not a list"
    for expr in expressions:
        if not isinstance(expr, dict) or not isinstance(expr.get("key"), str):
            return f"{where}.matchExpressions holds an entry without a key"
        operator = expr.get("operator")
        values = expr.get("values") or []
        if operator not in SELECTOR_OPERATORS:
            return f"{where}: unknown operator {operator!r}"
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return f"{where}: values of {expr['key']!r} are not a list of strings"
        if operator in ("In", "NotIn") and not values:
            return f"{where}: operator {operator} on {expr['key']!r} needs values"
        if operator in ("Exists", "DoesNotExist") and values:
            return f"{where}: operator {operator} on {expr['key']!r} takes no values"
    return None


def _check_networkpolicy(obj: dict[str, Any]) -> str | None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return "no spec"
    if "podSelector" not in spec:
        return "spec.podSelector is missing"
    reason = selector_problem(spec.get("podSelector"), "spec.podSelector")
    if reason:
        return reason
    types = spec.get("policyTypes")
    if types is not None and (not isinstance(types, list) or not set(types) <= POLICY_TYPES):
        return f"spec.policyTypes {types!r} is not a list of Ingress/Egress"
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        rules = spec.get(direction) or []
        if not isinstance(rules, list):
            return f"spec.{direction} is not a list"
        for index, rule in enumerate(rules):
            where = f"spec.{direction}[{index}]"
            if not isinstance(rule, dict):
                return f"{where} is not an object"
            reason = _peers_problem(rule.get(peers_key), f"{where}.{peers_key}") or _ports_problem(
                rule.get("ports"), f"{where}.ports"
            )
            if reason:
                return reason
    return None


def _peers_problem(peers: Any, where: str) -> str | None:
    if peers is None:
        return None
    if not isinstance(peers, list):
        return f"{where} is not a list"
    for index, peer in enumerate(peers):
        here = f"{where}[{index}]"
        if not isinstance(peer, dict):
            return f"{here} is not an object"
        block = peer.get("ipBlock")
        if block is not None:
            if not isinstance(block, dict) or not is_cidr(block.get("cidr")):
                return f"{here}.ipBlock.cidr {(block or {}).get('cidr')!r} is not a CIDR"
            reason = _bad_cidr(block.get("except"), f"{here}.ipBlock.except")
            if reason:
                return reason
        for key in ("podSelector", "namespaceSelector"):
            reason = selector_problem(peer.get(key), f"{here}.{key}")
            if reason:
                return reason
    return None


def _ports_problem(ports: Any, where: str) -> str | None:
    if ports is None:
        return None
    if not isinstance(ports, list):
        return f"{where} is not a list"
    for port in ports:
        if not isinstance(port, dict):
            return f"{where} holds a non-object"
        protocol = port.get("protocol", "TCP")
        if protocol not in POLICY_PROTOCOLS:
            return f"{where}: unknown protocol {protocol!r}"
        number = port.get("port")
        if number is not None and not (_is_port(number) or (isinstance(number, str) and number)):
            return f"{where}: bad port {number!r}"
        end = port.get("endPort")
        if end is not None and (not _is_port(end) or not isinstance(number, int) or end < number):
            return f"{where}: bad endPort {end!r}"
    return None


def _check_nad(obj: dict[str, Any]) -> str | None:
    spec = _dict(obj, "spec")
    if spec is None:
        return "spec is not an object"
    config = spec.get("config")
    if config in (None, ""):
        return None
    try:
        parsed = json.loads(config) if isinstance(config, str) else None
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        return "spec.config is not a JSON object"
    return None


def _check_cilium_node(obj: dict[str, Any]) -> str | None:
    spec = _dict(obj, "spec")
    if spec is None:
        return "spec is not an object"
    addresses = spec.get("addresses") or []
    if not isinstance(addresses, list) or not all(isinstance(a, dict) for a in addresses):
        return "spec.addresses is not a list of objects"
    reason = _bad_ip([a.get("ip") for a in addresses], "spec.addresses")
    ipam = spec.get("ipam") if isinstance(spec.get("ipam"), dict) else {}
    return reason or _bad_cidr(ipam.get("podCIDRs"), "spec.ipam.podCIDRs")


def _check_calico_cidr(obj: dict[str, Any]) -> str | None:
    spec = _dict(obj, "spec")
    if spec is None:
        return "spec is not an object"
    return _bad_cidr(spec.get("cidr") or "", "spec.cidr")


_CHECKS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "Pod": _check_pod,
    "Service": _check_service,
    "EndpointSlice": _check_endpointslice,
    "Endpoints": _check_endpoints,
    "Node": _check_node,
    "NetworkPolicy": _check_networkpolicy,
    "NetworkAttachmentDefinition": _check_nad,
    "CiliumNode": _check_cilium_node,
    "CalicoIPPool": _check_calico_cidr,
    "CalicoBlockAffinity": _check_calico_cidr,
    "CalicoIPAMBlock": _check_calico_cidr,
}
