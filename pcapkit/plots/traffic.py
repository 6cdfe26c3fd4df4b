"""Packets or bytes over time per node pair, findings marked.

A distinct packet (``packet_id``) travels from one node to another: from the node owning
its tunnel's outer source to the one owning the outer destination when it was ever seen
tunnelled (:func:`pcapkit.analyses.underlay.underlay_nodes`, so a packet the receiver
never captured still names the receiver), else from the node that saw it first to the
node that saw it last (a node alone: traffic on that node, or a packet that never got
further). A Service-DNATed packet counts before and after the translation (two packet
ids). Time buckets are the report timeline's (:func:`pcapkit.report.timeline.bucket_width`:
at most 120 over the captures); the ``MAX_PAIRS`` busiest pairs get a line each, the rest
one more. Findings (``findings=``, by default the capture's own) are spans from first to
last sighting, numbered, coloured by severity; at most ``MAX_SPANS``. One sort and one bincount
over the packet table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pcapkit.analyses.underlay import encapsulated, underlay_nodes
from pcapkit.column_arrays import NAT_NS, codes_of, packet_times_ns, per_row
from pcapkit.errors import PcapkitError
from pcapkit.findings import severity_rank
from pcapkit.plots.figure import Figure, finding_dicts, message_figure, new_figure, utc_text
from pcapkit.report.svg import SEVERITY_COLORS, UNKNOWN_KIND, ns, shorten
from pcapkit.report.timeline import bucket_width

if TYPE_CHECKING:
    from pcapkit.capture import Capture
    from pcapkit.findings import Finding

MAX_PAIRS = 8
#: line colours: no red, which marks findings
COLORS = ("#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#e377c2",
          "#bcbd22", "#7f7f7f")
MAX_SPANS = 30
MEASURES = ("packets", "bytes")
TITLE = "Traffic per node pair"


def plot_traffic(capture: Capture, by: str = "packets", *,
                 findings: Iterable[Finding | dict[str, Any]] | None = None) -> Figure:
    """``by`` ("packets" or "bytes", IP length) per time bucket and node pair, with the
    spans of ``findings`` (None: the capture's own, ``capture.findings``; ``[]``: none;
    module docstring); a figure saying so when the capture holds no packets."""
    if by not in MEASURES:
        raise PcapkitError(f"plot_traffic: by must be one of {', '.join(MEASURES)}, not "
                           f"{by!r}")
    traffic = node_pairs(capture)
    if not len(traffic):
        return message_figure(TITLE, "no packets in this capture")
    t = traffic["t"].to_numpy()
    start, span_ns = int(t.min()), int(t.max() - t.min())
    width = bucket_width(span_ns / 1e9)
    width_ns = max(round(width * 1e9), 1)
    first = start // width_ns * width_ns
    bucket = (t - first) // width_ns
    n_buckets = int(bucket.max()) + 1
    pair_codes, pair_names = _ranked_pairs(traffic)
    weights = traffic["bytes"].to_numpy(dtype=np.float64) if by == "bytes" else None
    counts = np.bincount(pair_codes * n_buckets + bucket, weights=weights,
                         minlength=len(pair_names) * n_buckets).reshape(len(pair_names),
                                                                        n_buckets)
    edges = (first + np.arange(n_buckets + 1, dtype=np.int64) * width_ns).astype("datetime64[ns]")

    figure = new_figure(11.0, 4.8)
    ax = figure.add_subplot()
    for code, name in enumerate(pair_names):
        total = counts[code].sum()
        ax.stairs(counts[code], edges, lw=1.6, color=COLORS[code % len(COLORS)],
                  label=f"{name}: {_amount(total, by)}")
    spans, undated = _finding_spans(ax, finding_dicts(findings, capture))
    ax.set_ylabel(f"{by} per {width:g} s")
    ax.set_ylim(bottom=0)
    ax.margins(x=0)
    ax.set_xlabel("time (UTC)")
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.grid(True, color="#e6e9ed")
    handles = ax.get_legend_handles_labels()[0] + spans
    figure.legend(handles=handles, loc="outside right upper", fontsize=8, frameon=False)
    note = f"{len(traffic):,} packets from {utc_text(start)}"
    if spans:
        note += f"; {len(spans)} finding(s) shaded"
    if undated:
        note += f" ({undated} without a time of their own not drawn)"
    ax.set_title(f"{TITLE} ({by})\n{note}", fontsize=10)
    return figure


def node_pairs(capture: Capture) -> pd.DataFrame:
    """One row per distinct packet: ``packet_id``, ``t`` (its first sighting, ns),
    ``src_node`` and ``dst_node`` (module docstring) and ``bytes`` (IP length, else the
    length on the wire). Packets without a packet_id or a time are left out."""
    packets = capture.packets
    ids = packets["packet_id"].to_numpy(dtype=np.int64, na_value=-1) if len(packets) else \
        np.zeros(0, np.int64)
    t = packet_times_ns(packets) if len(packets) else np.zeros(0, np.int64)
    rows = np.flatnonzero((ids >= 0) & (t != NAT_NS))
    columns = {"packet_id": [], "t": [], "src_node": [], "dst_node": [], "bytes": []}
    if not len(rows):
        return pd.DataFrame(columns)
    rows = rows[np.lexsort((t[rows], ids[rows]))]
    ids, t = ids[rows], t[rows]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(rows)] - 1
    node_codes, node_labels = codes_of(packets["node"])
    owners = underlay_nodes(capture)
    nodes = pd.Index(sorted({*map(str, node_labels), *owners.values()}), dtype=object)
    node = per_row(node_codes[rows], nodes.get_indexer(pd.Index(node_labels, dtype=object)),
                   -1)
    src, dst = node[starts], node[ends]
    tunnelled = encapsulated(packets)[rows]
    if tunnelled.any():
        # the earliest tunnelled sighting of each packet names its two nodes
        group = np.cumsum(np.r_[True, ids[1:] != ids[:-1]]) - 1
        seen = np.flatnonzero(tunnelled)
        first_tunnel = seen[np.r_[True, group[seen][1:] != group[seen][:-1]]]
        for column, target in (("outer_src", src), ("outer_dst", dst)):
            codes, labels = codes_of(packets[column])
            owner = np.array([nodes.get_loc(owners[a]) if a in owners else -1
                              for a in labels], dtype=np.int64)
            named = per_row(codes[rows[first_tunnel]], owner, -1)
            at = group[first_tunnel]
            target[at] = np.where(named >= 0, named, target[at])
    length = packets["ip_len"].to_numpy(dtype=np.int64, na_value=-1)[rows[starts]]
    wire = packets["wirelen"].to_numpy(dtype=np.int64, na_value=0)[rows[starts]]
    names = np.append(nodes.to_numpy(dtype=object), "unknown")
    return pd.DataFrame({"packet_id": ids[starts], "t": t[starts], "src_node": names[src], "dst_node": names[dst],
                         "bytes": np.where(length >= 0, length, wire)})


def _ranked_pairs(traffic: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Per packet the code of its line, and each line's name: the ``MAX_PAIRS`` busiest
    (src, dst) node pairs, then "other pairs"."""
    key = pd.MultiIndex.from_arrays([traffic["src_node"], traffic["dst_node"]])
    codes, uniques = pd.factorize(key)
    counts = np.bincount(codes, minlength=len(uniques))
    ranked = np.lexsort((np.arange(len(uniques)), -counts))
    keep = ranked[:MAX_PAIRS]
    code_of = np.full(len(uniques), len(keep), dtype=np.int64)
    code_of[keep] = np.arange(len(keep))
    names = [f"{a} → {b}" if a != b else f"{a} (on the node only)"
             for a, b in (uniques[int(u)] for u in keep)]
    if len(uniques) > len(keep):
        names.append(f"{len(uniques) - len(keep)} other pairs")
    return code_of[codes], names


def _amount(total: float, by: str) -> str:
    return f"{int(total):,} packets" if by == "packets" else f"{int(total):,} bytes"


def _finding_spans(ax: Any, findings: list[dict[str, Any]]) -> tuple[list[Any], int]:
    """Shade each dated finding (highest severity first, at most ``MAX_SPANS``), numbered
    at the top; (their legend entries, findings without a time)."""
    from matplotlib.patches import Patch

    handles: list[Any] = []
    dated = [f for f in findings if f.get("first_seen")]
    dated.sort(key=lambda f: (severity_rank(f.get("severity", "")), f["first_seen"]))
    for number, f in enumerate(dated[:MAX_SPANS], start=1):
        color = SEVERITY_COLORS.get(f.get("severity", ""), UNKNOWN_KIND)
        lo = np.datetime64(ns(f["first_seen"]), "ns")
        hi = np.datetime64(ns(f.get("last_seen") or f["first_seen"]), "ns")
        ax.axvspan(lo, hi, color=color, alpha=0.18, lw=0, zorder=0)
        ax.axvline(lo, color=color, lw=0.8, zorder=0)
        ax.text(lo, 1.0, f" {number}", transform=ax.get_xaxis_transform(), va="top",
                fontsize=8, color=color, fontweight="bold")
        handles.append(Patch(color=color, alpha=0.35,
                             label=f"{number} {f.get('severity')}: "
                                   f"{shorten(str(f.get('title', '')), 48)}"))
    return handles, len(findings) - len(dated)
