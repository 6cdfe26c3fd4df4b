"""Endpoint identities for flows: which pod, workload, service and node each side is."""

from __future__ import annotations

import pandas as pd

from pcapkit.cluster import Cluster, check_cluster
from pcapkit.cluster.identity.enrich import end_identities


def enrich_flows(flows: pd.DataFrame, cluster: Cluster | None) -> pd.DataFrame:
    """A copy of ``flows`` with ``orig_<field>`` and ``resp_<field>`` for every identity field
    (pcapkit.schema.IDENTITY_FIELDS), resolved by the cluster snapshot at each flow's start
    time; all NA without a cluster, so the table has the same columns either way."""
    cluster = check_cluster(cluster, "enrich_flows")
    identities = end_identities(flows, cluster.address_map if cluster else None, "ts")
    return pd.concat([flows.drop(columns=identities.columns, errors="ignore"), identities],
                     axis=1)
