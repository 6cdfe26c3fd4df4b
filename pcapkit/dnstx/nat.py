"""Service DNAT: one DNS query seen before and after kube-proxy rewrote its destination.

A pod asks the kube-dns Service IP (10.96.0.10:53). Its veth sees the query to the Service
IP; after kube-proxy's DNAT the bridge, the tunnel and the NIC see the same query to a
CoreDNS pod (10.244.2.20:53). The response comes back from the pod and is un-NATed to come
from the Service IP before it reaches the veth. Paired on addresses alone these are two
transactions: a lookup counted twice, and a reply lost between the two points told as two
stories. Here the two sightings become one transaction.

The matching is ``pcapkit.service_dnat``'s: the *service side* S and the *backend side* B
have the same client address and port and transport, their times (the query's, else the
response's; ``ts_corrected``) are at most ``window`` apart, no capture point saw a message
of S and the matching message of B, each S takes the nearest B and each B is used once.
What is the DNS stage's own: S and B also share the DNS id and question (qname
case-insensitively, qtype), and

* with a cluster: S's server and port are a Service IP and port, and B's server and port a
  backend of it (``Cluster.service_backends``: address and target port) for the same
  protocol;
* without one (a conservative guess, see :func:`infer_service_backends`): the address pair
  behaves like a Service and its backend everywhere in the capture, and B's exchange nests
  inside S's.

The merged transaction keeps S's server (what the client asked) and adds
``server_backend``/``server_backend_port``/``server_backend_pod``, ``nat = "dnat"`` and
``nat_reply_seen``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from pcapkit.cluster.tables import SERVICE_BACKEND_COLUMNS, empty_service_backends
from pcapkit.dnstx.arrays import as_column, group_codes, plain_frame
from pcapkit.service_dnat import mapped_pairs, nearest_one_to_one, successive_pairs

_EXCHANGE = ["client", "client_port", "transport", "dns_id", "qname_lc", "qtype"]

PointCheck = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(packet ids of side S, packet ids of side B) -> True where one capture point saw both."""


def _response_nested(tx: pd.DataFrame, s: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True where S's query came first and B's response (if S has one) came before S's:
    query and answer of the backend side nest inside the client side's exchange."""
    q_t, r_t = tx["query_t"].to_numpy(), tx["response_t"].to_numpy()
    has_q = tx["has_query"].to_numpy()
    first = has_q[s] & has_q[b] & (q_t[s] < q_t[b])
    service_reply, backend_reply = r_t[s] >= 0, r_t[b] >= 0
    return first & (~service_reply | (backend_reply & (r_t[b] <= r_t[s])))


def _seen_apart(tx: pd.DataFrame, s: np.ndarray, b: np.ndarray,
                packet_ids: np.ndarray, same_point: PointCheck) -> np.ndarray:
    """True where no capture point saw S's query and B's query, nor S's and B's response."""
    apart = np.ones(len(s), dtype=bool)
    for column in ("q", "r"):
        rows = tx[column].to_numpy()
        both = np.flatnonzero((rows[s] >= 0) & (rows[b] >= 0))
        if len(both):
            shared = same_point(packet_ids[rows[s][both]], packet_ids[rows[b][both]])
            apart[both[shared]] = False
    return apart


def infer_service_backends(tx: pd.DataFrame, packet_ids: np.ndarray, same_point: PointCheck,
                           window_ns: int) -> pd.DataFrame:
    """Service -> backend address pairs guessed from the capture alone (no cluster).

    Candidates: two queries with the same client address and port, transport, DNS id,
    question and server port, to different servers, the second at most ``window_ns`` after
    the first (strictly later), next to each other in time among the queries of that
    exchange. The first server is the would-be Service A, the second the backend B. The pair
    (A, B) is accepted only when every candidate of it

    * was seen apart (no capture point saw both queries, or both responses), and
    * nests: B's response, when A has one, came at or before A's (the un-NAT follows the
      backend's answer); A answered while B did not is refused,

    and A is never the later server of a candidate nor B the earlier one (a Service never
    answers as a backend), and A never sends a DNS query itself. Parallel queries of one
    socket to two nameservers (musl) are seen at the same point, so they are refused.
    """
    queries = np.flatnonzero(tx["has_query"].to_numpy())
    if len(queries) < 2:
        return empty_service_backends()
    part = tx.iloc[queries]
    candidates = successive_pairs([group_codes(part, [*_EXCHANGE, "server_port"])],
                                  part["query_t"].to_numpy(),
                                  [part["server"].to_numpy(dtype=object)], window_ns)
    if candidates.empty:
        return empty_service_backends()
    s, b = queries[candidates["s"].to_numpy()], queries[candidates["b"].to_numpy()]
    ok = _response_nested(tx, s, b) & _seen_apart(tx, s, b, packet_ids, same_point)
    pairs = pd.DataFrame({
        "service_ip": tx["server"].to_numpy(dtype=object)[s],
        "service_port": tx["server_port"].to_numpy(dtype=np.int64)[s],
        "transport": tx["transport"].to_numpy(dtype=object)[s],
        "backend_ip": tx["server"].to_numpy(dtype=object)[b],
        "backend_port": tx["server_port"].to_numpy(dtype=np.int64)[b],
        "ok": ok,
    })
    address_pair = ["service_ip", "service_port", "transport", "backend_ip", "backend_port"]
    verdict = pairs.groupby(address_pair, sort=False)["ok"].all().reset_index()
    services = set(pairs["service_ip"])
    backends = set(pairs["backend_ip"])
    clients = set(tx.loc[tx["has_query"], "client"].tolist())
    accepted = verdict[verdict["ok"] & ~verdict["service_ip"].isin(backends | clients)
                       & ~verdict["backend_ip"].isin(services)]
    out = accepted[address_pair].assign(backend_pod=None)
    return out[SERVICE_BACKEND_COLUMNS].reset_index(drop=True)


def _items(tx: pd.DataFrame) -> pd.DataFrame:
    """The transactions as ``service_dnat`` items: the exchange key, the server, and the time
    of the query (else of the response)."""
    items = tx[[*_EXCHANGE, "server", "server_port"]].copy()
    items["server_port"] = items["server_port"].astype(np.int64)
    items["t"] = np.where(tx["has_query"].to_numpy(), tx["query_t"].to_numpy(),
                          tx["response_t"].to_numpy())
    return items


_REPLY_FIELDS = ("response_t", "rcode", "tc", "ancount", "answers", "answer_addrs",
                 "reply_status")
_QUERY_FIELDS = ("query_t", "qname", "qtype_name")


def _nat_defaults(tx: pd.DataFrame) -> pd.DataFrame:
    """The NAT columns of transactions that were not merged."""
    n = len(tx)
    tx = tx.copy()
    tx["extra_q"] = np.full(n, -1, dtype=np.int64)
    tx["extra_r"] = np.full(n, -1, dtype=np.int64)
    tx["server_backend"] = as_column(np.full(n, None, dtype=object), tx.index)
    tx["server_backend_port"] = np.full(n, -1, dtype=np.int64)
    tx["server_backend_pod"] = as_column(np.full(n, None, dtype=object), tx.index)
    tx["nat"] = as_column(np.full(n, None, dtype=object), tx.index)
    tx["nat_reply_seen"] = as_column(np.full(n, None, dtype=object), tx.index)
    tx["backend_query_t"] = np.full(n, -1, dtype=np.int64)
    tx["client_response_t"] = tx["response_t"].to_numpy(copy=True)
    tx["client_reply_status"] = as_column(tx["reply_status"].to_numpy(dtype=object, copy=True),
                                          tx.index)
    return tx


def _apply(tx: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Fold every backend-side transaction into its service-side one; renumber tx_id."""
    s, b = pairs["s"].to_numpy(), pairs["b"].to_numpy()
    columns = {name: tx[name].to_numpy(copy=True) for name in tx.columns}
    q, r = columns["q"], columns["r"]
    sq, sr, bq, br = q[s].copy(), r[s].copy(), q[b].copy(), r[b].copy()
    query_from = np.where(sq >= 0, s, b)
    reply_from = np.where(sr >= 0, s, b)
    columns["backend_query_t"][s] = columns["query_t"][b]
    for name in _QUERY_FIELDS:
        columns[name][s] = columns[name][query_from]
    for name in _REPLY_FIELDS:
        columns[name][s] = columns[name][reply_from]
    q[s], columns["extra_q"][s] = np.where(sq >= 0, sq, bq), np.where(sq >= 0, bq, -1)
    r[s], columns["extra_r"][s] = np.where(sr >= 0, sr, br), np.where(sr >= 0, br, -1)
    columns["has_query"][s] = columns["has_query"][s] | columns["has_query"][b]
    columns["malformed"][s] = columns["malformed"][s] | columns["malformed"][b]
    columns["duplicate_responses"][s] = np.maximum(columns["duplicate_responses"][s],
                                                   columns["duplicate_responses"][b])
    columns["server_backend"][s] = columns["server"][b]
    columns["server_backend_port"][s] = columns["server_port"][b]
    columns["server_backend_pod"][s] = pairs["backend_pod"].to_numpy(dtype=object)
    columns["nat"][s] = "dnat"
    columns["nat_reply_seen"][s] = np.select(
        [(sr >= 0) & (br >= 0), br >= 0, sr >= 0], ["both", "backend_only", "service_only"],
        default=None)
    keep = np.ones(len(tx), dtype=bool)
    keep[b] = False
    merged = plain_frame({name: values[keep] for name, values in columns.items()})
    first_t = np.where(merged["has_query"], merged["query_t"], merged["response_t"])
    merged = merged.iloc[np.argsort(first_t, kind="stable")].reset_index(drop=True)
    merged["tx_id"] = np.arange(len(merged), dtype=np.int64)
    return merged


def merge_service_dnat(tx: pd.DataFrame, packet_ids: np.ndarray, same_point: PointCheck,
                       mapping: pd.DataFrame | None, window_ns: int) -> pd.DataFrame:
    """``tx`` with the two sightings of each DNAT'd exchange folded into one row.

    ``tx`` is the pairing stage's table (positions ``q``/``r`` into the messages whose
    ``packet_ids`` are given). ``mapping``: the cluster's Service -> backend table, or None
    to guess it from the capture (:func:`infer_service_backends`). Adds the columns
    server_backend, server_backend_port, server_backend_pod, nat, nat_reply_seen, and for
    the later stages extra_q/extra_r (the other side's messages), backend_query_t, and
    client_response_t/client_reply_status (the response as the client side saw it).
    """
    tx = _nat_defaults(tx)
    guessed = mapping is None
    if guessed:
        mapping = infer_service_backends(tx, packet_ids, same_point, window_ns)
    pairs = mapped_pairs(_items(tx), mapping, window_ns, same=_EXCHANGE[3:],
                         backend_after=guessed)
    if pairs.empty:
        return tx
    s, b = pairs["s"].to_numpy(), pairs["b"].to_numpy()
    ok = _seen_apart(tx, s, b, packet_ids, same_point)
    if guessed:
        ok &= _response_nested(tx, s, b)
    pairs = nearest_one_to_one(pairs[ok])
    return _apply(tx, pairs) if len(pairs) else tx


def backend_views(tx: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """``tx`` plus, for each merged transaction whose backend-side query was seen, a row as
    that sighting looked (server = the backend, its query time), and the owner position of
    every row: ICMP errors quote the packet as it was where they were raised."""
    rows = np.flatnonzero(tx["server_backend"].notna().to_numpy()
                          & (tx["backend_query_t"].to_numpy() >= 0))
    views = tx.iloc[rows].assign(server=tx["server_backend"].to_numpy()[rows],
                                 server_port=tx["server_backend_port"].to_numpy()[rows],
                                 query_t=tx["backend_query_t"].to_numpy()[rows],
                                 has_query=True)
    combined = pd.concat([tx, views], ignore_index=True)
    return combined, np.concatenate([np.arange(len(tx)), rows])
