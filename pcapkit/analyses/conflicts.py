"""NetworkPolicy mistakes in the snapshot, ranked by whether observed traffic was hit.

Three problems, found with the policy engine's own matching (no second evaluator):

* ``egress_denied_by_ingress``: an egress rule admits a port to pods whose ingress denies it
  from the pods the policy selects; each egress question is asked once per pair of
  distinct label sets (pods of one workload share theirs), so the work grows with the
  workloads, not the pods. Hit by the observed flows between those pods on that port.
* ``selector_matches_no_pod``: the policy's own podSelector, or a rule peer's, matches no
  pod (a label typo): the policy isolates nothing, or the rule admits nothing. The hint
  lists the values pods carry for the selector's keys.
* ``namespace_not_found``: a peer's namespaceSelector matches no exported namespace; the
  hint names the closest namespace names. Judged only when the snapshot has Namespaces.

A broken rule is hit by the denied connection attempts (``connection_attempts``) that the
policy isolated on the rule's side and port: the rule that should have admitted them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pcapkit.analyses import register_analysis
from pcapkit.cluster.policy.direction import matching_ports, peer_matches
from pcapkit.cluster.policy.endpoints import Endpoint, PodInfo
from pcapkit.cluster.policy.explain import policy_engine
from pcapkit.cluster.policy.model import CompiledPolicy, Peer, Rule
from pcapkit.cluster.policy.selectors import LabelSelector
from pcapkit.schema.conflicts import POLICY_CONFLICTS
from pcapkit.schema.convert import build_frame, empty_frame

if TYPE_CHECKING:
    from pcapkit.capture import Capture
    from pcapkit.cluster.policy.engine import PolicyEngine

_END_COLUMNS = [c.name for c in POLICY_CONFLICTS.columns][10:]
"""flow_id, the ends and their identities: copied from the first flow a problem hit."""
_NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass
class _Problem:
    problem: str
    policy: str
    direction: str
    rule_index: int | None
    peer_index: int | None
    detail: str
    hint: str | None
    #: flows (orig pods, resp pods, port, protocol) the contradiction covers
    covers: tuple[frozenset[str], frozenset[str], int, str] | None = None
    #: the rule that should have admitted denied attempts: (policy, direction, rule)
    rule: Rule | None = None
    hits: pd.DataFrame = field(default_factory=pd.DataFrame)


@register_analysis("policy_conflicts", needs=("connection_attempts",))
def policy_conflicts(capture: Capture) -> pd.DataFrame:
    """The policy_conflicts table of ``capture``'s snapshot (see the module docstring)."""
    cluster = capture.cluster
    if cluster is None:
        return empty_frame(POLICY_CONFLICTS)
    engine = policy_engine(cluster, None)
    if engine.no_policies:
        return empty_frame(POLICY_CONFLICTS)
    pods = [p for p in engine.pods if p.active and not p.host_network]
    problems = [*_empty_selectors(engine, pods), *_contradictions(engine, pods)]
    if not problems:
        return empty_frame(POLICY_CONFLICTS)
    _find_hits(problems, capture)
    return _table(problems)


def _endpoint(pod: PodInfo) -> Endpoint:
    return Endpoint(pod.key, pod, pod.ips)


def _empty_selectors(engine: PolicyEngine, pods: list[PodInfo]) -> Iterator[_Problem]:
    namespaces = engine.namespace_labels  # only the exported Namespace objects
    for policy in engine.policies:
        here = [p for p in pods if p.namespace == policy.namespace]
        selector = policy.pod_selector
        if not selector.selects_everything and not any(selector.matches(p.labels)
                                                       for p in here):
            directions = ",".join(d for d in ("ingress", "egress") if policy.affects(d))
            yield _Problem("selector_matches_no_pod", policy.key, directions, None, None,
                           f"{policy.key} selects pods {selector.describe()} in "
                           f"{policy.namespace}: no pod there matches, so it isolates "
                           "nothing", _label_hint(selector, here))
        for direction in ("ingress", "egress"):
            for ri, rule in enumerate(policy.rules(direction)):
                for pi, peer in enumerate(rule.peers):
                    problem = _empty_peer(engine, policy, direction, ri, pi, rule, peer, pods,
                                          namespaces)
                    if problem is not None:
                        yield problem


def _empty_peer(engine: PolicyEngine, policy: CompiledPolicy, direction: str, ri: int,
                pi: int, rule: Rule, peer: Peer, pods: list[PodInfo],
                namespaces: dict[str, dict[str, str]]) -> _Problem | None:
    if peer.ip_block is not None:
        return None
    where = f"{policy.key} {direction} rule {ri} peer {pi}"
    ns_selector = peer.namespace_selector
    if ns_selector is not None and not ns_selector.selects_everything and namespaces:
        if not any(ns_selector.matches(labels) for labels in namespaces.values()):
            return _Problem("namespace_not_found", policy.key, direction, ri, pi,
                            f"{where} selects namespaces {ns_selector.describe()}: no "
                            "namespace in the snapshot matches, so the peer admits nothing",
                            _namespace_hint(ns_selector, namespaces), rule=rule)
    if peer.pod_selector is None or peer.pod_selector.selects_everything:
        return None
    if any(peer_matches(peer, policy.namespace, _endpoint(p), engine.namespace_labels_of)
           for p in pods):
        return None
    scope = Peer(namespace_selector=ns_selector)
    in_scope = [p for p in pods if peer_matches(scope, policy.namespace, _endpoint(p),
                                                engine.namespace_labels_of)]
    return _Problem("selector_matches_no_pod", policy.key, direction, ri, pi,
                    f"{where} admits {peer.describe(policy.namespace)}: no pod matches, so "
                    "the peer admits nothing", _label_hint(peer.pod_selector, in_scope),
                    rule=rule)


def _label_hint(selector: LabelSelector, pods: Iterable[PodInfo]) -> str | None:
    """``pods there have app=front-end, app=web``: the values of the selector's keys."""
    keys = list(dict.fromkeys(r.key for r in selector.requirements))
    seen = sorted({f"{k}={p.labels[k]}" for p in pods for k in keys if k in p.labels})
    if not seen:
        return f"no pod there has the label {', '.join(keys)}" if keys else None
    return "pods there have " + ", ".join(seen)


def _namespace_hint(selector: LabelSelector, namespaces: dict[str, dict[str, str]]
                    ) -> str:
    names = sorted(namespaces)
    wanted = [v for r in selector.requirements if r.key == _NAME_LABEL for v in r.values]
    close = [m for v in wanted for m in difflib.get_close_matches(v, names, n=2)]
    if close:
        return "did you mean " + " or ".join(dict.fromkeys(close)) + "?"
    return "namespaces in the snapshot: " + ", ".join(names)


def _contradictions(engine: PolicyEngine, pods: list[PodInfo]) -> Iterator[_Problem]:
    """Egress rules admitting a port to pods whose ingress denies it: one question per pair
    of distinct (namespace, labels) classes and port."""
    classes: dict[tuple, list[PodInfo]] = {}
    for pod in pods:
        classes.setdefault((pod.namespace, tuple(sorted(pod.labels.items()))), []).append(pod)
    members = list(classes.values())
    isolated = [m for m in members if engine.selecting_policies(m[0], "ingress")]
    for policy in engine.policies:
        if not policy.affects("egress"):
            continue
        sources = [m for m in members if m[0].namespace == policy.namespace
                   and policy.pod_selector.matches(m[0].labels)]
        for ri, rule in enumerate(policy.egress):
            numbered = [(qi, spec) for qi, spec in enumerate(rule.ports)
                        if isinstance(spec.port, int)]
            for pi, peer in (enumerate(rule.peers) if rule.peers else [(None, None)]):
                targets = [m for m in isolated if peer is None or peer_matches(
                    peer, policy.namespace, _endpoint(m[0]), engine.namespace_labels_of)]
                for _, spec in numbered:
                    yield from _denied(engine, policy, ri, pi, peer, spec, sources, targets)


def _denied(engine: PolicyEngine, policy: CompiledPolicy, ri: int, pi: int | None,
            peer: Peer | None, spec: Any, sources: list[list[PodInfo]],
            targets: list[list[PodInfo]]) -> Iterator[_Problem]:
    to = "any peer" if peer is None else peer.describe(policy.namespace)
    for target in targets:
        denied = []
        for source in sources:
            if source is target and len(source) == 1:
                continue  # a pod's traffic to itself is always allowed
            verdict = engine.evaluate(source[0].key, target[0].key, spec.port, spec.protocol)
            if verdict.egress.allowed and not verdict.ingress.allowed:
                denied.append((source, verdict))
        if not denied:
            continue
        first = denied[0][1]
        who = ", ".join(s[0].key for s, _ in denied[:3]) + (
            f" and {len(denied) - 3} more" if len(denied) > 3 else "")
        yield _Problem(
            "egress_denied_by_ingress", policy.key, "egress", ri, pi,
            f"{policy.key} egress rule {ri} admits {spec.describe()} to {to}, but "
            f"{first.ingress.heading} denies it from {who}: {first.ingress.reason}",
            "; ".join(first.ingress.near_misses) or None,
            covers=(frozenset(p.key for s, _ in denied for p in s),
                    frozenset(p.key for p in target), spec.port, spec.protocol.lower()))


def _pod_keys(frame: pd.DataFrame, end: str) -> np.ndarray:
    """``namespace/pod`` of the end of every row (None where either is unknown)."""
    keys = frame[f"{end}_namespace"].astype("string") + "/" + frame[f"{end}_pod"].astype(
        "string")
    return keys.to_numpy(dtype=object, na_value=None)


def _find_hits(problems: list[_Problem], capture: Capture) -> None:
    """Each problem's hit rows: flows it covers, or denied attempts its rule should have
    admitted (both tables carry flow_id, ts and the ends)."""
    flows = capture.flows
    attempts = capture.table("connection_attempts")
    if any(p.covers for p in problems):
        orig, resp = _pod_keys(flows, "orig"), _pod_keys(flows, "resp")
        port = flows["resp_p"].to_numpy(dtype=np.int64, na_value=-1)
        proto = flows["proto"].astype(object).to_numpy()
    denied = attempts[attempts["verdict"].astype(object) == "denied"]
    for problem in problems:
        if problem.covers is not None:
            sources, targets, number, protocol = problem.covers
            mask = (np.isin(orig, list(sources)) & np.isin(resp, list(targets))
                    & (port == number) & (proto == protocol))
            problem.hits = flows[mask]
        elif problem.rule is not None and len(denied):
            problem.hits = denied[[_decided_by(problem, row) for row in
                                   denied[["policies", "denied_by", "resp_p",
                                           "proto"]].itertuples(index=False)]]


def _decided_by(problem: _Problem, row: Any) -> bool:
    """The attempt was denied on the problem's side by its policy, on a port its rule
    admits: the rule that should have matched the peer."""
    assert problem.rule is not None
    return (problem.policy in str(row.policies).split(",")
            and problem.direction in str(row.denied_by).split(",")
            and bool(matching_ports(problem.rule, int(row.resp_p), str(row.proto).upper(),
                                    None)))


def _table(problems: list[_Problem]) -> pd.DataFrame:
    firsts = [p.hits.sort_values("ts").head(1) if len(p.hits) else p.hits for p in problems]
    data: dict[str, Any] = {
        "ts": [f["ts"].iloc[0] if len(f) else pd.NaT for f in firsts],
        "problem": [p.problem for p in problems],
        "policy": [p.policy for p in problems],
        "direction": [p.direction for p in problems],
        "rule_index": [p.rule_index for p in problems],
        "peer_index": [p.peer_index for p in problems],
        "detail": [p.detail for p in problems],
        "hint": [p.hint for p in problems],
        "hit": np.array([len(p.hits) > 0 for p in problems]),
        "flows_hit": np.array([len(p.hits) for p in problems], dtype=np.int64),
    }
    for name in _END_COLUMNS:
        data[name] = [f[name].iloc[0] if len(f) else None for f in firsts]
    return build_frame(POLICY_CONFLICTS, data)
