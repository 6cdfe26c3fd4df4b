"""Cilium's tunnel VNI as the sender's security identity.

In VXLAN and Geneve mode Cilium writes the source endpoint's security identity into the
VNI. The snapshot's CiliumEndpoints give each pod its identity (``pods.cilium_identity``),
so a flow end whose address the snapshot does not know (a pod recreated with a new IP
after the export, a pod missing from it) is still named by the workload that holds the
identity its packets carried. Only identities that belong to one workload (or one pod) are
used; the end's confidence says how it was named (``cilium-identity``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: the confidence of an end named through its Cilium identity, not its address
CILIUM_IDENTITY = "cilium-identity"
TUNNELS = ("vxlan", "geneve")


def identity_owners(pods: pd.DataFrame) -> pd.DataFrame:
    """Per Cilium identity held by one workload (or one pod without a workload): its
    namespace, workload label (``Kind ns/name``) and pod (``ns/name`` when it is one pod)."""
    known = pods[pods["cilium_identity"].notna()]
    if not len(known):
        return pd.DataFrame(columns=["namespace", "workload", "pod"],
                            index=pd.Index([], dtype=np.int64, name="identity"))
    workload = np.where(known["workload_kind"].notna(),
                        known["workload_kind"].astype(object) + " " + known["namespace"].astype(
                            object) + "/" + known["workload_name"].astype(object), None)
    frame = pd.DataFrame({"identity": known["cilium_identity"].astype(np.int64).to_numpy(),
                          "namespace": known["namespace"].astype(object).to_numpy(),
                          "workload": workload,
                          "pod": (known["namespace"].astype(object) + "/"
                                  + known["name"].astype(object)).to_numpy()})
    by = frame.groupby("identity")
    single = (by["namespace"].nunique() == 1) & (by["workload"].nunique(dropna=False) == 1) & (
        by["workload"].first().notna() | (by["pod"].nunique() == 1))
    owners = by.first()[single]
    owners.loc[by["pod"].nunique()[single] > 1, "pod"] = None
    return owners


def name_by_identity(flows: pd.DataFrame, owners: pd.DataFrame) -> pd.DataFrame:
    """``flows`` with each tunnelled end the snapshot left as a bare address named by the
    owner of the one VNI its packets carried (workload, namespace, pod, identity label)."""
    if not len(owners) or not len(flows):
        return flows
    out = flows.copy()
    for end in ("orig", "resp"):
        vnis = flows[f"{end}_vnis"].astype(object)
        single = vnis.notna() & ~vnis.astype(str).str.contains(",", regex=False) & \
            vnis.astype(str).str.isdigit()
        tunnelled = flows[f"{end}_encaps"].astype(str).str.contains("|".join(TUNNELS))
        bare = flows[f"{end}_identity"].astype(object) == flows[f"{end}_h"].astype(object)
        rows = np.flatnonzero((single & tunnelled & bare).to_numpy(dtype=bool))
        if not len(rows):
            continue
        ids = vnis.iloc[rows].astype(np.int64).to_numpy()
        where = owners.index.get_indexer(ids)
        rows, where = rows[where >= 0], where[where >= 0]
        if not len(rows):
            continue
        owner = owners.iloc[where]
        label = np.where(owner["workload"].notna(), owner["workload"], owner["pod"])
        pod = owner["pod"].map(lambda p: p.split("/", 1)[1] if isinstance(p, str) else None)
        for column, values in ((f"{end}_workload", owner["workload"]),
                               (f"{end}_namespace", owner["namespace"]),
                               (f"{end}_pod", pod), (f"{end}_identity", label)):
            column_values = out[column].astype(object).to_numpy(copy=True)
            column_values[rows] = np.asarray(values, dtype=object)
            out[column] = column_values
        confidence = out[f"{end}_confidence"].astype(object).to_numpy(copy=True)
        confidence[rows] = CILIUM_IDENTITY
        out[f"{end}_confidence"] = confidence
    return out
