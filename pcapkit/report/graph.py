"""The report's workload graph: which workloads talk to which, and which edges fail.

An edge joins two conversation ends as the flow table names them (``orig_identity`` ->
``resp_identity``: a workload, else a pod, else a Service, else the address), with its flow
count, its most used protocols and destination ports, its failed connection attempts (the
``connection_attempts`` table: never answered or refused, one-way-by-design UDP left out)
and the findings whose ends are that pair. An edge fails when it has a finding or a failed
attempt. A report keeps at most ``MAX_EDGES`` edges, failing ones first, then the busiest;
``edges_total`` says how many there were. Ends are integer codes shared by both tables and
the findings, an edge one int64 key, so a million flows cost one factorize and a few
bincounts; only the kept edges' rows are looked at again for their labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pcapkit.column_arrays import codes_of, shared_codes
from pcapkit.report.common import end_identity

MAX_EDGES = 60
#: protocols and destination ports listed per edge (the most used)
MAX_LABELS = 5


@dataclass
class EdgeKeys:
    """Who talks to whom, as integer codes: every end (a workload, else a pod, else a
    Service, else the address) is a code into ``labels``, and an edge is the key
    ``src * size + dst``. One key per flow row, per failed connection attempt (of
    ``attempts``: never answered or refused, one-way-by-design UDP left out) and per
    finding naming both its ends (with the finding ids in ``marked_ids``)."""

    labels: np.ndarray
    size: int
    flow_keys: np.ndarray
    failed_keys: np.ndarray
    marked_keys: np.ndarray
    marked_ids: list[str]
    attempts: pd.DataFrame | None

    def src(self, keys: np.ndarray) -> np.ndarray:
        """The label of each key's calling end."""
        return self.labels[keys // self.size]

    def dst(self, keys: np.ndarray) -> np.ndarray:
        """The label of each key's called end."""
        return self.labels[keys % self.size]


def edge_keys(flows: pd.DataFrame, attempts: pd.DataFrame | None,
              findings: list[dict[str, Any]]) -> EdgeKeys:
    """The edge keys of the flows, failed attempts and findings, in one label space."""
    if attempts is not None and len(attempts):
        expected = attempts["reply_expected"].astype("boolean").fillna(True).to_numpy(bool)
        attempts = attempts[expected]
    tables = [t for t in (flows, attempts) if t is not None]
    marked = [(src, dst, f["id"]) for f in findings
              if (src := end_identity(f, "src")) and (dst := end_identity(f, "dst"))]
    columns = [pd.Series([m[0] for m in marked], dtype=object),
               pd.Series([m[1] for m in marked], dtype=object)]
    for table in tables:
        columns += [_column(table, "orig_identity"), _column(table, "resp_identity"),
                    _column(table, "orig_h"), _column(table, "resp_h")]
    codes, labels = shared_codes(columns)
    size = max(len(labels), 1)
    keys = []
    for index in range(len(tables)):
        src, dst, src_h, dst_h = codes[2 + 4 * index: 6 + 4 * index]
        keys.append(np.where(src < 0, src_h, src) * size + np.where(dst < 0, dst_h, dst))
    return EdgeKeys(labels, size, keys[0] if keys else np.zeros(0, np.int64),
                    keys[1] if len(keys) > 1 else np.zeros(0, np.int64),
                    codes[0] * size + codes[1], [m[2] for m in marked], attempts)


def talk_graph(flows: pd.DataFrame, attempts: pd.DataFrame | None,
               findings: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``graph`` section of a report: nodes, bounded edges and their totals."""
    codes = edge_keys(flows, attempts, findings)
    labels, size, flow_keys = codes.labels, codes.size, codes.flow_keys
    edges = _edges(flow_keys, codes.failed_keys, codes.marked_keys, codes.marked_ids, labels,
                   size)
    kept = edges.head(MAX_EDGES)
    rows = np.flatnonzero(np.isin(flow_keys, kept["key"].to_numpy()))
    names = _ranked_labels(flows, rows, flow_keys[rows])
    out_edges = [{"src": str(labels[key // size]), "dst": str(labels[key % size]),
                  "flows": int(n), "failed": int(bad),
                  "protocols": names.get(("proto", key), []),
                  "ports": [int(p) for p in names.get(("resp_p", key), [])],
                  "findings": ids, "failing": bool(ids) or bad > 0}
                 for key, n, bad, ids in zip(kept["key"], kept["flows"], kept["failed"],
                                             kept["findings"], strict=True)]
    return {"nodes": _nodes(flows, rows, flow_keys[rows], kept["key"].to_numpy(), labels,
                            size, findings),
            "edges": out_edges, "edges_total": int(len(edges)),
            "failing_total": int(edges["failing"].sum())}


def _column(table: pd.DataFrame, name: str) -> pd.Series:
    return table[name] if name in table.columns else pd.Series([None] * len(table),
                                                               dtype=object)


def _edges(flow_keys: np.ndarray, failed_keys: np.ndarray, marked_keys: np.ndarray,
           marked_ids: list[str], labels: np.ndarray, size: int) -> pd.DataFrame:
    """One row per edge key: flows, failed attempts, finding ids; ranked (failing first,
    then most findings, most failures, most flows, then by name for a stable order)."""
    every = np.concatenate([flow_keys, failed_keys, marked_keys]).astype(np.int64)
    unique, where = np.unique(every, return_inverse=True)
    n_flows, n_failed = len(flow_keys), len(failed_keys)
    flows = np.bincount(where[:n_flows], minlength=len(unique))
    failed = np.bincount(where[n_flows:n_flows + n_failed], minlength=len(unique))
    on_edge: dict[int, list[str]] = {}
    for slot, finding in zip(where[n_flows + n_failed:], marked_ids, strict=True):
        on_edge.setdefault(int(slot), []).append(finding)  # one step per finding
    marked = np.bincount(where[n_flows + n_failed:], minlength=len(unique))
    failing = (marked > 0) | (failed > 0)
    rank = np.empty(len(labels), dtype=np.int64)  # label order, for ties
    rank[np.argsort(labels.astype(str), kind="stable")] = np.arange(len(labels))
    order = np.lexsort((rank[unique % size] if len(unique) else unique,
                        rank[unique // size] if len(unique) else unique,
                        -flows, -failed, -marked, -failing.astype(np.int64)))
    return pd.DataFrame({"key": unique[order], "flows": flows[order],
                         "failed": failed[order], "failing": failing[order],
                         "findings": _lists(on_edge, order)})


def _lists(on_edge: dict[int, list[str]], order: np.ndarray) -> pd.Series:
    """The finding ids of each edge in ``order`` (empty lists only up to ``MAX_EDGES``:
    edges after those are counted, never listed)."""
    head = [on_edge.get(int(slot), []) for slot in order[:MAX_EDGES]]
    return pd.Series(head + [None] * (len(order) - len(head)), dtype=object)


def _ranked_labels(flows: pd.DataFrame, rows: np.ndarray,
                   keys: np.ndarray) -> dict[tuple[str, int], list]:
    """(column, edge key) -> the edge's most used values of ``proto`` and ``resp_p``."""
    out: dict[tuple[str, int], list] = {}
    for name in ("proto", "resp_p"):
        if name not in flows.columns or not len(rows):
            continue
        codes, values = codes_of(flows[name].iloc[rows])
        used = pd.DataFrame({"key": keys, "code": codes})[codes >= 0]
        counted = used.groupby(["key", "code"], sort=False).size().rename("n").reset_index()
        counted["value"] = values[counted["code"].to_numpy()]
        counted = counted.sort_values(["key", "n", "value"], ascending=[True, False, True],
                                      kind="stable", key=_value_order)
        for key, group in counted.groupby("key", sort=False)["value"]:
            top = group.head(MAX_LABELS).tolist()
            out[name, int(key)] = [int(v) for v in top] if name == "resp_p" else top
    return out


def _value_order(column: pd.Series) -> pd.Series:
    """Values in their natural order: ports as numbers."""
    if column.name != "value":
        return column
    numbers = pd.to_numeric(column, errors="coerce")
    return numbers if numbers.notna().all() else column.astype(str)


def _nodes(flows: pd.DataFrame, rows: np.ndarray, keys: np.ndarray, kept: np.ndarray,
           labels: np.ndarray, size: int, findings: list[dict[str, Any]]) -> list[dict]:
    """Every end of a kept edge with its kind and namespace, from its first flow, else from
    a finding that names it."""
    known: dict[str, dict[str, Any]] = {}
    for f in findings:
        for side in ("src", "dst"):
            if (name := end_identity(f, side)) and name not in known:
                end = f.get(side) or {}
                known[name] = {"kind": end.get("kind"), "namespace": end.get("namespace")}
    for end, codes in (("orig", keys // size), ("resp", keys % size)):
        unique, first = np.unique(codes, return_index=True)
        for field in ("kind", "namespace"):
            column = f"{end}_{field}"
            if column not in flows.columns or not len(unique):
                continue
            values = flows[column].iloc[rows[first]].astype(object).to_numpy()
            for code, value in zip(unique, values, strict=True):
                entry = known.setdefault(str(labels[code]), {"kind": None, "namespace": None})
                if entry[field] is None and not pd.isna(value):
                    entry[field] = str(value)
    names = sorted({str(labels[k // size]) for k in kept} | {str(labels[k % size])
                                                             for k in kept})
    return [{"id": name, "kind": known.get(name, {}).get("kind"),
             "namespace": known.get(name, {}).get("namespace")} for name in names]
