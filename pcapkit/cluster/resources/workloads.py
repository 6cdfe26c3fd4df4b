"""Which workload owns a pod: Deployment via ReplicaSet, CronJob via Job, StatefulSet, ...

The owner chain is followed through the exported ReplicaSet/Job objects. Exports often lack
them (``kubectl get pods,services`` only): then the Deployment name is the ReplicaSet name
without its ``pod-template-hash`` suffix and the CronJob name is the Job name without its
scheduled-time suffix; ``how`` says so, so nobody mistakes a guess for a fact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: How a workload was found.
HOW_OWNER_CHAIN = "owner-chain"
HOW_TEMPLATE_HASH = "inferred-from-pod-template-hash"
HOW_NAME_PATTERN = "inferred-from-name"
HOW_BARE = "bare-pod"

_CRONJOB_JOB_SUFFIX = re.compile(r"^(?P<base>.+)-\d{8,}$")
_REPLICASET_HASH_SUFFIX = re.compile(r"^(?P<base>.+)-[bcdfghjklmnpqrstvwxz2456789]{5,10}$")


@dataclass(frozen=True)
class Workload:
    """The top-level controller of a pod."""

    kind: str
    namespace: str
    name: str
    how: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


class OwnerIndex:
    """ReplicaSets and Jobs (and their own owners) seen in any snapshot."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self._owners: dict[tuple[str, str, str], dict[str, Any] | None] = {}
        for obj in objects:
            meta = obj["metadata"]
            key = (obj["kind"], meta.get("namespace") or "", meta["name"])
            self._owners[key] = controller_of(obj)

    def owner_of(self, kind: str, namespace: str, name: str) -> tuple[bool, dict | None]:
        """(whether the object was exported, its controller reference or None)."""
        key = (kind, namespace, name)
        if key not in self._owners:
            return False, None
        return True, self._owners[key]


def controller_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The ownerReference marked controller (else the first one), or None."""
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    refs = [r for r in refs if isinstance(r, dict) and r.get("kind") and r.get("name")]
    for ref in refs:
        if ref.get("controller"):
            return ref
    return refs[0] if refs else None


def resolve_workload(pod: dict[str, Any], owners: OwnerIndex) -> Workload:
    """Follow a pod's owner chain to its top-level workload."""
    meta = pod["metadata"]
    namespace = meta.get("namespace") or ""
    ref = controller_of(pod)
    if ref is None:
        return Workload("Pod", namespace, meta["name"], HOW_BARE)
    kind, name = ref["kind"], ref["name"]
    if kind == "Node":
        base = meta["name"].removesuffix(f"-{name}")
        return Workload("StaticPod", namespace, base, HOW_OWNER_CHAIN)
    if kind == "ReplicaSet":
        return _through_parent(namespace, name, "ReplicaSet", "Deployment", owners, pod)
    if kind == "Job":
        return _through_parent(namespace, name, "Job", "CronJob", owners, pod)
    return Workload(kind, namespace, name, HOW_OWNER_CHAIN)


def _through_parent(
    namespace: str,
    name: str,
    kind: str,
    parent_kind: str,
    owners: OwnerIndex,
    pod: dict[str, Any],
) -> Workload:
    exported, parent = owners.owner_of(kind, namespace, name)
    if exported:
        if parent is None:
            return Workload(kind, namespace, name, HOW_OWNER_CHAIN)
        return Workload(parent["kind"], namespace, parent["name"], HOW_OWNER_CHAIN)
    if kind == "ReplicaSet":
        labels = pod["metadata"].get("labels") or {}
        template_hash = labels.get("pod-template-hash")
        if template_hash and name.endswith(f"-{template_hash}"):
            return Workload(parent_kind, namespace, name[: -len(template_hash) - 1],
                            HOW_TEMPLATE_HASH)
        match = _REPLICASET_HASH_SUFFIX.match(name)
        if match:
            return Workload(parent_kind, namespace, match["base"], HOW_NAME_PATTERN)
        return Workload(kind, namespace, name, HOW_NAME_PATTERN)
    match = _CRONJOB_JOB_SUFFIX.match(name)
    if match:
        return Workload(parent_kind, namespace, match["base"], HOW_NAME_PATTERN)
    return Workload(kind, namespace, name, HOW_OWNER_CHAIN)
