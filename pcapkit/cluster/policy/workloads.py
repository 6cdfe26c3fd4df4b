"""Workloads as the ends of a policy question: ``Deployment/shop/api`` stands for its pods.

``policy explain --from deploy/shop/api`` asks the question once per pod of the workload
alive at the time asked (pods of one workload can differ: a rollout half done, labels
changed by hand); the answer is "allowed" only when every pod pair is allowed.
"""

from __future__ import annotations

import pandas as pd

from pcapkit.errors import PcapkitError

#: kubectl's names for the workload kinds pcapkit records as a pod's owner
KINDS = {
    "deployment": "Deployment", "deployments": "Deployment", "deploy": "Deployment",
    "statefulset": "StatefulSet", "statefulsets": "StatefulSet", "sts": "StatefulSet",
    "daemonset": "DaemonSet", "daemonsets": "DaemonSet", "ds": "DaemonSet",
    "replicaset": "ReplicaSet", "replicasets": "ReplicaSet", "rs": "ReplicaSet",
    "job": "Job", "jobs": "Job", "cronjob": "CronJob", "cronjobs": "CronJob", "cj": "CronJob",
}


def workload_ref(text: str) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of ``KIND/NAMESPACE/NAME`` or ``KIND/NAME`` (namespace
    "default"), KIND as kubectl spells it; None when ``text`` names no workload kind."""
    parts = str(text).strip().split("/")
    kind = KINDS.get(parts[0].lower()) if len(parts) in (2, 3) else None
    if kind is None or not all(parts):
        return None
    namespace, name = (parts[1], parts[2]) if len(parts) == 3 else ("default", parts[1])
    return kind, namespace, name


def workload_pods(pods: pd.DataFrame, ref: tuple[str, str, str], when: int | None) -> list[str]:
    """``namespace/name`` of the workload's pods alive at ``when`` (None: in the newest
    snapshot's view, every pod not ended), sorted; a PcapkitError when there are none."""
    kind, namespace, name = ref
    mine = pods[(pods["workload_kind"] == kind) & (pods["namespace"] == namespace)
                & (pods["workload_name"] == name)]
    if not len(mine):
        known = sorted({f"{k}/{n}" for k, n in zip(
            pods.loc[pods["namespace"] == namespace, "workload_kind"].dropna(),
            pods.loc[pods["namespace"] == namespace, "workload_name"].dropna(), strict=False)})
        hint = f" (workloads in {namespace}: {', '.join(known[:8])})" if known else ""
        raise PcapkitError(f"unknown workload {kind}/{namespace}/{name}{hint}")
    if when is not None:
        stamp = pd.Timestamp(when, unit="ns", tz="UTC")
        alive = mine[(mine["start"] <= stamp) & (mine["end"].isna() | (mine["end"] >= stamp))]
        if not len(alive):
            raise PcapkitError(f"{kind}/{namespace}/{name} had no pod at {stamp.isoformat()}")
        mine = alive
    else:
        running = mine[mine["end_source"] == "running"]
        mine = running if len(running) else mine
    return sorted(f"{ns}/{pod}" for ns, pod in zip(mine["namespace"], mine["name"],
                                                   strict=True))
