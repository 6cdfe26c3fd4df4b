"""Vectorised enrichment: same answers as resolve(), time- and port-aware, and fast."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pcapkit.cluster import load_snapshot
from pcapkit.cluster.identity.enrich import ENRICH_FIELDS
from pcapkit.errors import PcapkitError

FLANNEL = Path(__file__).resolve().parents[2] / "fixtures" / "cluster" / "flannel"

ADDRESSES = [
    "10.244.2.10", "10.244.1.12", "10.244.1.50", "10.96.10.10", "10.96.0.10", "192.168.100.11",
    "192.168.100.12", "10.244.1.0", "10.244.2.1", "10.244.2.99", "203.0.113.100", "8.8.8.8",
    "fd00:10:244:2::10", "2001:db8::1",
]


@pytest.fixture(scope="module")
def cluster():
    return load_snapshot([FLANNEL / "snapshot-t1.json", FLANNEL / "snapshot-t2.json"])


def _frame(n: int, seed: int = 7, categorical: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-05-01T08:30:00Z").value
    ts = pd.to_datetime(start + rng.integers(0, 3 * 3600 * 10**9, n), utc=True)
    src = [ADDRESSES[i] for i in rng.integers(0, len(ADDRESSES), n)]
    dst = [ADDRESSES[i] for i in rng.integers(0, len(ADDRESSES), n)]
    frame = pd.DataFrame({"ts": ts, "src": src, "dst": dst,
                          "dport": rng.choice([80, 9100, 10249, 30080, 5432], n)})
    if categorical:
        frame["src"] = frame["src"].astype("category")
        frame["dst"] = frame["dst"].astype("category")
    return frame


def _expected(cluster, address, ts, port=None):
    identity = cluster.resolve(address, at=ts, port=port)
    pod = identity.name if identity.kind in ("pod", "host-network-pod") else None
    node = identity.node or (identity.name if identity.kind == "node" else None)
    return (identity.kind, identity.namespace, pod, identity.workload, node, identity.service,
            identity.confidence)


def _row(out, i, column):
    values = [out[f"{column}_{f}"].iloc[i] for f in
              ("kind", "namespace", "pod", "workload", "node", "service", "confidence")]
    return tuple(None if pd.isna(v) else v for v in values)


@pytest.mark.parametrize("categorical", [True, False])
def test_enrich_matches_resolve_row_by_row(cluster, categorical):
    frame = _frame(400, categorical=categorical)
    out = cluster.enrich(frame)
    for column in ("src", "dst"):
        for field in ENRICH_FIELDS:
            assert isinstance(out[f"{column}_{field}"].dtype, pd.CategoricalDtype)
    for i in range(len(frame)):
        ts = frame["ts"].iloc[i]
        assert _row(out, i, "src") == _expected(cluster, frame["src"].iloc[i], ts), i
        assert _row(out, i, "dst") == _expected(cluster, frame["dst"].iloc[i], ts), i
    assert list(out.columns[: len(frame.columns)]) == list(frame.columns)
    assert "src_kind" not in frame.columns  # the input is not modified


def test_reused_ip_rows_follow_their_time(cluster):
    frame = pd.DataFrame({
        "ts": pd.to_datetime(["2024-05-01T09:00:30Z", "2024-05-01T10:15:00Z",
                              "2024-05-01T10:45:00Z", None], utc=True),
        "src": pd.Categorical(["10.244.1.50"] * 4),
    })
    out = cluster.enrich(frame, columns=("src",))
    assert list(out["src_pod"]) == ["report-28579560-x7k2p", "web-7d9f8c6b5d-kl3mn",
                                    "web-7d9f8c6b5d-kl3mn", "web-7d9f8c6b5d-kl3mn"]
    assert list(out["src_workload"]) == ["CronJob shop/report", "Deployment shop/web",
                                         "Deployment shop/web", "Deployment shop/web"]
    assert list(out["src_confidence"]) == ["exact", "nearest-snapshot", "exact", "exact"]


def test_at_scalar_and_missing_ts_column(cluster):
    frame = pd.DataFrame({"src": ["10.244.1.50"]})
    assert cluster.enrich(frame, columns=["src"])["src_pod"].iloc[0] == "web-7d9f8c6b5d-kl3mn"
    early = cluster.enrich(frame, columns=["src"], at="2024-05-01T09:00:10Z")
    assert early["src_pod"].iloc[0] == "report-28579560-x7k2p"
    with pytest.raises(PcapkitError, match="neither a column nor a time"):
        cluster.enrich(frame, columns=["src"], at="when-ever")


def test_port_column_picks_host_network_pods_and_node_ports(cluster):
    frame = pd.DataFrame({"dst": ["192.168.100.11", "192.168.100.11", "192.168.100.12",
                                  "192.168.100.12", "10.244.2.10"],
                          "dport": [9100, 10249, 30080, 22, 8080]})
    out = cluster.enrich(frame, columns=["dst"], ports={"dst": "dport"})
    assert list(out["dst_kind"]) == ["host-network-pod", "host-network-pod", "service", "node",
                                     "pod"]
    assert list(out["dst_pod"].astype(object).where(out["dst_pod"].notna(), None)) == [
        "node-exporter-p9kq2", "kube-proxy-xq7zt", None, None, "web-7d9f8c6b5d-abcde"]
    assert out["dst_service"].iloc[2] == "shop/web-nodeport"
    with pytest.raises(PcapkitError, match="no port column"):
        cluster.enrich(frame, columns=["dst"], ports={"dst": "sport"})


def test_outer_columns_map_to_nodes_and_nulls_stay_null(cluster):
    frame = pd.DataFrame({
        "outer_src": pd.Categorical(["192.168.100.11", None, "192.168.100.12", "not-an-ip"]),
        "outer_dst": ["192.168.100.12", None, "192.168.100.11", "192.168.100.11"],
    })
    out = cluster.enrich(frame, columns=("outer_src", "outer_dst"))
    assert list(out["outer_src_kind"].iloc[[0, 2]]) == ["node", "node"]
    assert list(out["outer_src_node"].iloc[[0, 2]]) == ["node1", "node2"]
    assert out["outer_src_kind"].iloc[[1, 3]].isna().all()
    assert out["outer_dst_node"].iloc[0] == "node2" and pd.isna(out["outer_dst_node"].iloc[1])


def test_missing_column_is_a_clear_error(cluster):
    with pytest.raises(PcapkitError, match="no column 'src'"):
        cluster.enrich(pd.DataFrame({"x": [1]}))


def test_million_rows_enrich_quickly(cluster):
    rng = np.random.default_rng(3)
    distinct = (ADDRESSES + [f"10.244.{1 + i % 2}.{i % 250 + 2}" for i in range(1500)]
                + [f"52.{i // 250}.{i % 250}.9" for i in range(3000)])
    distinct = list(dict.fromkeys(distinct))
    n = 1_000_000
    start = pd.Timestamp("2024-05-01T09:00:00Z").value
    frame = pd.DataFrame({
        "ts": pd.to_datetime(start + rng.integers(0, 2 * 3600 * 10**9, n), utc=True),
        "src": pd.Categorical.from_codes(rng.integers(0, len(distinct), n), categories=distinct),
        "dst": pd.Categorical.from_codes(rng.integers(0, len(distinct), n), categories=distinct),
    })
    began = time.perf_counter()
    out = cluster.enrich(frame)
    elapsed = time.perf_counter() - began
    print(f"\nenrich 1,000,000 rows x 2 columns, {len(distinct)} distinct: {elapsed:.3f} s")
    assert elapsed < 5.0
    reused = out[frame["src"] == "10.244.1.50"]
    early = reused["ts"] < pd.Timestamp("2024-05-01T09:01:30Z")
    assert (reused.loc[early, "src_pod"] == "report-28579560-x7k2p").all()
    assert set(out["src_kind"].cat.categories) <= {"pod", "host-network-pod", "service", "node",
                                                  "pod-cidr", "external"}
