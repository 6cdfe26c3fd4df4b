"""``Capture.graph()``: the incident's who-talks-to-whom as a networkx MultiDiGraph.

The ends and their pairing are the report's (:func:`pcapkit.report.graph.edge_keys`): an end
is a workload, else a pod, else a Service, else the address, as the flow tables'
``orig_identity``/``resp_identity`` name it; a finding lands on the pair its two ends name.
Nodes carry ``kind`` (``workload``, ``pod``, ``host-network-pod``, ``service``, ``node``,
``external``, ``pod-cidr``) and ``namespace``. There is one edge per flow, keyed by its
``flow_id``, with ``proto``, ``port``, ``packets``, ``bytes``, ``conn_state``, ``ts``,
``failures`` (its failed connection attempts, the report's count), ``findings`` (ids of the
findings on the pair) and ``failing``; a pair that only findings name (no flow) gets one
edge keyed ``"findings"``. Attributes are computed as columns; networkx itself then takes one
dict per edge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pcapkit.report.graph import edge_keys

if TYPE_CHECKING:
    import networkx as nx

    from pcapkit.capture import Capture

#: the key of an edge that only findings name
FINDINGS_EDGE = "findings"


def capture_graph(capture: Capture) -> nx.MultiDiGraph:
    """The workload graph of ``capture`` (its flows, failed attempts and findings)."""
    import networkx as nx

    flows = capture.flows
    findings = [view.finding.to_dict() for view in capture.findings]
    attempts = capture.table("connection_attempts") if len(flows) else None
    keys = edge_keys(flows, attempts, findings)
    on_pair: dict[int, list[str]] = {}
    for key, finding in zip(keys.marked_keys.tolist(), keys.marked_ids, strict=True):
        on_pair.setdefault(int(key), []).append(finding)  # one step per finding
    graph = nx.MultiDiGraph(name="pcapkit workload graph")
    graph.add_nodes_from(_nodes(flows, keys, findings))
    edges = _flow_edges(flows, keys, on_pair)
    graph.add_edges_from(edges)
    flow_pairs = set(keys.flow_keys.tolist())
    graph.add_edges_from(
        (str(keys.src(np.array([key]))[0]), str(keys.dst(np.array([key]))[0]), FINDINGS_EDGE,
         {"flow_id": None, "proto": None, "port": None, "packets": 0, "bytes": 0,
          "conn_state": None, "ts": None, "failures": 0, "findings": ids, "failing": True})
        for key, ids in on_pair.items() if key not in flow_pairs)
    return graph


def _flow_edges(flows: pd.DataFrame, keys: Any, on_pair: dict[int, list[str]]) -> list:
    """(src, dst, flow_id, attributes) for every flow."""
    n = len(flows)
    failures = np.zeros(n, dtype=np.int64)
    if keys.attempts is not None and len(keys.attempts):
        at = pd.Index(flows["flow_id"].to_numpy(dtype=np.int64)).get_indexer(
            keys.attempts["flow_id"].to_numpy(dtype=np.int64, na_value=-1))
        failures = np.bincount(at[at >= 0], minlength=n)
    marked = [on_pair.get(int(k), []) for k in keys.flow_keys.tolist()]
    attributes = pd.DataFrame({
        "flow_id": flows["flow_id"].to_numpy(dtype=np.int64),
        "proto": flows["proto"].astype(object).to_numpy(),
        "port": flows["resp_p"].astype("Int64").astype(object).to_numpy(),
        "packets": _sum(flows, "orig_pkts", "resp_pkts"),
        "bytes": _sum(flows, "orig_ip_bytes", "resp_ip_bytes"),
        "conn_state": flows["conn_state"].astype(object).to_numpy(),
        "ts": flows["ts"].to_numpy(), "failures": failures,
        "findings": pd.Series(marked, dtype=object).to_numpy(),
        "failing": (failures > 0) | np.array([bool(m) for m in marked], dtype=bool)})
    attributes = attributes.astype(object).where(attributes.notna(), None)
    return list(zip(keys.src(keys.flow_keys).astype(str).tolist(),
                    keys.dst(keys.flow_keys).astype(str).tolist(),
                    attributes["flow_id"].tolist(), attributes.to_dict("records"), strict=True))


def _sum(flows: pd.DataFrame, *columns: str) -> np.ndarray:
    return sum(flows[c].to_numpy(dtype=np.int64, na_value=0) for c in columns) \
        if all(c in flows.columns for c in columns) else np.zeros(len(flows), np.int64)


def _nodes(flows: pd.DataFrame, keys: Any, findings: list[dict[str, Any]]) -> list:
    """(label, {kind, namespace}) for every end of a flow or a finding: what its first
    flow says of it (``workload`` when it is named by its workload), else the finding."""
    known: dict[str, dict[str, Any]] = {}
    for end, codes in (("orig", keys.flow_keys // keys.size),
                       ("resp", keys.flow_keys % keys.size)):
        if not len(codes):
            continue
        unique, first = np.unique(codes, return_index=True)
        kind = _kinds(flows, end)[first]
        namespace = flows[f"{end}_namespace"].astype(object).to_numpy()[first] \
            if f"{end}_namespace" in flows.columns else np.full(len(first), None)
        for label, k, ns in zip(keys.labels[unique].tolist(), kind, namespace, strict=True):
            known.setdefault(str(label), {"kind": k, "namespace": None if pd.isna(ns)
                                          else str(ns)})
    from pcapkit.report.common import end_identity

    for finding in findings:
        for side in ("src", "dst"):
            name = end_identity(finding, side)
            end = finding.get(side) or {}
            if name and name not in known:
                known[name] = {"kind": "workload" if end.get("workload") == name
                               else end.get("kind") or "external",
                               "namespace": end.get("namespace")}
    return sorted(known.items())


def _kinds(flows: pd.DataFrame, end: str) -> np.ndarray:
    """Per flow, what ``end``'s identity is: ``workload`` when it is the workload, else the
    end's kind (``external`` when unknown)."""
    def column(name: str) -> np.ndarray:
        full = f"{end}_{name}"
        if full not in flows.columns:
            return np.full(len(flows), None, dtype=object)
        values = flows[full].astype(object).to_numpy()
        return np.where(pd.isna(values), None, values)

    identity, workload, kind = column("identity"), column("workload"), column("kind")
    named_by_workload = (workload != None) & (identity == workload)  # noqa: E711 - elementwise
    return np.where(named_by_workload, "workload",
                    np.where(kind == None, "external", kind)).astype(object)  # noqa: E711
