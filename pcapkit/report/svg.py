"""Inline SVG pictures for the HTML report: the timeline (findings as bars per severity
and category over the captures' time, DNS latency and failures per bucket below) and the
workload graph (callers left of what they call, in columns networkx derives from the graph,
the same on every run; failing edges red and linked to their first finding), drawn from the
report document alone; and the ladder of a finding's first evidence flow, drawn from the
layout :mod:`pcapkit.plots.ladders` prepares from the capture (the notebook's figure, as
SVG written here: matplotlib's own SVG costs a second of import and 0.1 s a picture). Every
text taken from captures or the cluster is escaped."""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

from pcapkit.report.common import grouped
from pcapkit.report.timeline import WIDTHS

if TYPE_CHECKING:
    from pcapkit.plots.ladders import LadderLayout

WIDTH = 960
SEVERITY_COLORS = {"critical": "#8e0000", "high": "#d32f2f", "medium": "#f57c00",
                   "low": "#0288d1", "informational": "#757575"}
KIND_COLORS = {"pod": "#1f77b4", "host-network-pod": "#17becf", "service": "#9467bd",
               "node": "#7f7f7f", "external": "#ff7f0e", "pod-cidr": "#8c564b"}
UNKNOWN_KIND = "#b0b0b0"
FAIL, OK = "#d32f2f", "#9aa5b1"
_LABEL = 230      # timeline: width of the row labels
_ROW = 20         # timeline: height of one (severity, category) row
_DNS = 130        # timeline: height of the DNS latency panel
_COUNTS = 40      # timeline: height of the DNS query/failure bars
_RADIUS = 7       # graph: node radius
_GAP = 28         # graph: vertical distance of two nodes in a column
_LABEL_ROOM = 280  # graph: room for the labels left of the first and right of the last column


def e(value: Any) -> str:
    """``value`` as text safe in HTML/SVG text and quoted attributes."""
    return escape("" if value is None else str(value), quote=True)


def ns(stamp: str | None) -> int | None:
    """Nanoseconds since the epoch of a report time (ISO 8601, ``Z``)."""
    if not stamp:
        return None
    return int(np.datetime64(stamp.rstrip("Z"), "ns").astype(np.int64))


# -- timeline ----------------------------------------------------------------------------

def timeline_svg(report: dict[str, Any]) -> str:
    """The timeline picture, or "" when nothing in the report has a time."""
    rows = [(severity, category, [f for f in group if f["first_seen"]])
            for severity, category, group in grouped(report["findings"])]
    rows = [row for row in rows if row[2]]
    timeline = report.get("timeline") or {}
    buckets = timeline.get("dns") or []
    width_ns = round((timeline.get("bucket_seconds") or 0) * 1e9)
    summary = report["summary"]
    stamps = [ns(summary.get("first_packet")), ns(summary.get("last_packet"))]
    stamps += [ns(f[key]) for _, _, group in rows for f in group
               for key in ("first_seen", "last_seen")]
    stamps += [ns(b["start"]) for b in buckets] + [ns(b["start"]) + width_ns for b in buckets]
    known = [s for s in stamps if s is not None]
    if not known or (not rows and not buckets):
        return ""
    lo, hi = min(known), max(known)
    hi = max(hi, lo + 1_000_000)  # at least 1 ms wide
    plot = WIDTH - _LABEL - 40

    def x(stamp: int) -> float:
        return _LABEL + (stamp - lo) / (hi - lo) * plot

    top = 34
    dns_top = top + len(rows) * _ROW + (24 if rows else 0)
    height = dns_top + (_DNS + _COUNTS + 40 if buckets else 0) + 10
    out = [f'<svg class="timeline" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
           f'height="{height}" role="img" aria-label="Timeline of findings and DNS latency">']
    out += _time_axis(lo, hi, x, top, dns_top + (_DNS + _COUNTS + 20 if buckets else -14))
    for index, (severity, category, group) in enumerate(rows):
        y = top + index * _ROW
        out.append(f'<text class="row" x="{_LABEL - 8}" y="{y + 14}" text-anchor="end">'
                   f'{e(shorten(category, 26))} <tspan class="sev">{e(severity)} ({len(group)})'
                   '</tspan></text>')
        for f in group:
            start = x(ns(f["first_seen"]))
            end = x(ns(f["last_seen"]) or ns(f["first_seen"]))
            out.append(f'<a href="#f-{e(f["id"])}"><rect x="{start:.1f}" y="{y + 3}" '
                       f'width="{max(end - start, 3):.1f}" height="{_ROW - 6}" rx="2" '
                       f'fill="{SEVERITY_COLORS.get(severity, UNKNOWN_KIND)}" '
                       f'fill-opacity="0.8"><title>{e(f["title"])}: {e(f["summary"])} '
                       f'({e(f["first_seen"])} .. {e(f["last_seen"])})</title></rect></a>')
    if buckets:
        out += _dns_panel(buckets, width_ns, x, dns_top)
    out.append("</svg>")
    return "\n".join(out)


def _time_axis(lo: int, hi: int, x: Any, top: int, bottom: int) -> list[str]:
    span = (hi - lo) / 1e9
    step = next((w for w in WIDTHS if span / w <= 8), WIDTHS[-1])
    step_ns = round(step * 1e9)
    first = -(-lo // step_ns) * step_ns
    day = np.datetime_as_string(np.datetime64(lo, "ns"), unit="s").replace("T", " ")
    out = [f'<text class="axis" x="{_LABEL}" y="12">UTC, from {e(day)}</text>']
    for tick in range(first, hi + 1, step_ns):
        label = np.datetime_as_string(np.datetime64(tick, "ns"), unit="ms" if step < 1 else "s")
        label = label.split("T")[1]
        out.append(f'<line class="grid" x1="{x(tick):.1f}" y1="{top - 6}" x2="{x(tick):.1f}" '
                   f'y2="{bottom}"/><text class="axis" x="{x(tick):.1f}" y="{top - 9}" '
                   f'text-anchor="middle">{e(label)}</text>')
    return out


def _dns_panel(buckets: list[dict[str, Any]], width_ns: int, x: Any, top: int) -> list[str]:
    latencies = [b[k] for b in buckets for k in ("p50_ms", "p90_ms", "max_ms")
                 if b[k] is not None and b[k] > 0]
    low = 10 ** math.floor(math.log10(min(latencies))) if latencies else 0.1
    high = 10 ** math.ceil(math.log10(max(latencies))) if latencies else 1000.0
    high = max(high, low * 10)

    def y(ms: float) -> float:
        ms = min(max(ms, low), high)
        return top + _DNS - (math.log10(ms) - math.log10(low)) / \
            (math.log10(high) - math.log10(low)) * _DNS

    out = [f'<text class="row" x="{_LABEL - 50}" y="{top + 12}" text-anchor="end">'
           'DNS latency (log)</text>',
           f'<rect class="panel" x="{_LABEL}" y="{top}" width="{WIDTH - _LABEL - 40}" '
           f'height="{_DNS}"/>']
    decade = low
    while decade <= high * 1.0001:
        label = f"{decade:g} ms" if decade < 1000 else f"{decade / 1000:g} s"
        out.append(f'<line class="grid" x1="{_LABEL}" y1="{y(decade):.1f}" '
                   f'x2="{WIDTH - 40}" y2="{y(decade):.1f}"/><text class="axis" '
                   f'x="{_LABEL - 4}" y="{y(decade) + 4:.1f}" text-anchor="end">{label}</text>')
        decade *= 10
    for key, css in (("p90_ms", "p90"), ("p50_ms", "p50")):
        for run in _runs(buckets, key, width_ns):
            points = " ".join(f"{x(ns(b['start']) + width_ns / 2):.1f},{y(b[key]):.1f}"
                              for b in run)
            out.append(f'<polyline class="{css}" points="{points}"/>' if len(run) > 1 else
                       f'<circle class="{css}" cx="{points.split(",")[0]}" '
                       f'cy="{points.split(",")[1]}" r="2"/>')
    counts_top = top + _DNS + 14
    most = max(b["queries"] for b in buckets)
    out.append(f'<text class="row" x="{_LABEL - 8}" y="{counts_top + 14}" text-anchor="end">'
               'queries / failed</text>')
    for b in buckets:
        left = x(ns(b["start"]))
        wide = max(x(ns(b["start"]) + width_ns) - left - 1, 1.5)
        mid = left + wide / 2
        tall = b["queries"] / most * _COUNTS
        bad = b["failed"] / most * _COUNTS
        out.append(f'<g><rect class="queries" x="{left:.1f}" y="{counts_top + _COUNTS - tall:.1f}"'
                   f' width="{wide:.1f}" height="{tall:.1f}"/>')
        if b["failed"]:
            out.append(f'<rect class="failed" x="{left:.1f}" '
                       f'y="{counts_top + _COUNTS - bad:.1f}" width="{wide:.1f}" '
                       f'height="{bad:.1f}"/>')
        if b["max_ms"] is not None and b["max_ms"] > 0:
            out.append(f'<circle class="max" cx="{mid:.1f}" cy="{y(b["max_ms"]):.1f}" r="2"/>')
        out.append(f'<rect class="hover" x="{left:.1f}" y="{top}" width="{wide:.1f}" '
                   f'height="{_DNS + _COUNTS + 14}"><title>{e(_bucket_text(b))}</title></rect>'
                   '</g>')
    return out


def _runs(buckets: list[dict[str, Any]], key: str, width_ns: int) -> list[list[dict]]:
    """Adjacent buckets with a value of ``key``: a line is not drawn across a gap."""
    runs: list[list[dict]] = []
    previous = None
    for b in buckets:
        if b[key] is None or b[key] <= 0:
            previous = None
            continue
        start = ns(b["start"])
        if previous is None or start - previous > width_ns:
            runs.append([])
        runs[-1].append(b)
        previous = start
    return runs


def _bucket_text(b: dict[str, Any]) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:g} ms"

    return (f"{b['start']}: {b['queries']} queries, {b['answered']} answered, "
            f"{b['failed']} failed; latency p50 {ms(b['p50_ms'])}, p90 {ms(b['p90_ms'])}, "
            f"max {ms(b['max_ms'])}")


# -- workload graph ----------------------------------------------------------------------

def graph_svg(graph: dict[str, Any], titles: dict[str, str]) -> str:
    """The workload graph picture (``titles``: finding id -> title, for edge tooltips), or
    "" when the report has no edges."""
    nodes, edges = graph.get("nodes") or [], graph.get("edges") or []
    if not nodes:
        return ""
    where, height, room = graph_layout([n["id"] for n in nodes], edges)
    last_x = max(x for x, _ in where.values())
    out = [f'<svg class="graph" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
           f'height="{height}" role="img" aria-label="Which workloads talk to which">',
           "<defs>" + "".join(
               f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
               f'markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" '
               f'orient="auto-start-reverse">'
               f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
               for name, color in (("ok", OK), ("fail", FAIL))) + "</defs>"]
    for edge in sorted(edges, key=lambda item: item["failing"]):  # failing ones on top
        out.append(_edge(edge, where, titles))
    for node in nodes:
        px, py = where[node["id"]]
        anchor, dx = ("start", _RADIUS + 4) if px >= last_x else ("end", -_RADIUS - 4)
        out.append(f'<g class="node"><circle cx="{px:.1f}" cy="{py:.1f}" r="{_RADIUS}" '
                   f'fill="{KIND_COLORS.get(node.get("kind") or "", UNKNOWN_KIND)}">'
                   f'<title>{e(node["id"])} ({e(node.get("kind") or "unknown kind")})</title>'
                   f'</circle><text x="{px + dx:.1f}" y="{py + 4:.1f}" text-anchor="{anchor}">'
                   f'{e(shorten(node["id"], max(room // 6, 12)))}</text></g>')
    out.append("</svg>")
    return "\n".join(out)


def graph_layout(names: list[str], edges: list[dict[str, Any]]
                 ) -> tuple[dict[str, tuple[float, float]], int, int]:
    """Node positions (pixels of a ``WIDTH`` wide picture), the picture's height and the
    label room per column: a layered drawing, callers left, the ones they call to the right (columns are the topological
    generations of the graph with its cycles condensed), each column ordered by the mean
    row of its callers so edges cross little. Deterministic: no randomness at all."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    graph.add_edges_from((edge["src"], edge["dst"]) for edge in edges
                         if edge["src"] != edge["dst"])
    condensed = nx.condensation(graph)
    column_of = {}
    for depth, members in enumerate(nx.topological_generations(condensed)):
        for component in members:
            for name in condensed.nodes[component]["members"]:
                column_of[name] = depth
    columns: list[list[str]] = [[] for _ in range(max(column_of.values()) + 1)]
    for name in sorted(names):
        columns[column_of[name]].append(name)
    row: dict[str, float] = {}
    for index, members in enumerate(columns):
        if index:
            def weight(name: str) -> tuple[float, str]:
                callers = [row[p] for p in graph.predecessors(name) if p in row]
                return (sum(callers) / len(callers) if callers else float("inf"), name)

            members.sort(key=weight)
        row.update({name: float(i) for i, name in enumerate(members)})
    tallest = max(len(members) for members in columns)
    height = max(160, tallest * _GAP + 40)
    room = _LABEL_ROOM if len(columns) > 1 else WIDTH // 2
    spacing = (WIDTH - 2 * room) / max(len(columns) - 1, 1)
    where = {}
    for index, members in enumerate(columns):
        x = room + index * spacing if len(columns) > 1 else WIDTH / 2
        offset = (height - len(members) * _GAP) / 2 + _GAP / 2
        where.update({name: (x, offset + i * _GAP) for i, name in enumerate(members)})
    return where, height, int(min(room, spacing) if len(columns) > 2 else room)


def _edge(edge: dict[str, Any], where: dict[str, tuple[float, float]],
          titles: dict[str, str]) -> str:
    (x1, y1), (x2, y2) = where[edge["src"]], where[edge["dst"]]
    failing = edge["failing"]
    width = min(1.2 + math.log2(edge["flows"] + 1) * 0.6, 5.0) + (1.2 if failing else 0)
    color, marker = (FAIL, "fail") if failing else (OK, "ok")
    if edge["src"] == edge["dst"]:  # a workload talking to itself: a loop above the node
        top = y1 - _RADIUS
        path = (f"M{x1 - 4:.1f},{top:.1f} C{x1 - 24:.1f},{top - 34:.1f} "
                f"{x1 + 24:.1f},{top - 34:.1f} {x1 + 4:.1f},{top:.1f}")
    else:
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1.0
        ux, uy = dx / length, dy / length
        sx, sy = x1 + ux * (_RADIUS + 1), y1 + uy * (_RADIUS + 1)
        tx, ty = x2 - ux * (_RADIUS + 3), y2 - uy * (_RADIUS + 3)
        bend = min(0.12 * length, 40.0)  # both directions of a pair stay apart
        cx, cy = (sx + tx) / 2 - uy * bend, (sy + ty) / 2 + ux * bend
        path = f"M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {tx:.1f},{ty:.1f}"
    dashed = ' stroke-dasharray="6 3"' if failing and not edge["flows"] else ""
    shape = (f'<path d="{path}" fill="none" stroke="{color}" stroke-width="{width:.1f}" '
             f'marker-end="url(#arrow-{marker})"{dashed}>'
             f'<title>{e(_edge_text(edge, titles))}</title></path>')
    if edge["findings"]:
        return f'<a href="#f-{e(edge["findings"][0])}">{shape}</a>'
    return shape


def _edge_text(edge: dict[str, Any], titles: dict[str, str]) -> str:
    what = ", ".join([*edge["protocols"], *(str(p) for p in edge["ports"])])
    text = f"{edge['src']} -> {edge['dst']}: {edge['flows']} flow(s)"
    if what:
        text += f" ({what})"
    if edge["failed"]:
        text += f", {edge['failed']} failed connection attempt(s)"
    if edge["findings"]:
        text += "; findings: " + "; ".join(titles.get(i, i) for i in edge["findings"])
    return text


def shorten(text: str, most: int) -> str:
    """``text`` cut to ``most`` characters, an ellipsis marking the cut."""
    return text if len(text) <= most else text[: most - 1] + "…"


# -- ladder of a finding's flow ----------------------------------------------------------

LADDER_COLORS = ("#1f77b4", "#f57c00", "#7f7f7f")   # orig, resp, other (as the figure's)
_LADDER_LEFT = 220    # ladder: width of the packet labels
_LADDER_TOP = 60      # ladder: height of the lane labels
_LADDER_ROW = 20      # ladder: height of one packet's row
_LANE_GAP = (64, 112)  # ladder: least and most room between two lanes


def ladder_svg(layout: LadderLayout, key: str) -> str:
    """A ladder layout (:func:`pcapkit.plots.ladders.ladder_layout`) as SVG: the lanes with
    their node, interface and role, one arrow per sighting after a packet's first, a dashed
    line to a packet's twin after a Service NAT, a red cross where a packet stopped short.
    ``key`` (letters, digits, dashes) keeps the arrow markers' ids apart on one page."""
    lanes, packets, hops = layout.lanes, layout.packets, layout.hops
    n_lanes, n_rows = len(lanes), len(packets)
    gap = min(max((WIDTH - _LADDER_LEFT - 100) / max(n_lanes - 1, 1), _LANE_GAP[0]),
              _LANE_GAP[1])
    width = int(_LADDER_LEFT + 100 + gap * max(n_lanes - 1, 0))
    top = _LADDER_TOP + 10
    height = int(top + (n_rows - 1 + 0.6) * _LADDER_ROW + 24)
    xs = _LADDER_LEFT + 50 + gap * np.arange(n_lanes)
    px = xs[hops["lane"].to_numpy()]
    py = top + hops["y"].to_numpy() * _LADDER_ROW
    way = hops["direction"].to_numpy()
    first = hops["first"].to_numpy()
    out = [f'<svg class="ladder" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-label="Ladder diagram: {e(layout.title)}">',
           "<defs>" + "".join(
               f'<marker id="{key}-a{d}" viewBox="0 0 10 10" refX="9" refY="5" '
               f'markerUnits="userSpaceOnUse" markerWidth="8" markerHeight="8" '
               f'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
               for d, color in enumerate(LADDER_COLORS)) + "</defs>"]
    nodes = lanes["node"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, nodes[1:] != nodes[:-1], True])
    for index, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=False)):
        left, right = xs[a] - gap / 2, xs[b - 1] + gap / 2
        out.append(f'<rect x="{left:.1f}" y="0" width="{right - left:.1f}" height="{height}" '
                   f'fill="{"#f3f5f7" if index % 2 == 0 else "#e8ecf0"}"/>')
    for x, lane in zip(xs, lanes.itertuples(index=False), strict=True):
        out.append(f'<text class="row" x="{x:.1f}" y="14" text-anchor="middle">'
                   f'{e(shorten(lane.node, 18))}</text><text class="row" x="{x:.1f}" y="28" '
                   f'text-anchor="middle">{e(shorten(lane.interface, 18))}</text>'
                   f'<text class="axis" x="{x:.1f}" y="42" text-anchor="middle">'
                   f'{e(lane.role)}</text><line class="lane" x1="{x:.1f}" y1="{top - 12}" '
                   f'x2="{x:.1f}" y2="{height - 6}"/>')
    starts = np.flatnonzero(first)
    last = np.r_[starts[1:] - 1, len(first) - 1] if len(first) else starts
    for a, b in zip(last[layout.nat_links["from_row"].to_numpy()],
                    starts[layout.nat_links["to_row"].to_numpy()], strict=True):
        out.append(f'<line class="nat" x1="{px[a]:.1f}" y1="{py[a]:.1f}" x2="{px[b]:.1f}" '
                   f'y2="{py[b]:.1f}"/>')
    for i in np.flatnonzero(~first):      # one arrow per sighting after a packet's first
        out.append(f'<line x1="{px[i - 1]:.1f}" y1="{py[i - 1]:.1f}" x2="{px[i]:.1f}" '
                   f'y2="{py[i]:.1f}" stroke="{LADDER_COLORS[way[i]]}" stroke-width="1.6" '
                   f'marker-end="url(#{key}-a{way[i]})"/>')
    for i in range(len(px)):
        out.append(f'<circle cx="{px[i]:.1f}" cy="{py[i]:.1f}" r="2.5" '
                   f'fill="{LADDER_COLORS[way[i]]}"/>')
    for i in last[packets["missed"].to_numpy()]:
        x, y = px[i], py[i]
        out.append(f'<path class="missed" d="M{x - 4:.1f},{y - 4:.1f} L{x + 4:.1f},{y + 4:.1f} '
                   f'M{x - 4:.1f},{y + 4:.1f} L{x + 4:.1f},{y - 4:.1f}"/>')
    for packet in packets.itertuples(index=False):
        y = top + (packet.row + 0.3) * _LADDER_ROW
        out.append(f'<text class="packet" x="{_LADDER_LEFT}" y="{y + 3:.1f}" '
                   f'text-anchor="end">{e(packet.label)}<title>packet {e(packet.packet_id)}'
                   f"</title></text>")
    out.append("</svg>")
    return "\n".join(out)
