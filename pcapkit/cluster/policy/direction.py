"""Decide one direction of a connection: ingress on the destination or egress on the source.

:func:`evaluate_direction` finds the policies isolating the pod in that direction and the
rules (policy, rule index, peer index, port index) that admit the traffic, or says why none
does, with near misses (rules matching the peer but not the port, or the reverse).

Semantics (Kubernetes API reference, the NetworkPolicy concept page and the upstream netpol
e2e / cyclonus truth tables):

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
* Exceptions that follow no policy: a pod's traffic to itself (upstream e2e
  ``AllowLoopback``, docs "a pod cannot block access to itself"); traffic between a pod and
  the node it runs on (docs: "traffic to and from the node where a Pod is running is always
  allowed"; the API reference states it for ingress; some CNIs, e.g. Cilium, do enforce egress
  to the own node, which the verdict notes).
* Non-pods, hostNetwork pods and traffic on a Multus secondary network are not subject to
  NetworkPolicy in either direction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pcapkit.cluster.policy.endpoints import Endpoint, NamespaceLabels, PodInfo
from pcapkit.cluster.policy.model import CompiledPolicy, Peer, Rule
from pcapkit.cluster.policy.verdict import DirectionVerdict, RuleMatch

SelectingPolicies = Callable[[PodInfo, str], list[CompiledPolicy]]


def evaluate_direction(direction: str, target: Endpoint, peer: Endpoint, port: int,
                       protocol: str, selecting_policies: SelectingPolicies,
                       namespace_labels: NamespaceLabels) -> DirectionVerdict:
    """Ingress on ``target`` from ``peer``, or egress from ``target`` to ``peer``.

    ``selecting_policies(pod, direction)`` lists the policies isolating ``pod`` in
    ``direction``; ``namespace_labels(namespace)`` gives the labels namespace selectors see.
    """
    to_or_from = "from" if direction == "ingress" else "to"
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
    selecting = selecting_policies(target.pod, direction)
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
    dst = target if direction == "ingress" else peer
    matched, near = _scan_rules(selecting, direction, peer, dst.pod, port, protocol,
                                namespace_labels)
    if matched:
        return DirectionVerdict(direction, target.label, True, True, keys, True, matched,
                                "admitted by " + ", ".join(m.describe() for m in matched))
    with_rules = [p.key for p in selecting if p.rules(direction)]
    reason = f"isolated by {_and_list(keys)}"
    if with_rules:
        reason += (f"; no rule of {_and_list(with_rules)} admits {protocol} {port} "
                   f"{to_or_from} {peer.label}")
    elif len(keys) == 1:
        reason += f", which has no {direction} rule"
    else:
        reason += f", none of which has an {direction} rule"
    return DirectionVerdict(direction, target.label, True, True, keys, False, [], reason,
                            near[:3])


def _scan_rules(selecting: list[CompiledPolicy], direction: str, peer: Endpoint,
                dst_pod: PodInfo | None, port: int, protocol: str,
                namespace_labels: NamespaceLabels) -> tuple[list[RuleMatch], list[str]]:
    """Every (rule, peer, port) admitting the traffic, and the rules that almost do."""
    to_or_from = "from" if direction == "ingress" else "to"
    matched: list[RuleMatch] = []
    near: list[str] = []
    traffic = f"{protocol} {port}"
    for policy in selecting:
        for index, rule in enumerate(policy.rules(direction)):
            peer_hits = _matching_peers(rule, policy.namespace, peer, namespace_labels)
            port_hits = matching_ports(rule, port, protocol, dst_pod)
            if peer_hits and port_hits:
                matched += [_rule_match(policy, index, rule, pi, qi)
                            for pi in peer_hits for qi in port_hits]
            elif peer_hits:
                near.append(f"{policy.key} rule {index} matches {peer.label} but admits "
                            "only " + ", ".join(p.describe() for p in rule.ports))
            elif port_hits:
                near.append(f"{policy.key} rule {index} admits {traffic} but only "
                            f"{to_or_from} " + "; ".join(
                                p.describe(policy.namespace) for p in rule.peers)
                            + _peer_has(rule, peer))
    return matched, near


def _peer_has(rule: Rule, peer: Endpoint) -> str:
    """``; shop/client has app=frontend``: the peer pod's values of the label keys the
    rule's pod selectors test, so a typo in a selector shows beside the real label."""
    if peer.pod is None:
        return ""
    keys = dict.fromkeys(r.key for p in rule.peers if p.pod_selector is not None
                         for r in p.pod_selector.requirements)
    if not keys:
        return ""
    labels = peer.pod.labels
    found = [f"{key}={labels[key]}" for key in keys if key in labels]
    return f"; {peer.label} has " + (", ".join(found) if found else
                                     "none of the labels " + ", ".join(keys))


def _matching_peers(rule: Rule, policy_namespace: str, peer: Endpoint,
                    namespace_labels: NamespaceLabels) -> list[int | None]:
    if not rule.peers:
        return [None]
    return [i for i, p in enumerate(rule.peers)
            if peer_matches(p, policy_namespace, peer, namespace_labels)]


def peer_matches(peer: Peer, policy_namespace: str, endpoint: Endpoint,
                 namespace_labels: NamespaceLabels) -> bool:
    """True when one ``from``/``to`` item of a policy in ``policy_namespace`` matches."""
    if peer.ip_block is not None:
        return any(peer.ip_block.contains(ip) for ip in endpoint.ips)
    if not endpoint.is_selectable_pod:
        return False
    pod = endpoint.pod
    if peer.namespace_selector is None:
        if pod.namespace != policy_namespace:
            return False
    elif not peer.namespace_selector.matches(namespace_labels(pod.namespace)):
        return False
    return peer.pod_selector is None or peer.pod_selector.matches(pod.labels)


def matching_ports(rule: Rule, port: int, protocol: str,
                   dst_pod: PodInfo | None) -> list[int | None]:
    """Indexes of the rule's ports admitting ``protocol``/``port`` ([None]: a rule without
    ports admits any); a named port matches only on ``dst_pod``'s container ports."""
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


def _and_list(items: Iterable[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
