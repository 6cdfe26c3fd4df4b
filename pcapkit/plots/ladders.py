"""The ladder (sequence) diagram of one conversation across capture points.

A lane is a capture point: a node's interface as the flow table's paths name it
(``node1:if7``: an SLL2 ifindex; ``node1:eth0`` when the capture names it), so a pod's
veth, the bridge, the tunnel device and the NIC of every node each get one. A row is a
packet (``packet_id``: one packet however many points saw it), rows going down in time; a
packet's sightings are joined by arrows in the order their clock-corrected times say, so
an arrow that stops short is a drop and replies in other lanes are an asymmetric path.

Lane order follows the packets: consecutive sightings of a packet are edges of a graph of
lanes (a reply's reversed, so every edge points towards the responder), and a lane's place
is the longest walk still ahead of it (then the longest behind it). Lanes are grouped by
node, the originator's node first, then the nodes further from the responder's end: the
pod's veth, bridge, tunnel device and NIC of one node come out in the order the packets
passed them, and a NIC only replies crossed sits beside the one the requests left by.

A DNATed conversation (a Service) is drawn with its NAT peer flow (``nat_peer_flow_id``):
the packets before and after the translation are other packets, so both flows are needed
to follow it; a dashed line joins a packet to its translated twin. At most
``MAX_PACKETS`` packets are drawn, the first ones; the title says so. Everything is array
work over the conversation's sightings (a loop per lane, never per packet) but drawing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pcapkit.column_arrays import codes_of, int_isin, labels_at, packet_times_ns
from pcapkit.errors import PcapkitError
from pcapkit.flows.path import interface_labels

if TYPE_CHECKING:
    from pcapkit.capture import Capture
    from pcapkit.plots.figure import Figure

#: packets drawn at most (the first ones)
MAX_PACKETS = 200
#: share of its row a packet's hops go down over (the rest parts it from the next packet)
SPREAD = 0.6
ORIG, RESP, OTHER = 0, 1, 2
DIRECTIONS = ("orig", "resp", "other")
COLORS = ("#1f77b4", "#f57c00", "#7f7f7f")
MISSED = "#d32f2f"
MISSED_TEXT = {False: "last seen: it never reached the lane the other end's packets start in",
               True: "last seen (nothing came back)"}
#: TCP flags as letters, in the order they are written (SYN-ACK is "SA")
FLAG_LETTERS = (("S", 0x02), ("F", 0x01), ("R", 0x04), ("P", 0x08), ("A", 0x10),
                ("U", 0x20), ("E", 0x40), ("C", 0x80))


@dataclass(frozen=True)
class LadderLayout:
    """What a ladder drawing needs, as tables: the matplotlib figure (:func:`ladder`) and
    the HTML report's SVG draw the same layout.

    ``lanes``: one row per lane, left to right (``lane``, ``label``, ``node``,
    ``interface``, ``role``: "orig first seen", "resp first seen", "vxlan underlay" or "").
    ``packets``: one row per drawn packet, top to bottom (``row``, ``packet_id``,
    ``flow_id``, ``direction`` (0 orig, 1 resp, 2 other), ``offset_s`` (from the first
    packet), ``label`` (time, TCP flags or protocol, IP length), ``missed``: it never got
    to the lane where the other end's packets start). ``hops``: one row per drawn
    sighting in time order per packet (``row``, ``lane``, ``y``, ``direction``, ``first``:
    the packet's first sighting, which no arrow points at). ``nat_links``: rows that are
    one packet before and after a Service DNAT (``from_row``, ``to_row``)."""

    title: str
    lanes: pd.DataFrame
    packets: pd.DataFrame
    hops: pd.DataFrame
    nat_links: pd.DataFrame
    total: int
    start_ns: int
    orig: str
    resp: str
    flows: tuple[int, ...]
    silent: bool

    @property
    def caption(self) -> str:
        """How many packets are drawn, and the warning when that is not all of them."""
        shown = len(self.packets)
        if shown < self.total:
            return f"first {shown} of {self.total} packets"
        return f"{shown} packet(s)"


def ladder(capture: Capture, flow_id: int | None = None, *,
           packet_ids: object = None, most: int = MAX_PACKETS) -> Figure:
    """The ladder diagram of flow ``flow_id`` (a ``flow_id`` of ``capture.flows``) and its
    NAT peer, or of the packets ``packet_ids`` (``packet_id`` of ``capture.sightings``;
    with a flow: only those of its packets), the first ``most`` packets drawn. A
    PcapkitError when the capture holds no such flow or packets."""
    layout = ladder_layout(capture, flow_id, packet_ids=packet_ids, most=most)
    return draw_ladder(layout)


def ladder_layout(capture: Capture, flow_id: int | None = None, *,
                  packet_ids: object = None, most: int = MAX_PACKETS) -> LadderLayout:
    """The layout of :func:`ladder` (``most``: packets drawn at most)."""
    if most < 1:
        raise PcapkitError(f"ladder: most must be at least 1, not {most}")
    flows = capture.flows
    flow = _flow(flows, flow_id) if flow_id is not None else None
    wanted = None
    if packet_ids is not None:
        wanted = np.unique(np.asarray(list(np.atleast_1d(packet_ids)), dtype=np.int64))
    if flow is None and wanted is None:
        raise PcapkitError("ladder: give a flow_id (a flow_id of capture.flows) or packet_ids")
    ids = [flow_id] if flow is not None else []
    if flow is not None and not pd.isna(flow.get("nat_peer_flow_id", pd.NA)):
        ids.append(int(flow["nat_peer_flow_id"]))
    sightings = capture.evidence(flows=ids) if ids else capture.sightings
    if wanted is not None:
        pid = sightings["packet_id"].to_numpy(dtype=np.int64, na_value=-1)
        sightings = sightings[int_isin(pid, wanted)]
    if not len(sightings):
        raise PcapkitError(f"ladder: no sighting of packet(s) {_few(wanted)}"
                           + (f" in flow {flow_id}" if flow is not None else "")
                           + " in this capture")
    return _layout(capture, flows, flow, sightings.reset_index(drop=True), most)


def _flow(flows: pd.DataFrame, flow_id: int) -> pd.Series:
    """The flow row of ``flow_id``; PcapkitError naming the valid range otherwise."""
    ids = flows["flow_id"].to_numpy(dtype=np.int64, na_value=-1)
    where = np.flatnonzero(ids == int(flow_id))
    if not len(where):
        span = f"0..{int(ids.max())}" if len(ids) else "none: the capture has no flows"
        raise PcapkitError(f"ladder: no flow {flow_id} (flow ids: {span})")
    return flows.iloc[int(where[0])]


def _few(ids: np.ndarray | None) -> str:
    if ids is None:
        return ""
    text = ", ".join(str(i) for i in ids[:5])
    return text + (f" ... ({len(ids)} ids)" if len(ids) > 5 else "")


def _layout(capture: Capture, flows: pd.DataFrame, flow: pd.Series | None,
            sightings: pd.DataFrame, most: int) -> LadderLayout:
    t = packet_times_ns(sightings)
    packet_codes, packet_ids = pd.factorize(sightings["packet_id"].to_numpy(dtype=np.int64))
    first_t = pd.Series(t).groupby(packet_codes).min().to_numpy()
    rank = np.empty(len(packet_ids), dtype=np.int64)
    rank[np.lexsort((packet_ids, first_t))] = np.arange(len(packet_ids))
    order = np.lexsort((t, rank[packet_codes]))
    sightings, t, row = sightings.iloc[order].reset_index(drop=True), t[order], \
        rank[packet_codes[order]]
    starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
    sizes = np.diff(np.r_[starts, len(row)])
    step = np.arange(len(row)) - np.repeat(starts, sizes)
    steps = np.repeat(sizes, sizes)
    by_row = packet_ids[np.argsort(rank)]            # packet_id of each row

    attrs = _packet_attributes(capture.distinct, by_row)
    if flow is None:  # the conversation of the first packet, when it has one
        first_flow = attrs["flow_id"][0]
        flow = _flow(flows, int(first_flow)) if first_flow >= 0 else None
    direction = _directions(attrs, flow)
    lane, lanes = _lanes(sightings, row, starts, direction, flow)
    packets, hops, links = _rows(attrs, by_row, direction, row, step, steps, lane, t, starts,
                                 sizes, flows, flow, most)
    orig, resp, title = _ends(flow, attrs)
    silent = flow is not None and not (direction == RESP).any()
    drawn = tuple(int(f) for f in np.unique(attrs["flow_id"]) if f >= 0)
    return LadderLayout(title=title, lanes=lanes, packets=packets, hops=hops, nat_links=links,
                        total=len(by_row), start_ns=int(t[starts[0]]), orig=orig, resp=resp,
                        flows=drawn, silent=silent)


def _packet_attributes(distinct: pd.DataFrame, packet_ids: np.ndarray) -> dict[str, np.ndarray]:
    """The distinct packet's fields of each row (addresses as text, numbers as int64 with
    -1 for none)."""
    where = pd.Index(distinct["packet_id"].to_numpy(dtype=np.int64, na_value=-1)) \
        .get_indexer(packet_ids)
    rows = np.maximum(where, 0)
    out: dict[str, np.ndarray] = {}
    for name in ("src", "dst"):
        out[name] = labels_at(distinct[name], rows) if len(distinct) else \
            np.full(len(rows), None, dtype=object)
    for name in ("sport", "dport", "proto", "tcp_flags", "ip_len", "wirelen", "icmp_type",
                 "icmp_code", "flow_id"):
        values = distinct[name].to_numpy(dtype=np.int64, na_value=-1) if len(distinct) else \
            np.full(1, -1, dtype=np.int64)
        out[name] = np.where(where >= 0, values[rows] if len(distinct) else -1, -1)
    out["src"] = np.where(where >= 0, out["src"], None)
    out["dst"] = np.where(where >= 0, out["dst"], None)
    return out


def _directions(attrs: dict[str, np.ndarray], flow: pd.Series | None) -> np.ndarray:
    """ORIG, RESP or OTHER per row: from the flow's originator (its address, and its port
    where both have one), else the first packet's source."""
    if flow is not None:
        orig_h = str(flow["orig_h"])
        orig_p = -1 if pd.isna(flow["orig_p"]) else int(flow["orig_p"])
    else:
        orig_h, orig_p = attrs["src"][0], int(attrs["sport"][0])
    sport, dport = attrs["sport"], attrs["dport"]
    ported = (orig_p >= 0) & (sport >= 0)
    is_orig = (attrs["src"] == orig_h) & (~ported | (sport == orig_p))
    is_resp = ~is_orig & (attrs["dst"] == orig_h) & (~ported | (dport < 0) | (dport == orig_p))
    return np.where(is_orig, ORIG, np.where(is_resp, RESP, OTHER)).astype(np.int64)


def _lanes(sightings: pd.DataFrame, row: np.ndarray, starts: np.ndarray,
           direction: np.ndarray, flow: pd.Series | None) -> tuple[np.ndarray, pd.DataFrame]:
    """The lane of every sighting and the lanes' table, left to right (module docstring)."""
    codes, labels = interface_labels(sightings)
    node_codes, node_labels = codes_of(sightings["node"])
    n_lanes = len(labels)
    lane_node = np.full(n_lanes, -1, dtype=np.int64)
    lane_node[codes[::-1]] = node_codes[::-1]         # each lane's node (a label names one)
    way = direction[row]
    to_end, from_start = _travel(codes, row, way, n_lanes)
    orig_node = _orig_node(flow, node_labels, node_codes, starts, way)
    first_seen = np.full(len(node_labels), len(node_codes), dtype=np.int64)
    np.minimum.at(first_seen, node_codes, np.arange(len(node_codes)))
    reach = np.full(len(node_labels), -1, dtype=np.int64)
    np.maximum.at(reach, lane_node, to_end)
    reach[orig_node] = np.iinfo(np.int64).max       # the originator's node first
    node_order = np.empty(len(node_labels), dtype=np.int64)
    node_order[np.lexsort((first_seen, -reach))] = np.arange(len(node_labels))
    order = np.lexsort((labels.astype(str), from_start, -to_end, node_order[lane_node]))
    position = np.empty(n_lanes, dtype=np.int64)
    position[order] = np.arange(n_lanes)
    roles = _roles(sightings, codes, n_lanes, starts, way)
    names = [str(label).split(":", 1) for label in labels[order]]
    table = pd.DataFrame({"lane": np.arange(n_lanes), "label": labels[order].astype(str),
                          "node": [n[0] for n in names],
                          "interface": [n[1] if len(n) > 1 else "" for n in names],
                          "role": roles[order]})
    return position[codes], table


def _travel(codes: np.ndarray, row: np.ndarray, way: np.ndarray,
            n_lanes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per lane, the most hops a packet of the conversation still makes after it towards
    the responder, and has made before it from the originator: the longest paths in the
    graph of consecutive sightings (a reply's hops reversed, so both directions point to
    the responder; cycles, a packet passing a point twice, condensed). One edge per
    distinct pair of lanes; the walk is per lane."""
    import networkx as nx

    same = row[1:] == row[:-1]
    back = way[1:] == RESP
    src = np.where(back, codes[1:], codes[:-1])
    dst = np.where(back, codes[:-1], codes[1:])
    keep = same & (way[1:] != OTHER) & (src != dst)
    pairs = np.unique(src[keep] * n_lanes + dst[keep])
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n_lanes))
    graph.add_edges_from(zip((pairs // n_lanes).tolist(), (pairs % n_lanes).tolist(),
                             strict=True))
    condensed = nx.condensation(graph)
    ordered = list(nx.topological_sort(condensed))
    after = dict.fromkeys(ordered, 0)
    for component in reversed(ordered):
        after[component] = max((after[c] + 1 for c in condensed.successors(component)),
                               default=0)
    before = dict.fromkeys(ordered, 0)
    for component in ordered:
        before[component] = max((before[c] + 1 for c in condensed.predecessors(component)),
                                default=0)
    mapping = condensed.graph["mapping"]
    return (np.array([after[mapping[lane]] for lane in range(n_lanes)], dtype=np.int64),
            np.array([before[mapping[lane]] for lane in range(n_lanes)], dtype=np.int64))


def _orig_node(flow: pd.Series | None, node_labels: np.ndarray, node_codes: np.ndarray,
               starts: np.ndarray, way: np.ndarray) -> int:
    """Code of the originator's node: the flow's ``orig_node`` when a capture there saw
    the conversation, else where its first originator packet was first seen."""
    if flow is not None and not pd.isna(flow.get("orig_node", pd.NA)):
        where = np.flatnonzero(node_labels == str(flow["orig_node"]))
        if len(where):
            return int(where[0])
    sent = starts[way[starts] == ORIG]
    return int(node_codes[sent[0] if len(sent) else 0])


def _roles(sightings: pd.DataFrame, codes: np.ndarray, n_lanes: int, starts: np.ndarray,
           way: np.ndarray) -> np.ndarray:
    """What each lane is, as far as the packets tell: an underlay (it saw them tunnelled),
    or where the originator's or the responder's first packet was first seen."""
    roles = np.full(n_lanes, "", dtype=object)
    for direction in (RESP, ORIG):
        sent = starts[way[starts] == direction]
        if len(sent):
            roles[codes[sent[0]]] = f"{DIRECTIONS[direction]} first seen"
    if {"outer_src", "encap"} <= set(sightings.columns):
        tunnelled = sightings["outer_src"].notna().to_numpy()
        if tunnelled.any():
            encap = labels_at(sightings["encap"])
            lanes, first = np.unique(codes[tunnelled], return_index=True)
            kinds = encap[np.flatnonzero(tunnelled)[first]]
            roles[lanes] = [f"{k or 'tunnel'} underlay" for k in kinds]
    return roles


def _rows(attrs: dict[str, np.ndarray], packet_ids: np.ndarray, direction: np.ndarray,
          row: np.ndarray, step: np.ndarray, steps: np.ndarray, lane: np.ndarray,
          t: np.ndarray, starts: np.ndarray, sizes: np.ndarray, flows: pd.DataFrame,
          flow: pd.Series | None, most: int) -> tuple[pd.DataFrame, pd.DataFrame,
                                                      pd.DataFrame]:
    """The drawn packets (the first ``most``), their hops and the NAT links between them."""
    n = min(len(starts), most)
    way = direction[row]
    end_lane = np.full(3, -1, dtype=np.int64)       # where each end's first packet began
    for d in (ORIG, RESP):
        sent = starts[way[starts] == d]
        if len(sent):
            end_lane[d] = lane[sent[0]]
    last = starts + sizes - 1
    sides = _nat_sides(flows, flow)
    flow_ids = attrs["flow_id"]
    if sides is None:
        judged = direction != OTHER
    else:  # before a translation a packet goes on as another: judge it after the last one
        judged = ((direction == ORIG) & (flow_ids == sides["backend"])) | \
            ((direction == RESP) & (flow_ids == sides["service"]))
    if flow is not None and end_lane[RESP] < 0:   # nothing came back: where each one stopped
        missed = judged & (direction == ORIG)
    else:
        target = np.where(direction == ORIG, end_lane[RESP],
                          np.where(direction == RESP, end_lane[ORIG], -1))
        missed = judged & (target >= 0) & (lane[last] != target)
    offset = (t[starts] - t[starts[0]]) / 1e9
    labels = _packet_labels(attrs, offset, flow)
    packets = pd.DataFrame({"row": np.arange(n), "packet_id": packet_ids[:n],
                            "flow_id": flow_ids[:n], "direction": direction[:n],
                            "offset_s": offset[:n], "label": labels[:n],
                            "missed": missed[:n]})
    keep = row < n
    y = row[keep] + SPREAD * step[keep] / np.maximum(steps[keep] - 1, 1)
    hops = pd.DataFrame({"row": row[keep], "lane": lane[keep], "y": y,
                         "direction": way[keep], "first": step[keep] == 0})
    return packets, hops, _nat_links(sides, flow_ids[:n], direction[:n])


def _nat_sides(flows: pd.DataFrame, flow: pd.Series | None) -> dict[str, int] | None:
    """The flow ids of a drawn NAT pair's Service side and backend side (None: no pair)."""
    if flow is None or pd.isna(flow.get("nat_peer_flow_id", pd.NA)) or \
            "nat_side" not in flows.columns:
        return None
    pair = [int(flow["flow_id"]), int(flow["nat_peer_flow_id"])]
    sides = {str(_flow(flows, flow_id)["nat_side"]): flow_id for flow_id in pair}
    if not {"service", "backend"} <= set(sides):
        return None
    return {"service": sides["service"], "backend": sides["backend"]}


def _nat_links(sides: dict[str, int] | None, flow_ids: np.ndarray,
               direction: np.ndarray) -> pd.DataFrame:
    """Rows that are one packet before and after a translation: the k-th packet a
    direction has before it (the Service side's for the originator, the backend's for the
    responder) with the k-th after it, when both sides hold as many and each twin comes
    later than the packet it continues."""
    links = {"from_row": [], "to_row": []}
    if sides is not None:
        for d, before, after in ((ORIG, sides["service"], sides["backend"]),
                                 (RESP, sides["backend"], sides["service"])):
            pre = np.flatnonzero((direction == d) & (flow_ids == before))
            post = np.flatnonzero((direction == d) & (flow_ids == after))
            if len(pre) == len(post) and (post > pre).all():
                links["from_row"] += pre.tolist()
                links["to_row"] += post.tolist()
    return pd.DataFrame(links, dtype=np.int64)


def flag_letters(flags: np.ndarray) -> np.ndarray:
    """TCP flags as letters per value ("S", "SA", "PA", "FA", "R"; "." for none), worked
    out once per distinct value."""
    values, inverse = np.unique(np.asarray(flags, dtype=np.int64), return_inverse=True)
    texts = np.array(["".join(letter for letter, bit in FLAG_LETTERS if value & bit) or "."
                      for value in values], dtype=object)
    return texts[inverse]


def _packet_labels(attrs: dict[str, np.ndarray], offset: np.ndarray,
                   flow: pd.Series | None) -> np.ndarray:
    """Per row: time from the first packet, TCP flags (or the protocol, ICMP type/code),
    IP length, and the flow when it is not the one asked for (the NAT peer's packets)."""
    proto = attrs["proto"]
    what = np.where(proto == 6, flag_letters(np.maximum(attrs["tcp_flags"], 0)),
                    np.where(proto == 17, "UDP", np.where(
                        (proto == 1) | (proto == 58),
                        np.char.add(np.char.add("ICMP ", attrs["icmp_type"].astype(str)),
                                    np.char.add("/", attrs["icmp_code"].astype(str))).astype(object),
                        np.char.add("proto ", proto.astype(str)).astype(object))))
    length = np.where(attrs["ip_len"] >= 0, attrs["ip_len"], attrs["wirelen"])
    text = np.char.add(np.char.add(np.char.mod("+%.6f s  ", offset), what.astype(str)),
                       np.char.add("  len ", length.astype(str)))
    if flow is not None:
        other = (attrs["flow_id"] >= 0) & (attrs["flow_id"] != int(flow["flow_id"]))
        text = np.where(other, np.char.add(text, np.char.add("  (flow ",
                                                             np.char.add(attrs["flow_id"].astype(str), ")"))),
                        text)
    return text.astype(object)


def _ends(flow: pd.Series | None, attrs: dict[str, np.ndarray]) -> tuple[str, str, str]:
    """The two ends' names (identity, else address, with the port) and the title."""
    if flow is None:
        orig = f"{attrs['src'][0]}:{attrs['sport'][0]}" if attrs["sport"][0] >= 0 else \
            str(attrs["src"][0])
        resp = f"{attrs['dst'][0]}:{attrs['dport'][0]}" if attrs["dport"][0] >= 0 else \
            str(attrs["dst"][0])
        return orig, resp, f"{orig} → {resp}"

    def end(side: str) -> str:
        name = flow.get(f"{side}_identity")
        address = str(flow[f"{side}_h"])
        port = flow[f"{side}_p"]
        where = address if pd.isna(port) or str(flow["proto"]) in ("icmp", "icmp6") \
            else f"{address}:{int(port)}"
        named = isinstance(name, str) and name and name != address
        return f"{name} ({where})" if named else where

    orig, resp = end("orig"), end("resp")
    state = flow.get("conn_state")
    title = f"{orig} → {resp}  {flow['proto']}" + \
        (f" {state}" if not pd.isna(state) and state else "") + f"  (flow {int(flow['flow_id'])}"
    if not pd.isna(flow.get("nat_peer_flow_id", pd.NA)):
        title += f" and its NAT peer flow {int(flow['nat_peer_flow_id'])}"
    return orig, resp, title + ")"


# -- the HTML report's ladders ------------------------------------------------------------

#: ladders an HTML report draws at most, and the packets each draws at most
REPORT_LADDERS = 10
REPORT_PACKETS = 40


def finding_flows(capture: Capture, findings: list[dict]) -> list[int | None]:
    """The flow (``flow_id``) of each finding's first evidence sighting (report dicts);
    None when it has no evidence or its packet is in no flow. One lookup of the (file,
    frame) keys in the sightings table and one of their packets in the distinct table."""
    first = [f["evidence"][0] if f.get("evidence") else None for f in findings]
    sightings, distinct = capture.sightings, capture.distinct
    if not len(sightings) or not any(first):
        return [None] * len(findings)
    codes, files = codes_of(sightings["file"])
    frames = sightings["frame"].to_numpy(dtype=np.int64, na_value=-1)
    keys = pd.Index((codes << 32) | np.maximum(frames, 0))
    file_code = {str(name): code for code, name in enumerate(files)}
    wanted = np.array([(file_code.get(str(e["file"]), -1) << 32) | int(e["frame"])
                       if e and str(e["file"]) in file_code else -1 for e in first],
                      dtype=np.int64)
    rows = keys.get_indexer(wanted)
    packet = np.where(rows >= 0, sightings["packet_id"].to_numpy(dtype=np.int64,
                                                                 na_value=-1)[rows], -1)
    where = pd.Index(distinct["packet_id"].to_numpy(dtype=np.int64)).get_indexer(packet)
    flow = np.where(where >= 0, distinct["flow_id"].to_numpy(dtype=np.int64,
                                                             na_value=-1)[where], -1)
    return [int(f) if f >= 0 and p >= 0 else None for f, p in zip(flow, packet, strict=True)]


def report_ladders(capture: Capture, findings: list[dict], *, most: int = REPORT_LADDERS,
                   packets: int = REPORT_PACKETS) -> dict[str, LadderLayout]:
    """Finding id -> the ladder layout of its first evidence flow, for the first ``most``
    findings (in the order given) that have one, each of at most ``packets`` packets; a
    flow two findings share is laid out once."""
    out: dict[str, LadderLayout] = {}
    done: dict[int, LadderLayout] = {}
    for finding, flow in zip(findings, finding_flows(capture, findings), strict=True):
        if len(out) == most:
            break
        if flow is None:
            continue
        if flow not in done:   # one layout per flow: at most ``most`` of them
            done[flow] = ladder_layout(capture, flow, most=packets)
        out[finding["id"]] = done[flow]
    return out


# -- drawing ------------------------------------------------------------------------------

def draw_ladder(layout: LadderLayout) -> Figure:
    """The matplotlib Figure of a ladder layout: lanes as vertical lines (nodes shaded
    apart), one arrow per sighting after a packet's first, a dot at every sighting, a red
    cross where a packet stopped short of the other end."""
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    from pcapkit.plots.figure import new_figure, utc_text

    lanes, packets, hops = layout.lanes, layout.packets, layout.hops
    n_lanes, n_rows = len(lanes), len(packets)
    row_inches = min(0.32, 26.0 / max(n_rows, 1))
    figure = new_figure(3.2 + 1.25 * n_lanes, 2.4 + row_inches * n_rows)
    ax = figure.add_subplot()
    nodes = lanes["node"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, nodes[1:] != nodes[:-1], True])
    for index, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=False)):
        ax.axvspan(a - 0.5, b - 0.5, color="#f3f5f7" if index % 2 == 0 else "#e8ecf0",
                   zorder=0, lw=0)
    bottom = n_rows - 1 + SPREAD + 0.4
    ax.vlines(np.arange(n_lanes), -0.5, bottom, colors="#9aa5b1", lw=1, zorder=1)
    x, y, way = hops["lane"].to_numpy(), hops["y"].to_numpy(), hops["direction"].to_numpy()
    first = hops["first"].to_numpy()
    arrow = np.flatnonzero(~first)           # every sighting after the first: one arrow
    for d in (ORIG, RESP, OTHER):
        mine = arrow[way[arrow] == d]
        if len(mine):
            ax.quiver(x[mine - 1], y[mine - 1], x[mine] - x[mine - 1], y[mine] - y[mine - 1],
                      angles="xy", scale_units="xy", scale=1, color=COLORS[d], width=0.0025,
                      headwidth=5, headlength=6, headaxislength=5, zorder=3,
                      label=f"_{DIRECTIONS[d]} arrows")
        dots = way == d
        if dots.any():
            ax.scatter(x[dots], y[dots], s=14, color=COLORS[d], zorder=4,
                       label=f"_{DIRECTIONS[d]} sightings")
    starts = np.flatnonzero(first)
    last = np.r_[starts[1:] - 1, len(first) - 1] if len(first) else starts
    links = layout.nat_links
    if len(links):
        a, b = last[links["from_row"].to_numpy()], starts[links["to_row"].to_numpy()]
        segments = np.stack([np.c_[x[a], y[a]], np.c_[x[b], y[b]]], axis=1)
        ax.add_collection(LineCollection(segments, colors="#5a6470", linestyles="dashed",
                                         linewidths=1, zorder=2, label="_nat"))
    missed = packets["missed"].to_numpy()
    if missed.any():
        stops = last[missed]
        ax.scatter(x[stops], y[stops], marker="x", s=60, color=MISSED, linewidths=2,
                   zorder=5, label="_missed")
    ax.set_xlim(-0.5, n_lanes - 0.5)
    ax.set_ylim(bottom, -0.5)                   # time goes down
    ax.set_xticks(np.arange(n_lanes), [_lane_text(r) for _, r in lanes.iterrows()],
                  fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(packets["row"].to_numpy() + SPREAD / 2, packets["label"].tolist(),
                  fontsize=7, family="monospace")
    ax.tick_params(axis="both", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    handles = [Line2D([], [], color=COLORS[ORIG], marker="o", ms=4,
                      label=f"orig → resp: from {layout.orig}")]
    if (way == RESP).any():
        handles.append(Line2D([], [], color=COLORS[RESP], marker="o", ms=4,
                              label=f"resp → orig: from {layout.resp}"))
    if (way == OTHER).any():
        handles.append(Line2D([], [], color=COLORS[OTHER], marker="o", ms=4,
                              label="other (ICMP errors, unrelated ends)"))
    if len(links):
        handles.append(Line2D([], [], color="#5a6470", ls="--",
                              label="the same packet after the Service NAT"))
    if missed.any():
        handles.append(Line2D([], [], color=MISSED, marker="x", lw=0, ms=7, mew=2,
                              label=MISSED_TEXT[layout.silent]))
    figure.legend(handles=handles, loc="outside lower center", fontsize=8, frameon=False)
    note = f"{layout.caption}, from {utc_text(layout.start_ns)}"
    if layout.silent:
        note += "; nothing came back from the responder"
    ax.set_title(f"{layout.title}\n{note}", fontsize=10)
    return figure


def _lane_text(lane: pd.Series) -> str:
    return f"{lane['node']}\n{lane['interface']}" + (f"\n{lane['role']}" if lane["role"]
                                                     else "")
