"""Inspektor Gadget pcapng captures: the pod, namespace and container of a capture point
(and its node) from the interface blocks the tcpdump gadget writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import pcapkit
from pcapkit.schema.convert import mismatches
from pcapkit.schema.vantage import CAPTURE_POINTS
from pcapkit.vantage.gadget import pod_metadata

GADGET = Path(__file__).resolve().parent.parent / "fixtures" / "gadget"


def _point(name: str) -> pd.Series:
    points = pcapkit.open(GADGET / name).points
    assert not mismatches(points, CAPTURE_POINTS)
    return points.iloc[0]


def test_one_pod_names_its_pod_container_and_node() -> None:
    point = _point("one-pod.pcapng")
    assert (point["pod"], point["namespace"], point["container"]) == (
        "web-7d9f8c6b5d-abcde", "shop", "web")
    assert point["node"] == "node2" and point["node_source"] == "pcapng"
    assert "Inspektor Gadget interface 'web'" in point["node_evidence"]
    assert "Node: node2, Namespace: shop, Pod: web-7d9f8c6b5d-abcde" in point["pod_evidence"]
    assert len(pcapkit.open(GADGET / "one-pod.pcapng").flows) == 1


def test_two_pods_of_one_node_are_both_named() -> None:
    point = _point("two-pods.pcapng")
    assert point["pod"] == "client-6c9f7b8d4-k2x7q, tools-5f6d7c8b9-p4q5r"
    assert point["container"] == "client, tools" and point["namespace"] == "shop"
    assert point["node"] == "node1"
    assert "'client'" in point["node_evidence"]  # the first interface that said so


def test_a_file_of_two_nodes_gets_no_node_from_its_interfaces() -> None:
    point = _point("two-nodes.pcapng")
    assert point["node_source"] != "pcapng"
    assert "its interfaces name nodes node1, node2" in point["pod_evidence"]


def test_tags_and_files_without_metadata() -> None:
    interfaces = pd.DataFrame({
        "file": ["a.pcapng", "b.pcapng", "c.pcap"],
        "name": ["eth0", "eth0", None],
        "description": ["k8s:ns=shop,pod=web-1,container=app", "uplink", None],
        "comment": [None, "pod=db-0 namespace=data", None]})
    said = pod_metadata(interfaces)
    assert set(said) == {"a.pcapng", "b.pcapng"}
    assert (said["a.pcapng"].pod, said["a.pcapng"].namespace,
            said["a.pcapng"].container) == ("web-1", "shop", "app")
    assert (said["b.pcapng"].pod, said["b.pcapng"].namespace) == ("db-0", "data")
    assert said["b.pcapng"].evidence == "interface comment 'pod=db-0 namespace=data'"
    plain = pcapkit.open(Path(__file__).resolve().parent.parent / "fixtures" / "dnstx"
                         / "answered.pcap").points
    assert plain["pod"].isna().all() and plain["pod_evidence"].isna().all()
