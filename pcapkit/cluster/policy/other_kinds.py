"""Mention CNI policy objects (Cilium, Calico...) that pcapkit counts but never evaluates.

NetworkPolicy evaluation covers ``networking.k8s.io/v1`` only. Cilium and Calico policy
objects are counted and mentioned per selected pod, never evaluated:
:func:`other_policy_notes` says which endpoint is, or may be, selected by which object and
counts those selecting neither endpoint. Any other kind handed over (e.g. AdminNetworkPolicy)
is reported as possibly selecting every endpoint, since its selectors are not read.
"""

from __future__ import annotations

from collections.abc import Mapping

from pcapkit.cluster.policy.endpoints import Endpoint, NamespaceLabels, PodInfo
from pcapkit.cluster.policy.selectors import (
    calico_selector_matches,
    cilium_identity_labels,
    cilium_selector_matches,
)


def other_policy_notes(other_policies: list[Mapping], ends: list[Endpoint],
                       namespace_labels: NamespaceLabels) -> list[str]:
    """Verdict notes on the CNI policy objects selecting (or maybe selecting) ``ends``.

    ``ends`` are the endpoints subject to policy; ``namespace_labels(namespace)`` gives the
    labels of a namespace for namespace selectors.
    """
    if not other_policies:
        return []
    notes: list[str] = []
    mentioned: set[int] = set()
    for end in ends:
        sure: dict[str, list[str]] = {}
        maybe: dict[str, list[str]] = {}
        ns_labels = namespace_labels(end.pod.namespace)
        for index, obj in enumerate(other_policies):
            verdict = other_policy_selects(obj, end.pod, ns_labels)
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
    for index, obj in enumerate(other_policies):
        if index not in mentioned:
            rest[_kind_label(obj)] = rest.get(_kind_label(obj), 0) + 1
    if rest:
        counted = ", ".join(_plural(kind, n) for kind, n in sorted(rest.items()))
        notes.append(f"the snapshot also holds {counted} that pcapkit does not evaluate, "
                     "selecting neither endpoint")
    return notes


def other_policy_selects(obj: Mapping, pod: PodInfo,
                         ns_labels: Mapping[str, str]) -> bool | None:
    """True/False when a CNI policy object selects ``pod``; None when unknown.

    ``ns_labels`` are the labels of the pod's namespace.
    """
    kind = obj.get("kind")
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
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
