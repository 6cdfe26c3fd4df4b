"""Every stage that takes a cluster takes a Cluster (or None) and refuses anything else
with a PcapkitError naming the stage, instead of failing on a missing attribute later."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pcapkit.cluster import check_cluster, load_snapshot
from pcapkit.decode import decode_files
from pcapkit.dnstx import build_dns_transactions
from pcapkit.errors import PcapkitError
from pcapkit.flows import build_flows, enrich_flows
from pcapkit.vantage import capture_points

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = REPO / "fixtures" / "cluster" / "flannel" / "snapshot-t1.json"
CAPTURE = REPO / "fixtures" / "kernel" / "node1-any.pcap"
NOT_A_CLUSTER = str(SNAPSHOT)  # the path, not load_snapshot(path): the usual mistake


def test_check_cluster_passes_a_cluster_and_none_through():
    cluster = load_snapshot(SNAPSHOT)
    assert check_cluster(cluster, "stage") is cluster
    assert check_cluster(None, "stage") is None


def test_check_cluster_names_the_stage_and_what_it_got():
    with pytest.raises(PcapkitError, match=r"^stage: cluster must be a pcapkit\.cluster\."
                                           r"Cluster \(from load_snapshot\), not str$"):
        check_cluster(NOT_A_CLUSTER, "stage")


@pytest.fixture(scope="module")
def decoded():
    return decode_files([str(CAPTURE)])


def test_capture_points_refuses_a_non_cluster(decoded):
    with pytest.raises(PcapkitError, match="^capture_points: cluster must be"):
        capture_points(decoded, NOT_A_CLUSTER)


def test_build_flows_refuses_a_non_cluster(decoded):
    with pytest.raises(PcapkitError, match="^flows: cluster must be"):
        build_flows(decoded.packets, cluster=NOT_A_CLUSTER)


def test_enrich_flows_refuses_a_non_cluster():
    with pytest.raises(PcapkitError, match="^enrich_flows: cluster must be"):
        enrich_flows(pd.DataFrame(), NOT_A_CLUSTER)


def test_build_dns_transactions_refuses_a_non_cluster(decoded):
    with pytest.raises(PcapkitError, match="^build_dns_transactions: cluster must be"):
        build_dns_transactions(decoded.dns, decoded.packets, NOT_A_CLUSTER)
