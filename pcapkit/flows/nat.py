"""Service DNAT: one connection seen as two flows, before and after kube-proxy's rewrite.

A pod connects to a Service's cluster IP (10.96.10.10:80). Its veth sees the client's
packets to that address; after kube-proxy's DNAT the bridge, tunnel and NIC see them to a
backend pod (10.244.2.10:8080), and the replies are un-NATed before they reach the veth.
Keyed on addresses these are two flows: the *service side* S (client -> Service) and the
*backend side* B (client -> backend). They are linked, not merged: both keep their own
counters, conn_state and history, and each names the other (``nat_peer_flow_id``) and the
translation (``service_ip``/``service_port`` -> ``backend_ip``/``backend_port``).

S and B are one connection when they have the same client address and port (the
originator) and protocol, their first packets (``ts_corrected``) are at most ``window``
apart, no capture point (file, node, interface, ifindex, direction) saw a client-to-server
packet of both or a reply of both (a point sees a packet before or after the rewrite, never
both), the client's first SYN
has the same sequence number on both when both saw one (DNAT never rewrites it), and:

* with a cluster: S's responder address/port is a Service cluster IP and port and B's one
  of its backends (address and target port) for that protocol, the table
  :meth:`pcapkit.cluster.Cluster.service_backends` gives;
* without one (a guess, kept conservative): TCP only; both flows saw the client's SYN with
  the same sequence number, to different responders, and B started strictly after S.

Each S takes the B nearest in time, each B is used once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pcapkit.cluster import Cluster
from pcapkit.flows.groups import codes_of
from pcapkit.flows.path import flow_of_sightings

_TRANSPORTS = {"tcp": 6, "udp": 17, "sctp": 132}
_POINT_COLUMNS = ("file", "node", "interface", "if_index", "direction")


@dataclass
class FlowEnds:
    """Per flow: who talked to whom, when it started and the client's first SYN."""

    client: np.ndarray       # address code of the originator
    client_port: np.ndarray
    server: np.ndarray       # address code of the responder
    server_port: np.ndarray
    proto: np.ndarray        # IP protocol number
    start: np.ndarray        # first packet, ns (ts_corrected)
    syn_seq: np.ndarray      # sequence number of the originator's first SYN, -1 if none


@dataclass
class Links:
    """Linked flow pairs: ``service[i]`` and ``backend[i]`` are one connection."""

    service: np.ndarray
    backend: np.ndarray

    def __len__(self) -> int:
        return len(self.service)


def _no_links() -> Links:
    return Links(np.zeros(0, np.int64), np.zeros(0, np.int64))


def mapping_codes(mapping: pd.DataFrame, addresses: np.ndarray) -> pd.DataFrame:
    """The Service -> backend table in the flow stage's integer codes (service, service_port,
    proto, backend, backend_port); rows naming an address not in the capture are dropped."""
    index = pd.Index(addresses, dtype=object)
    proto = mapping["transport"].map(_TRANSPORTS).to_numpy(dtype=np.float64, na_value=np.nan)
    out = pd.DataFrame({
        "service": index.get_indexer(mapping["service_ip"].astype(str)),
        "service_port": mapping["service_port"].to_numpy(dtype=np.int64),
        "proto": np.nan_to_num(proto, nan=-1).astype(np.int64),
        "backend": index.get_indexer(mapping["backend_ip"].astype(str)),
        "backend_port": mapping["backend_port"].to_numpy(dtype=np.int64),
    })
    keep = (out["service"] >= 0) & (out["backend"] >= 0) & (out["proto"] >= 0)
    return out[keep].drop_duplicates().reset_index(drop=True)


def _frame(ends: FlowEnds, rows: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"flow": rows, "client": ends.client[rows],
                         "client_port": ends.client_port[rows], "proto": ends.proto[rows],
                         "server": ends.server[rows], "server_port": ends.server_port[rows],
                         "start": ends.start[rows], "syn_seq": ends.syn_seq[rows]})


def cluster_candidates(ends: FlowEnds, mapping: pd.DataFrame, window_ns: int) -> pd.DataFrame:
    """(s, b, dt) pairs allowed by the cluster's Service -> backend table."""
    if mapping.empty or not len(ends.client):
        return pd.DataFrame({"s": [], "b": [], "dt": []}, dtype=np.int64)
    usable = np.flatnonzero((ends.client >= 0) & (ends.server >= 0) & (ends.client_port >= 0))
    flows = _frame(ends, usable)
    service = flows.merge(mapping, left_on=["server", "server_port", "proto"],
                          right_on=["service", "service_port", "proto"])
    if service.empty:
        return pd.DataFrame({"s": [], "b": [], "dt": []}, dtype=np.int64)
    pairs = service.merge(flows, left_on=["client", "client_port", "proto", "backend",
                                          "backend_port"],
                          right_on=["client", "client_port", "proto", "server", "server_port"],
                          suffixes=("", "_b"))
    dt = (pairs["start_b"] - pairs["start"]).abs().to_numpy(dtype=np.int64)
    s_syn, b_syn = pairs["syn_seq"].to_numpy(), pairs["syn_seq_b"].to_numpy()
    ok = (dt <= window_ns) & ((s_syn < 0) | (b_syn < 0) | (s_syn == b_syn))
    return pd.DataFrame({"s": pairs["flow"].to_numpy(dtype=np.int64)[ok],
                         "b": pairs["flow_b"].to_numpy(dtype=np.int64)[ok], "dt": dt[ok]})


def guessed_candidates(ends: FlowEnds, window_ns: int) -> pd.DataFrame:
    """(s, b, dt) pairs without a cluster: TCP flows whose client sent a SYN with the same
    sequence number from the same address and port to two responders, the second strictly
    later and at most ``window_ns`` after the first, next to each other in time."""
    rows = np.flatnonzero((ends.proto == 6) & (ends.syn_seq >= 0) & (ends.client >= 0)
                          & (ends.client_port >= 0) & (ends.server >= 0))
    if len(rows) < 2:
        return pd.DataFrame({"s": [], "b": [], "dt": []}, dtype=np.int64)
    client, port, seq = ends.client[rows], ends.client_port[rows], ends.syn_seq[rows]
    start = ends.start[rows]
    order = np.lexsort((start, seq, port, client))
    rows, client, port, seq, start = (a[order] for a in (rows, client, port, seq, start))
    server, server_port = ends.server[rows], ends.server_port[rows]
    same = (client[1:] == client[:-1]) & (port[1:] == port[:-1]) & (seq[1:] == seq[:-1])
    other = (server[1:] != server[:-1]) | (server_port[1:] != server_port[:-1])
    dt = start[1:] - start[:-1]
    hit = np.flatnonzero(same & other & (dt > 0) & (dt <= window_ns))
    return pd.DataFrame({"s": rows[hit], "b": rows[hit + 1], "dt": dt[hit]})


def point_codes(sightings: pd.DataFrame) -> np.ndarray:
    """An integer per sighting naming its capture point: file, node, interface, SLL ifindex
    and direction (from ``direction``, else the SLL ``pkt_type``). Columns the table lacks
    are left out, so more sightings share a point: the safe side, links are refused."""
    parts = []
    for column in _POINT_COLUMNS:
        if column in sightings.columns:
            parts.append(codes_of(sightings[column])[0])
        elif column == "direction" and "pkt_type" in sightings.columns:
            from pcapkit.vantage import packet_direction

            parts.append(np.asarray(packet_direction(sightings["pkt_type"]).codes, np.int64))
    combined = np.zeros(len(sightings), dtype=np.int64)
    for codes in parts:   # mixed radix, re-compressed after each column so it cannot overflow
        combined = combined * (int(codes.max(initial=-1)) + 2) + (codes + 1)
        combined = pd.factorize(combined)[0].astype(np.int64)
    return combined


def seen_together(sightings: pd.DataFrame, pid: np.ndarray, group: np.ndarray,
                  s: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True where one capture point saw a client-to-server packet of flow ``s[i]`` and one
    of flow ``b[i]``, or a reply of both. ``group`` is flow * 2 (+1 for the responder's
    packets) of every packet in ``pid``. Directions are compared separately because a
    bridge routing to a backend on the same node (cni0) sees the request before the rewrite
    coming in and after it going out: one interface, two points."""
    if not len(s) or not len(sightings):
        return np.zeros(len(s), dtype=bool)
    packet_ids = pd.to_numeric(sightings["packet_id"]).to_numpy(dtype=np.int64, na_value=-1)
    of = flow_of_sightings(packet_ids, pid, group)
    rows = np.flatnonzero(np.isin(of >> 1, np.union1d(s, b)) & (of >= 0))
    points = pd.DataFrame({"group": of[rows],
                           "point": point_codes(sightings.iloc[rows])}).drop_duplicates()
    out = np.zeros(len(s), dtype=bool)
    for side in (0, 1):
        pairs = pd.DataFrame({"pair": np.arange(len(s)), "s": 2 * s + side, "b": 2 * b + side})
        left = pairs.merge(points, left_on="s", right_on="group")[["pair", "point"]]
        right = pairs.merge(points, left_on="b", right_on="group")[["pair", "point"]]
        out[left.merge(right, on=["pair", "point"])["pair"].unique()] = True
    return out


def link_service_dnat(ends: FlowEnds, sightings: pd.DataFrame, pid: np.ndarray,
                      group: np.ndarray, mapping: pd.DataFrame | None,
                      window_ns: int) -> Links:
    """The (service side, backend side) flow pairs of DNAT'd connections.

    ``mapping``: the cluster's Service -> backend table in flow codes (:func:`mapping_codes`)
    or None to use the conservative rule of the module docstring. ``pid``/``group``: packet
    id and flow * 2 + direction (1 = responder) of every packet in flows, to find where each
    flow was seen."""
    candidates = (guessed_candidates(ends, window_ns) if mapping is None
                  else cluster_candidates(ends, mapping, window_ns))
    if candidates.empty:
        return _no_links()
    s = candidates["s"].to_numpy(dtype=np.int64)
    b = candidates["b"].to_numpy(dtype=np.int64)
    candidates = candidates[~seen_together(sightings, pid, group, s, b)]
    # Nearest first; each service-side flow takes one backend, each backend one service.
    candidates = candidates.sort_values(["dt", "s", "b"], kind="stable")
    candidates = candidates.drop_duplicates("s").drop_duplicates("b")
    candidates = candidates.sort_values("s")
    return Links(candidates["s"].to_numpy(dtype=np.int64),
                 candidates["b"].to_numpy(dtype=np.int64))


def cluster_mapping(cluster: Cluster | None, addresses: np.ndarray) -> pd.DataFrame | None:
    """The Service -> backend table of ``cluster`` in flow codes, None without a cluster."""
    if cluster is None:
        return None
    return mapping_codes(cluster.service_backends(), addresses)
