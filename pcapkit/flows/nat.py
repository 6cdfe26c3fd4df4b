"""Service DNAT: one connection seen as two flows, before and after kube-proxy's rewrite.

A pod connects to a Service's cluster IP (10.96.10.10:80); after kube-proxy's DNAT the
bridge, tunnel and NIC see its packets to a backend pod (10.244.2.10:8080). Keyed on
addresses these are two flows: the *service side* S (client -> Service) and the *backend
side* B (client -> backend). They are linked, not merged: both keep their own counters,
conn_state and history, and each names the other (``nat_peer_flow_id``) and the
translation (``service_ip``/``service_port`` -> ``backend_ip``/``backend_port``).

The matching is ``pcapkit.service_dnat``'s (same client address, port and protocol, first
packets (``ts_corrected``) at most ``window`` apart, never seen at one capture point going
the same way, nearest first, one to one). What is the flows' own:

* the client's first SYN has the same sequence number on both sides when both saw one
  (DNAT never rewrites it);
* with a cluster, S's responder and B's are a Service and one of its backends in
  :meth:`pcapkit.cluster.Cluster.service_backends`;
* without one (a guess, kept conservative): TCP only; both flows saw the client's SYN with
  the same sequence number, to different responders, and B started strictly after S.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pcapkit.cluster import Cluster
from pcapkit.column_arrays import dense_factorize
from pcapkit.flows.path import flow_of_sightings
from pcapkit.service_dnat import (
    mapped_pairs,
    nearest_one_to_one,
    no_pairs,
    seen_at_one_point,
    successive_pairs,
)
from pcapkit.vantage import point_ids_of

_TRANSPORTS = {"tcp": 6, "udp": 17, "sctp": 132}


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


def mapping_codes(mapping: pd.DataFrame, addresses: np.ndarray) -> pd.DataFrame:
    """The Service -> backend table in the flow stage's values: address codes into
    ``addresses`` and IP protocol numbers as ``transport``; rows naming an address not in
    the capture are dropped."""
    index = pd.Index(addresses, dtype=object)
    proto = mapping["transport"].map(_TRANSPORTS).to_numpy(dtype=np.float64, na_value=np.nan)
    out = pd.DataFrame({
        "service_ip": index.get_indexer(mapping["service_ip"].astype(str)),
        "service_port": mapping["service_port"].to_numpy(dtype=np.int64),
        "transport": np.nan_to_num(proto, nan=-1).astype(np.int64),
        "backend_ip": index.get_indexer(mapping["backend_ip"].astype(str)),
        "backend_port": mapping["backend_port"].to_numpy(dtype=np.int64),
    })
    keep = (out["service_ip"] >= 0) & (out["backend_ip"] >= 0) & (out["transport"] >= 0)
    return out[keep].drop_duplicates().reset_index(drop=True)


def _in_flows(pairs: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """``pairs`` of positions into ``rows`` as (s, b, dt) of flow numbers."""
    return pd.DataFrame({"s": rows[pairs["s"].to_numpy(dtype=np.int64)],
                         "b": rows[pairs["b"].to_numpy(dtype=np.int64)],
                         "dt": pairs["dt"].to_numpy(dtype=np.int64)})


def cluster_candidates(ends: FlowEnds, mapping: pd.DataFrame, window_ns: int) -> pd.DataFrame:
    """(s, b, dt) pairs allowed by the cluster's Service -> backend table (flow codes) whose
    client SYNs, when both were seen, carry one sequence number."""
    rows = np.flatnonzero((ends.client >= 0) & (ends.server >= 0) & (ends.client_port >= 0))
    items = pd.DataFrame({"client": ends.client[rows], "client_port": ends.client_port[rows],
                          "transport": ends.proto[rows], "server": ends.server[rows],
                          "server_port": ends.server_port[rows], "t": ends.start[rows],
                          "syn_seq": ends.syn_seq[rows]})
    pairs = mapped_pairs(items, mapping, window_ns)
    if pairs.empty:
        return no_pairs()
    s_syn, b_syn = pairs["syn_seq"].to_numpy(), pairs["syn_seq_b"].to_numpy()
    return _in_flows(pairs[(s_syn < 0) | (b_syn < 0) | (s_syn == b_syn)], rows)


def guessed_candidates(ends: FlowEnds, window_ns: int) -> pd.DataFrame:
    """(s, b, dt) pairs without a cluster: TCP flows whose client sent a SYN with the same
    sequence number from the same address and port to two responders, the second strictly
    later and at most ``window_ns`` after the first, next to each other in time."""
    rows = np.flatnonzero((ends.proto == 6) & (ends.syn_seq >= 0) & (ends.client >= 0)
                          & (ends.client_port >= 0) & (ends.server >= 0))
    pairs = successive_pairs([ends.client[rows], ends.client_port[rows], ends.syn_seq[rows]],
                             ends.start[rows], [ends.server[rows], ends.server_port[rows]],
                             window_ns)
    return _in_flows(pairs, rows)


def flow_points(sightings: pd.DataFrame, pid: np.ndarray, group: np.ndarray) -> pd.DataFrame:
    """(``item``, ``point_id``): the capture points at which each flow direction was seen.
    ``item`` is ``group`` (flow * 2, +1 for the responder's packets) of the packets in
    ``pid``. Directions are kept apart because a bridge routing to a backend on the same
    node (cni0) sees the request before the rewrite coming in and after it going out: one
    interface, two points."""
    if not len(sightings) or not len(pid):
        return pd.DataFrame({"item": np.zeros(0, np.int64), "point_id": np.zeros(0, np.int64)})
    packet_ids = pd.to_numeric(sightings["packet_id"]).to_numpy(dtype=np.int64, na_value=-1)
    of = flow_of_sightings(packet_ids, pid, group)
    rows = np.flatnonzero(of >= 0)
    point = point_ids_of(sightings)[rows] + 1   # -1 (unknown) -> 0
    width = int(point.max(initial=0)) + 1
    # distinct (item, point) pairs in order of first appearance, as drop_duplicates keeps
    _, pairs = dense_factorize(of[rows] * width + point)
    return pd.DataFrame({"item": pairs // width, "point_id": pairs % width - 1})


def seen_together(points: pd.DataFrame, s: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True where one capture point saw a client-to-server packet of flow ``s[i]`` and one
    of flow ``b[i]``, or a reply of both (``points``: :func:`flow_points`)."""
    if not len(s):
        return np.zeros(0, dtype=bool)
    return seen_at_one_point(points, 2 * s, 2 * b) | seen_at_one_point(points, 2 * s + 1,
                                                                       2 * b + 1)


def link_service_dnat(ends: FlowEnds, points: pd.DataFrame, mapping: pd.DataFrame | None,
                      window_ns: int) -> Links:
    """The (service side, backend side) flow pairs of DNAT'd connections.

    ``mapping``: the cluster's Service -> backend table in flow codes (:func:`mapping_codes`)
    or None to use the conservative rule of the module docstring. ``points``: where each
    flow direction was seen (:func:`flow_points`)."""
    candidates = (guessed_candidates(ends, window_ns) if mapping is None
                  else cluster_candidates(ends, mapping, window_ns))
    s = candidates["s"].to_numpy(dtype=np.int64)
    b = candidates["b"].to_numpy(dtype=np.int64)
    links = nearest_one_to_one(candidates[~seen_together(points, s, b)])
    return Links(links["s"].to_numpy(dtype=np.int64), links["b"].to_numpy(dtype=np.int64))


def cluster_mapping(cluster: Cluster | None, addresses: np.ndarray) -> pd.DataFrame | None:
    """The Service -> backend table of ``cluster`` in flow codes, None without a cluster."""
    if cluster is None:
        return None
    return mapping_codes(cluster.service_backends(), addresses)
