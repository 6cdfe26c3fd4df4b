"""The workload graph: who talks to whom, failing edges highlighted.

The data is the report's (:func:`pcapkit.report.graph.talk_graph`): ends named as the flow
table names them (a workload, else a pod, a Service, the address), one edge per calling and
called pair with its flows, failed connection attempts and findings, at most
``MAX_EDGES`` of them, failing ones first. An edge fails when a finding names its pair or
an attempt on it failed. The layout is the HTML report's too
(:func:`pcapkit.report.svg.graph_layout`: networkx's topological generations, callers left
of what they call), so the notebook and the report show one picture. ``Capture.graph()``
holds the same pairs (it is built on the same edge keys) one edge per flow; the picture
needs them per pair, ranked and capped, as the report has them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from pcapkit.plots.figure import Figure, finding_dicts, message_figure, new_figure
from pcapkit.report.graph import MAX_EDGES, talk_graph
from pcapkit.report.svg import FAIL, KIND_COLORS, OK, UNKNOWN_KIND, WIDTH, graph_layout, shorten

if TYPE_CHECKING:
    from pcapkit.capture import Capture
    from pcapkit.findings import Finding

TITLE = "Who talks to whom"
#: pixels of the report's layout per inch of the figure
PIXELS_PER_INCH = 90.0
#: how far an edge bows from the straight line (matplotlib's arc3 ``rad``): the two
#: directions of a pair stay apart
BEND = -0.12


def plot_graph(capture: Capture, *,
               findings: Iterable[Finding | dict[str, Any]] | None = None) -> Figure:
    """The workload graph of ``capture`` (module docstring), the edges of ``findings``
    failing too (None: the capture's own, ``capture.findings``; ``[]``: none); a figure
    saying so when there are no flows."""
    flows = capture.flows
    if not len(flows):
        return message_figure(TITLE, "no conversations in this capture")
    attempts = capture.table("connection_attempts")
    graph = talk_graph(flows, attempts, finding_dicts(findings, capture))
    return draw_graph(graph)


def draw_graph(graph: dict[str, Any]) -> Figure:
    """A report's ``graph`` section as a Figure: nodes coloured by kind, edges grey or red
    (failing: thicker, labelled with their ports and findings), width growing with flows."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    nodes, edges = graph["nodes"], graph["edges"]
    where, height, room = graph_layout([n["id"] for n in nodes], edges)
    figure = new_figure(WIDTH / PIXELS_PER_INCH, 1.2 + height / PIXELS_PER_INCH)
    ax = figure.add_subplot()
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    for edge in sorted(edges, key=lambda item: item["failing"]):   # failing ones on top
        (x1, y1), (x2, y2) = where[edge["src"]], where[edge["dst"]]
        failing = edge["failing"]
        width = min(0.8 + math.log2(edge["flows"] + 1) * 0.45, 4.0) + (0.9 if failing else 0)
        style = "arc3,rad=2.5" if edge["src"] == edge["dst"] else f"arc3,rad={BEND}"
        ax.add_patch(FancyArrowPatch(
            (x1, y1), (x2, y2), connectionstyle=style, arrowstyle="-|>", mutation_scale=12,
            shrinkA=8, shrinkB=8, color=FAIL if failing else OK, lw=width,
            linestyle="--" if failing and not edge["flows"] else "-",
            zorder=3 if failing else 2))
        if failing:
            what = ", ".join([*edge["protocols"], *(str(p) for p in edge["ports"])])
            note = what + (f" · {len(edge['findings'])} finding(s)" if edge["findings"] else
                           f" · {edge['failed']} failed")
            # the middle of the arc (its control point is BEND times the chord off the
            # middle; pixels are about as wide as tall, the y axis points down)
            mx, my = (x1 + x2) / 2 - BEND / 2 * (y2 - y1), (y1 + y2) / 2 + BEND / 2 * (x2 - x1)
            ax.text(mx, my, note.strip(" ·"), color=FAIL, fontsize=7, ha="center",
                    va="center", zorder=5,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                          "alpha": 0.8})
    last_x = max(x for x, _ in where.values())
    kinds = sorted({n.get("kind") or "unknown" for n in nodes})
    for kind in kinds:
        mine = [n["id"] for n in nodes if (n.get("kind") or "unknown") == kind]
        xy = np.array([where[name] for name in mine])
        ax.scatter(xy[:, 0], xy[:, 1], s=90, color=KIND_COLORS.get(kind, UNKNOWN_KIND),
                   zorder=4, edgecolors="white", linewidths=1, label=kind)
    for node in nodes:
        px, py = where[node["id"]]
        right = px >= last_x
        ax.text(px + (11 if right else -11), py, shorten(node["id"], max(room // 6, 12)),
                ha="left" if right else "right", va="center", fontsize=8, zorder=5)
    handles = ax.get_legend_handles_labels()[0] + [
        Line2D([], [], color=FAIL, lw=2.4, label="failing (a finding or failed attempts)"),
        Line2D([], [], color=OK, lw=1.6, label="working")]
    figure.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5),
                  fontsize=8, frameon=False)
    total, shown = graph.get("edges_total", len(edges)), len(edges)
    note = f"{total} conversation pair(s), {graph.get('failing_total', 0)} failing"
    if total > shown:
        note = f"the {shown} most telling of {note} (failing first; at most {MAX_EDGES})"
    ax.set_title(f"{TITLE}: {note}", fontsize=10)
    return figure
