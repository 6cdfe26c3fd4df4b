"""``finding.explain()``: the reasoning behind one finding, as text and a table.

* ``policy-drop``: the cluster's own verdict on the connection (``Cluster.explain``: the
  NetworkPolicies in force when it was tried), one row per direction with the policies that
  isolate it, why nothing admitted it and the near misses (a rule that almost matched).
* ``asymmetric-route``: the two directions' paths side by side: every capture point the
  flow was seen at, with the sightings and first time of each direction there, the
  ``flow_paths`` row's reason and detail above them.
* Anything else: the rows of the rule's table the finding is made of.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pcapkit.column_arrays import NAT_NS, packet_times_ns, times_ns
from pcapkit.explore.html import block, cell, frame_table

if TYPE_CHECKING:
    from pcapkit.cluster.policy.verdict import Verdict
    from pcapkit.explore.findings import FindingView

#: what the policy verdict's ``proto`` is for each flow protocol
_POLICY_PROTOCOLS = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP"}


@dataclass
class Explanation:
    """Why a finding was made: ``text`` (a few lines), ``frame`` (the table behind them),
    ``kind`` (``policy``, ``paths`` or ``rows``) and, for a policy drop, the ``verdict``.
    ``shown``: the columns of ``frame`` its HTML shows (all when empty)."""

    finding_id: str
    kind: str
    text: str
    frame: pd.DataFrame
    verdict: Verdict | None = field(default=None, repr=False)
    shown: tuple[str, ...] = ()

    def __str__(self) -> str:
        table = self.frame.to_string(index=False) if len(self.frame) else "(no rows)"
        return f"{self.text}\n\n{table}"

    def __repr__(self) -> str:
        first = self.text.splitlines()[0] if self.text else ""
        return (f"<pcapkit.Explanation {self.kind} of finding {self.finding_id}: {first} "
                f"({len(self.frame)} row(s))>")

    def _repr_html_(self) -> str:
        lines = "".join(f"<p>{cell(line)}</p>" for line in self.text.splitlines() if line)
        columns = list(self.shown) or None
        note = (f'<p class="meta">{len(columns)} of {len(self.frame.columns)} columns shown: '
                "<code>.frame</code> has them all.</p>" if columns else "")
        return block(f"<h4>Why finding <code>{cell(self.finding_id)}</code></h4>", lines,
                     frame_table(self.frame, columns=columns), note)


def explain(view: FindingView) -> Explanation:
    """The Explanation of one finding (its category decides which)."""
    category = view.finding.category
    if category == "policy-drop" and view.capture.cluster is not None:
        return _policy(view)
    if category == "asymmetric-route":
        return _paths(view)
    return _rows(view)


def _rows(view: FindingView, note: str = "") -> Explanation:
    """The rows the rule matched; their HTML shows the rule's grouping and fields, then
    the table's brief and evidence columns."""
    from pcapkit.schema import table as declaration

    rule = view.rule
    rows = view.rows
    text = f"{view.finding.summary}\n{len(rows)} row(s) of {rule.table} matched rule " \
           f"{view.finding.rule} ({view.finding.title})."
    table = declaration(rule.table)
    shown = tuple(c for c in dict.fromkeys((*rule.group_by, *rule.fields, table.time,
                                            *table.brief, *rule.evidence))
                  if c and c in rows.columns)
    return Explanation(view.finding.id, "rows", text + (f"\n{note}" if note else ""), rows,
                       shown=shown if len(shown) < len(rows.columns) else ())


def _policy(view: FindingView) -> Explanation:
    """The verdict of the first connection attempt behind the finding, asked of the
    cluster at the time it was made."""
    rows = view.rows
    if not len(rows):
        return _rows(view)
    row = rows.iloc[0]
    proto = _POLICY_PROTOCOLS.get(str(row["proto"]), "TCP")
    verdict = view.capture.cluster.explain(str(row["orig_h"]), str(row["resp_h"]),
                                           int(row["resp_p"]), proto, at=row["ts"])
    directions = [verdict.egress, verdict.ingress]
    frame = pd.DataFrame({
        "direction": [d.direction for d in directions],
        "endpoint": [d.endpoint for d in directions],
        "isolated": [d.isolated for d in directions],
        "policies": [", ".join(d.policies) for d in directions],
        "allowed": [d.allowed for d in directions],
        "reason": [d.reason for d in directions],
        "near_misses": ["; ".join(d.near_misses) for d in directions]})
    text = (f"{view.finding.summary}\nThe cluster's NetworkPolicies at "
            f"{pd.Timestamp(row['ts']).isoformat()}, asked about {row['orig_h']} -> "
            f"{row['resp_h']} {verdict.traffic}:\n{verdict.explain()}")
    return Explanation(view.finding.id, "policy", text, frame, verdict)


def _paths(view: FindingView) -> Explanation:
    """Capture points of the finding's flows, each direction's sightings side by side."""
    rows = view.rows
    capture = view.capture
    flows = view.ids["flows"]
    if not len(flows):
        return _rows(view, "The finding names no flow: no paths to compare.")
    frame = path_table(capture, flows)
    lines = [view.finding.summary]
    for _, row in rows.iterrows():  # one line per flow the rule matched (a handful)
        lines.append(f"flow {row['flow_id']}: {row['orig_h']}:{row['orig_p']} -> "
                     f"{row['resp_h']}:{row['resp_p']} {row['proto']} {row['conn_state']}; "
                     f"reason {row['reason'] or '-'}; {row['detail'] or ''}".rstrip("; "))
        if row.get("one_way_points"):
            lines.append(f"one direction only at: {row['one_way_points']}")
    lines.append("Where each direction was seen (sightings, first time after the flow "
                 "began, ms):")
    return Explanation(view.finding.id, "paths", "\n".join(lines), frame)


def path_table(capture: Any, flow_ids: np.ndarray) -> pd.DataFrame:
    """One row per (flow, capture point) the flows were seen at, in order of first
    sighting: the sightings and first time (ms after the flow began) of each direction,
    ``orig -> resp`` and ``resp -> orig``; 0 sightings where a direction never passed."""
    from pcapkit.flows.path import interface_labels

    distinct, flows = capture.distinct, capture.flows
    mine = distinct[distinct["flow_id"].isin(pd.array(flow_ids, dtype="Int64"))]
    flow_rows = flows.set_index("flow_id").loc[mine["flow_id"].astype(np.int64)]
    forward = mine["src"].astype(str).to_numpy() == flow_rows["orig_h"].astype(str).to_numpy()
    direction = pd.Series(np.where(forward, "orig -> resp", "resp -> orig"),
                          index=mine["packet_id"].to_numpy(dtype=np.int64))
    flow_of = pd.Series(mine["flow_id"].to_numpy(dtype=np.int64), index=direction.index)
    sightings = capture.sightings
    seen = sightings[sightings["packet_id"].isin(pd.array(direction.index, dtype="Int64"))]
    codes, labels = interface_labels(seen)
    ids = seen["packet_id"].to_numpy(dtype=np.int64)
    t = packet_times_ns(seen)
    start = flows.set_index("flow_id")["ts"].loc[flow_of.loc[ids].to_numpy()]
    since_ms = np.where(t == NAT_NS, np.nan, (t - times_ns(start)) / 1e6)
    table = pd.DataFrame({"flow_id": flow_of.loc[ids].to_numpy(), "point": labels[codes],
                          "direction": direction.loc[ids].to_numpy(), "t_ms": since_ms})
    counted = table.groupby(["flow_id", "point", "direction"], sort=False).agg(
        sightings=("t_ms", "size"), first_ms=("t_ms", "min")).reset_index()
    wide = counted.pivot_table(index=["flow_id", "point"], columns="direction",
                               values=["sightings", "first_ms"], aggfunc="first")
    out = pd.DataFrame(index=wide.index)
    for name in ("orig -> resp", "resp -> orig"):
        out[f"{name} sightings"] = (wide["sightings"][name] if name in
                                    wide["sightings"].columns else 0)
        out[f"{name} first ms"] = (wide["first_ms"][name] if name in wide["first_ms"].columns
                                   else np.nan)
    for name in ("orig -> resp", "resp -> orig"):
        out[f"{name} sightings"] = out[f"{name} sightings"].fillna(0).astype(int)
        out[f"{name} first ms"] = out[f"{name} first ms"].round(3)
    first = out[["orig -> resp first ms", "resp -> orig first ms"]].min(axis=1)
    return out.assign(_first=first).sort_values(["flow_id", "_first"]) \
        .drop(columns="_first").reset_index()

