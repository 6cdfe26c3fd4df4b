"""Endpoint identities for flows: which pod, workload, service and node each side is."""

from __future__ import annotations

import pandas as pd

from pcapkit.cluster import Cluster, check_cluster
from pcapkit.errors import PcapkitError
from pcapkit.flows.columns import ENRICHED_FIELDS


def enrich_flows(flows: pd.DataFrame, cluster: Cluster | None) -> pd.DataFrame:
    """A copy of ``flows`` with ``orig_<f>`` and ``resp_<f>`` for f in kind, namespace, pod,
    workload, node, service, resolved by the cluster snapshot at each flow's start time
    (ports let node addresses resolve to hostNetwork pods and NodePort services)."""
    if check_cluster(cluster, "enrich_flows") is None:
        return flows
    missing = [c for c in ("orig_h", "resp_h", "orig_p", "resp_p", "ts") if c not in flows]
    if missing:
        raise PcapkitError(f"enrich_flows: the flow table has no {missing[0]!r} column")
    enriched = cluster.enrich(flows, columns=("orig_h", "resp_h"), at="ts",
                              ports={"orig_h": "orig_p", "resp_h": "resp_p"})
    out = flows.copy()
    for side in ("orig", "resp"):
        for field in ENRICHED_FIELDS:
            source = f"{side}_h_{field}"
            if source in enriched.columns:
                out[f"{side}_{field}"] = enriched[source]
    return out
