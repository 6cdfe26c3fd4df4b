"""Capture.filter on the demo incident: a narrowed Capture over the parent's decoded
tables (nothing decoded or assembled again) whose flows, packets, sightings and DNS
transactions agree with each other."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import CLUSTER, DEMO

import pcapkit

FRONTEND_FLOWS = {0, 1, 2, 3, 7, 9}      # pings, DNS (both sides of the DNAT), HTTP, db


def ids(series: pd.Series) -> set[int]:
    return set(series.dropna().astype(int))


def consistent(child: pcapkit.Capture) -> None:
    """Every table of a narrowed Capture is about the same flows and packets."""
    flows = ids(child.flows["flow_id"])
    assert ids(child.distinct["flow_id"]) <= flows
    assert ids(child.distinct["flow_id"]) == flows  # every kept flow has its packets
    packets = ids(child.distinct["packet_id"])
    assert ids(child.sightings["packet_id"]) == packets == ids(child.packets["packet_id"])
    assert len(child.sightings) == len(child.packets)
    parent = child.parent
    every = parent.sightings[parent.sightings["packet_id"].isin(list(packets))]
    assert len(every) == len(child.sightings)  # every sighting of a kept packet
    flow_of = parent.distinct.set_index("packet_id")["flow_id"]
    backend = flow_of.reindex(child.dns["nat_query_packet_id"].astype("Int64")).to_numpy()
    client = child.dns["flow_id"].to_numpy()
    assert all(c in flows or b in flows for c, b in zip(client, backend, strict=True))


@pytest.fixture
def no_decoding(demo, monkeypatch):
    """The demo incident, decoded; any further decode or table assembly fails."""
    demo.flows, demo.dns  # noqa: B018 - computed before the trap is set

    def boom(*args, **kwargs):
        raise AssertionError("decoded or assembled again")

    monkeypatch.setattr("pcapkit.capture.decode_files", boom)
    monkeypatch.setattr("pcapkit.vantage.build_sightings", boom)
    monkeypatch.setattr("pcapkit.flows.assemble_flows", boom)
    monkeypatch.setattr("pcapkit.dnstx.build_dns_transactions", boom)
    return demo


def test_filter_reuses_the_parents_tables(no_decoding) -> None:
    demo = no_decoding
    child = demo.filter(pod="shop/frontend-*")
    child.flows, child.dns, child.packets, child.sightings, child.distinct  # noqa: B018
    assert child.decoded is demo.decoded
    assert child.cluster is demo.cluster and child.points is demo.points
    assert child.parent is demo
    grandchild = child.filter(protocol="tcp")
    assert grandchild.decoded is demo.decoded and grandchild.parent is child
    assert ids(grandchild.flows["flow_id"]) == {3, 7, 9}


def test_pod_glob(demo) -> None:
    child = demo.filter(pod="shop/frontend-*")
    assert ids(child.flows["flow_id"]) == FRONTEND_FLOWS
    consistent(child)
    assert len(child.dns) == 6 and set(child.dns["orig_pod"]) == {"frontend-7c5d8b9f6-q8w2e"}
    assert ids(demo.filter(pod="frontend-*").flows["flow_id"]) == FRONTEND_FLOWS
    assert ids(demo.filter(pod=["shop/db-*", "shop/payments-*"]).flows["flow_id"]) == \
        {6, 7, 8}
    assert len(demo.filter(pod="other/frontend-*").flows) == 0


def test_backend_side_of_a_service_dnat_keeps_its_dns(demo) -> None:
    """The CoreDNS pod only sees the DNAT'ed side; its transactions come with it."""
    child = demo.filter(pod="kube-system/coredns-*")
    assert ids(child.flows["flow_id"]) == {2, 5}
    assert len(child.dns) == len(demo.dns)
    consistent(child)


def test_protocol(demo) -> None:
    dns = demo.filter(protocol="dns")
    assert ids(dns.flows["flow_id"]) == {1, 2, 4, 5} and len(dns.dns) == len(demo.dns)
    consistent(dns)
    assert set(demo.filter(protocol="tcp").flows["proto"]) == {"tcp"}
    assert ids(demo.filter(protocol=["icmp", "UDP"]).flows["flow_id"]) == {0, 1, 2, 4, 5}
    with pytest.raises(pcapkit.PcapkitError, match="protocol: 'http'"):
        demo.filter(protocol="http")


def test_namespace(demo) -> None:
    assert ids(demo.filter(namespace="kube-*").flows["flow_id"]) == {1, 2, 4, 5}
    assert len(demo.filter(namespace="shop").flows) == len(demo.flows)


def test_time_span_and_time_of_day(demo) -> None:
    start = demo.flows["ts"].min()
    day = start.date().isoformat()
    child = demo.filter(since="21:04:07", until="21:04:08")
    same = demo.filter(since=f"{day}T21:04:07Z", until=pd.Timestamp(f"{day}T21:04:08Z"))
    assert ids(child.flows["flow_id"]) == ids(same.flows["flow_id"]) == {3, 4, 5, 6, 7}
    assert (child.flows["ts"] <= pd.Timestamp(f"{day}T21:04:08Z")).all()
    assert (child.flows["last_ts"] >= pd.Timestamp(f"{day}T21:04:07Z")).all()
    consistent(child)
    # the ARP packets belong to no flow: a time span keeps those in it
    alone = child.distinct[child.distinct["flow_id"].isna()]
    assert len(alone) and (alone["ts_corrected"] >= pd.Timestamp(f"{day}T21:04:07Z")).all()
    with pytest.raises(pcapkit.PcapkitError, match="since .* is after until"):
        demo.filter(since="21:05", until="21:04")
    with pytest.raises(pcapkit.PcapkitError, match="until: 'tomorrow'"):
        demo.filter(until="tomorrow")


def test_node(demo) -> None:
    child = demo.filter(node="node2")
    assert ids(child.flows["flow_id"]) == {0, 2, 3, 5, 6, 7, 8, 9}  # DNS via the Service:
    consistent(child)                                              # node1 only
    assert len(demo.filter(node=["node1", "node2"]).distinct) == len(demo.distinct)
    with pytest.raises(pcapkit.PcapkitError, match="node: no capture was taken on 'node3'"):
        demo.filter(node="node3")


def test_criteria_combine(demo) -> None:
    child = demo.filter(pod="shop/frontend-*", protocol="dns", node="node2")
    assert ids(child.flows["flow_id"]) == {2}
    assert child.selection.describe() == "pod=shop/frontend-*, node=node2, protocol=dns"
    assert "narrowed to pod=shop/frontend-*" in repr(child)


def test_bad_criteria_are_one_clear_error(demo) -> None:
    for kwargs, message in (({"pod": ""}, "pod: give a non-empty text"),
                            ({"pod": 5}, "pod: give a text or a list"),
                            ({"namespace": [None]}, "namespace: give a non-empty text")):
        with pytest.raises(pcapkit.PcapkitError, match=message):
            demo.filter(**kwargs)


def test_a_narrowed_captures_findings_are_its_parents(demo) -> None:
    frontend = demo.filter(pod="shop/frontend-*")
    assert sorted(f.category for f in frontend.findings) == ["dns-timeout", "dns-timeout",
                                                             "policy-drop"]
    parents = {f.id: f for f in demo.findings}
    assert all(f.finding is parents[f.id].finding for f in frontend.findings)
    checkout = demo.filter(pod="shop/checkout-*")
    assert [f.category for f in checkout.findings] == ["asymmetric-route"]
    assert len(demo.filter(protocol="icmp").findings) == 0
    assert len(frontend.analyze(core=True)) == 3


def test_derived_tables_of_a_narrowed_capture(demo) -> None:
    """Analyses run on the narrowed tables (flow ids kept, so rows match the parent's)."""
    child = demo.filter(pod="shop/checkout-*")
    paths = child.table("flow_paths")
    assert ids(paths["flow_id"]) == ids(child.flows["flow_id"])
    parent = demo.table("flow_paths").set_index("flow_id")
    mine = paths.set_index("flow_id")
    assert (mine["asymmetric"] == parent.loc[mine.index, "asymmetric"]).all()
    assert len(child.table("connection_attempts")) == 0
    frontend = demo.filter(pod="shop/frontend-*").table("connection_attempts")
    assert frontend["flow_id"].tolist() == demo.table("connection_attempts")["flow_id"].tolist()
    assert frontend["verdict"].tolist() == ["denied"]


def test_a_capture_run_in_shares_narrows_the_same(demo) -> None:
    """A partitioned run (docs/scale.md) gives the same narrowed tables; closing the child
    leaves the parent's share tables alone, closing the parent removes them."""
    parent = pcapkit.open(DEMO, snapshot=CLUSTER, shares=2, workers=1)
    child = parent.filter(pod="shop/frontend-*")
    assert ids(child.flows["flow_id"]) == FRONTEND_FLOWS
    assert [f.id for f in child.findings] == [f.id for f in demo.filter(
        pod="shop/frontend-*").findings]
    root = parent._run.owner.root
    child.close()
    assert root.is_dir()
    parent.close()
    assert not root.exists()
