"""Capture.graph() on the demo incident: ends as typed nodes, one edge per flow with its
packets, bytes, failed attempts and the findings on its pair (the report's pairing)."""

from __future__ import annotations

import networkx as nx

from pcapkit.report.graph import talk_graph


def test_nodes_and_kinds(demo) -> None:
    graph = demo.graph()
    assert isinstance(graph, nx.MultiDiGraph)
    kinds = dict(graph.nodes(data="kind"))
    assert kinds == {"Deployment shop/frontend": "workload", "Deployment shop/checkout":
                     "workload", "Deployment shop/web": "workload", "Deployment shop/db":
                     "workload", "Deployment shop/payments": "workload",
                     "Deployment kube-system/coredns": "workload",
                     "kube-system/kube-dns": "service"}
    assert graph.nodes["kube-system/kube-dns"]["namespace"] == "kube-system"


def test_one_edge_per_flow(demo) -> None:
    graph = demo.graph()
    flows = demo.flows.set_index("flow_id")
    assert graph.number_of_edges() == len(flows)
    for src, dst, flow_id, data in graph.edges(keys=True, data=True):
        row = flows.loc[flow_id]
        assert (src, dst) == (row["orig_identity"], row["resp_identity"])
        assert data["packets"] == row["orig_pkts"] + row["resp_pkts"]
        assert data["bytes"] == row["orig_ip_bytes"] + row["resp_ip_bytes"]
        assert data["proto"] == row["proto"] and data["port"] == row["resp_p"]


def test_failures_and_findings_on_edges(demo) -> None:
    graph = demo.graph()
    ids = {f.category: f.id for f in demo.findings}
    drop = graph.get_edge_data("Deployment shop/frontend", "Deployment shop/db")
    assert len(drop) == 1
    (flow_id, data), = drop.items()
    assert data["failures"] == 1 and data["findings"] == [ids["policy-drop"]]
    assert data["failing"] and data["conn_state"] == "S0"
    dns = graph.get_edge_data("Deployment shop/frontend", "kube-system/kube-dns")
    assert {f for d in dns.values() for f in d["findings"]} == {
        f.id for f in demo.findings if f.category == "dns-timeout"}
    healthy = graph.get_edge_data("Deployment shop/frontend", "Deployment shop/web")
    assert len(healthy) == 3 and not any(d["failing"] for d in healthy.values())


def test_agrees_with_the_reports_graph(demo) -> None:
    """Same ends, same failing pairs, same findings per pair as the report section."""
    report = talk_graph(demo.flows, demo.table("connection_attempts"),
                        [f.to_dict() for f in demo.findings])
    graph = demo.graph()
    assert {n["id"] for n in report["nodes"]} == set(graph.nodes)
    for edge in report["edges"]:
        mine = graph.get_edge_data(edge["src"], edge["dst"])
        assert len(mine) == edge["flows"]
        assert sum(d["failures"] for d in mine.values()) == edge["failed"]
        assert set().union(*(d["findings"] for d in mine.values())) == set(edge["findings"])
        assert any(d["failing"] for d in mine.values()) == edge["failing"]


def test_graph_of_a_narrowed_capture(demo) -> None:
    graph = demo.filter(pod="shop/checkout-*").graph()
    assert set(graph.nodes) == {"Deployment shop/checkout", "kube-system/kube-dns",
                                "Deployment kube-system/coredns", "Deployment shop/db",
                                "Deployment shop/payments"}
    assert graph.number_of_edges() == 4
