"""Assemble the DNS transaction table: messages -> pairs -> retries -> status -> extras."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from pcapkit.cluster import Cluster, check_cluster
from pcapkit.cluster.identity.enrich import end_identities
from pcapkit.column_arrays import per_row
from pcapkit.dnstx.arrays import (
    NS,
    as_column,
    categorical_of,
    compact_categorical,
    null_ints,
    plain_frame,
    positions_of,
    seconds_to_ns,
)
from pcapkit.dnstx.chains import find_resolver_chains
from pcapkit.dnstx.icmp import link_icmp_errors
from pcapkit.dnstx.identities import cluster_dns_addresses, cluster_namespaces
from pcapkit.dnstx.messages import MESSAGE_COLUMNS, distinct_messages, sighting_points
from pcapkit.dnstx.nat import backend_views, merge_service_dnat
from pcapkit.dnstx.options import DnsOptions
from pcapkit.dnstx.pairing import orient, pair_messages
from pcapkit.dnstx.retries import find_retries
from pcapkit.dnstx.searchpath import find_search_paths
from pcapkit.errors import PcapkitError
from pcapkit.schema.convert import STRING, build_frame, to_kind
from pcapkit.schema.dnstx import DNS
from pcapkit.service_dnat import seen_at_one_point

_RCODE_STATUS = {"NOERROR": "answered", "NXDOMAIN": "nxdomain", "SERVFAIL": "servfail",
                 "REFUSED": "refused"}


def _take(values: np.ndarray, index: np.ndarray, fill: Any) -> np.ndarray:
    """values[index] with ``fill`` where index is -1."""
    if len(values) == 0:  # nothing to take from: every index is -1
        return np.full(len(index), fill, dtype=object)
    taken = values[np.maximum(index, 0)]
    if taken.dtype != object and not isinstance(fill, int | float):
        taken = taken.astype(object)
    taken[index < 0] = fill
    return taken


def _nullable_int(values: np.ndarray, present: np.ndarray) -> pd.arrays.IntegerArray:
    """Int64 array of ``values`` with NA where ``present`` is False."""
    data = np.where(present, values, 0).astype(np.int64)
    return pd.arrays.IntegerArray(data, ~np.asarray(present, dtype=bool))


def _reply_status(rcode: np.ndarray, tc: np.ndarray, has_reply: np.ndarray) -> np.ndarray:
    status = np.full(len(rcode), "other_error", dtype=object)
    for name, meaning in _RCODE_STATUS.items():
        status[rcode == name] = meaning
    status = np.where((status == "answered") & tc, "truncated", status)
    return np.where(has_reply, status, None)


def _base_table(messages: pd.DataFrame, view: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per transaction with the query/response fields, ordered by first time (messages
    at one instant in table order, so retry chains number them as they were captured)."""
    q = pairs["q"].to_numpy()
    r = pairs["r"].to_numpy()
    either = np.where(q >= 0, q, r)
    t = view["t"].to_numpy()
    query_t = np.where(q >= 0, t[np.maximum(q, 0)], -1) if len(t) else q
    response_t = np.where(r >= 0, t[np.maximum(r, 0)], -1) if len(t) else r
    first_t = np.where(q >= 0, query_t, response_t)
    order = np.lexsort((either, first_t))
    q, r, either = q[order], r[order], either[order]
    query_t, response_t = query_t[order], response_t[order]

    def field(frame: pd.DataFrame, name: str, rows: np.ndarray, fill: Any = None) -> np.ndarray:
        return _take(frame[name].to_numpy(), rows, fill)

    def message_field(name: str, rows: np.ndarray) -> np.ndarray:
        column = messages[name]
        if isinstance(column.dtype, pd.StringDtype | pd.CategoricalDtype):
            # each distinct text once, shared by its rows
            codes, values = pd.factorize(column)
            return per_row(_take(codes, rows, -1).astype(np.int64),
                           np.asarray(values, dtype=object), None)
        return _take(column.to_numpy(dtype=object, na_value=None), rows, None)

    tc = _take(messages["tc"].to_numpy(dtype=bool, na_value=False), r, False).astype(bool) \
        if "tc" in messages.columns else np.zeros(len(r), dtype=bool)
    has_reply = r >= 0
    rcode = message_field("rcode_name", r)
    tx = plain_frame({
        "tx_id": np.arange(len(order), dtype=np.int64),
        "q": q, "r": r,
        "duplicate_responses": pairs["duplicates"].to_numpy()[order],
        "has_query": q >= 0,
        "query_t": query_t, "response_t": response_t,
        "client": field(view, "client", either), "client_port": field(view, "client_port", either, -1),
        "server": field(view, "server", either), "server_port": field(view, "server_port", either, -1),
        "transport": field(view, "transport", either), "dns_id": field(view, "dns_id", either, -1),
        "qname": message_field("qname", either), "qname_lc": field(view, "qname_lc", either, ""),
        "qtype": field(view, "qtype", either, -1), "qtype_name": message_field("qtype_name", either),
        "rcode": rcode, "tc": tc,
        "ancount": _take(messages["ancount"].to_numpy(dtype=np.int64, na_value=-1), r, -1),
        "answers": message_field("answers", r),
        "answer_addrs": message_field("answer_addrs", r),
        "reply_status": _reply_status(rcode, tc, has_reply),
    })
    malformed = messages["malformed"].to_numpy(dtype=bool)
    if "incomplete" in messages.columns:
        malformed = malformed | messages["incomplete"].to_numpy(dtype=bool)
    tx["malformed"] = (_take(malformed, q, False).astype(bool)
                       | _take(malformed, r, False).astype(bool))
    return tx


def _status(tx: pd.DataFrame, retries: pd.DataFrame, end_t: np.ndarray,
            timeout: float, icmp_error: np.ndarray) -> np.ndarray:
    """Final status: the response's, else unanswered / unanswered_at_capture_end.

    A query that was re-sent, or that drew an ICMP error, was judged by the client or the
    network already: it is unanswered even when the capture stopped soon after it.
    """
    status = tx["reply_status"].to_numpy(dtype=object).copy()
    chain_size = (retries["retries"].fillna(0) + 1).to_numpy(dtype=np.int64)
    attempt = retries["attempt"].fillna(1).to_numpy(dtype=np.int64)
    re_sent = attempt < chain_size
    no_reply = tx["has_query"].to_numpy() & (tx["r"].to_numpy() < 0)
    too_close = tx["query_t"].to_numpy() + seconds_to_ns(timeout) > end_t
    judged = re_sent | icmp_error
    status[no_reply] = np.where(too_close[no_reply] & ~judged[no_reply],
                                "unanswered_at_capture_end", "unanswered")
    status[~tx["has_query"].to_numpy()] = "response_only"
    return status


def _chain_outcome(tx: pd.DataFrame) -> pd.DataFrame:
    """Per transaction, the outcome of its whole retry chain (its last attempt)."""
    tx_id = tx["tx_id"].to_numpy(dtype=np.int64)
    key = tx["retry_of"].to_numpy(dtype=np.int64, na_value=-1)
    key = np.where(tx["retry_of"].isna().to_numpy(), tx_id, key)
    order = np.lexsort((tx["query_t"].to_numpy(), key))
    sorted_key = key[order]
    new = np.r_[True, sorted_key[1:] != sorted_key[:-1]] if len(key) else np.zeros(0, bool)
    starts = np.flatnonzero(new)
    last = order[np.r_[starts[1:] - 1, len(order) - 1]] if len(starts) else starts
    chain = np.searchsorted(sorted_key[starts], key)
    latest = np.maximum.reduceat(tx["response_t"].to_numpy()[order], starts) if len(starts) \
        else np.zeros(0, dtype=np.int64)
    return pd.DataFrame({
        "final_status": as_column(tx["status"].to_numpy(dtype=object)[last][chain], tx.index),
        "final_response_t": latest[chain],
        "ancount": tx["ancount"].to_numpy()[last][chain],
    }, index=tx.index)


_MESSAGE_SLOTS = ("q", "r", "extra_q", "extra_r")


def _combined_nodes(messages: pd.DataFrame, tx: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per transaction: the sorted comma-separated nodes that saw any of its messages (query,
    response, and their other-side copies of a DNAT'd exchange), and how many sightings
    those messages had together."""
    nodes = messages["nodes"].to_numpy(dtype=object)
    sightings = messages["sightings"].to_numpy(dtype=np.int64)
    slots = [tx[c].to_numpy() for c in _MESSAGE_SLOTS if c in tx.columns]
    lists = [_take(nodes, rows, None) for rows in slots]
    combined = lists[0].copy()
    for values in lists[1:]:
        combined = np.where(combined == None, values, combined)  # noqa: E711
    differ = np.zeros(len(tx), dtype=bool)
    for values in lists:
        differ |= (values != None) & (values != combined)  # noqa: E711
    rows = np.flatnonzero(differ)
    if len(rows):  # one union per distinct combination of node lists, not per row
        codes, combos = pd.MultiIndex.from_arrays([v[rows] for v in lists]).factorize()
        unions = np.array([",".join(sorted({n for part in combo if isinstance(part, str)
                                            for n in part.split(",")}))
                           for combo in combos], dtype=object)
        combined[rows] = unions[codes]
    total = np.zeros(len(tx), dtype=np.int64)
    for rows_of in slots:
        total += _take(sightings, rows_of, 0).astype(np.int64)
    return combined, total


def _capture_end(messages: pd.DataFrame, tx: pd.DataFrame) -> np.ndarray:
    """Per transaction, the latest capture end among the nodes that saw any of its messages."""
    ends = messages["end_t"].to_numpy(dtype=np.int64)
    end_t = np.full(len(tx), np.iinfo(np.int64).min, dtype=np.int64)
    for column in _MESSAGE_SLOTS:
        end_t = np.maximum(end_t, _take(ends, tx[column].to_numpy(),
                                        np.iinfo(np.int64).min).astype(np.int64))
    return end_t


def _point_check(points: Callable[[], pd.DataFrame]):
    """A function telling, for pairs of packet ids, whether one capture point saw both.

    The capture points of the DNS sightings (``points()``: ``sighting_points``) are worked
    out on the first call only (most captures have no DNAT candidates at all) and reused
    by later calls."""
    cache: list[pd.DataFrame] = []

    def same_point(first: np.ndarray, second: np.ndarray) -> np.ndarray:
        if not cache:
            cache.append(points().rename(columns={"packet_id": "item"}))
        return seen_at_one_point(cache[0], first, second)
    return same_point


def _icmp_errors(tx: pd.DataFrame, packets: pd.DataFrame | None, timeout: float) -> pd.DataFrame:
    """ICMP errors quoting a query as the client sent it or, after DNAT, as the backend got
    it; the client-side one wins."""
    combined, owner = backend_views(tx)
    found = link_icmp_errors(combined, packets, timeout)
    out = found.iloc[:len(tx)].copy()
    extra = found.iloc[len(tx):]
    hit = extra["icmp_error"].notna().to_numpy(dtype=bool)
    rows = owner[len(tx):][hit]
    free = out["icmp_error"].isna().to_numpy(dtype=bool)[rows]
    for column in out.columns:
        values = out[column].to_numpy(dtype=object, na_value=None)
        values[rows[free]] = extra[column].to_numpy(dtype=object, na_value=None)[hit][free]
        out[column] = pd.array(values, dtype="string")
    return out


def build_dns_transactions(dns: pd.DataFrame, packets: pd.DataFrame | None = None,
                           cluster: Cluster | None = None, *, options: DnsOptions | None = None,
                           packet_flows: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per DNS query/response pair, across every sighting: the ``dns`` table of the
    registry (pcapkit.schema.dnstx).

    dns: the decoder's DNS table (keyed by file, frame). packets: ``Vantage.packets`` (its
    packet_id collapses sightings of one message; node, ts_corrected used when present) or
    the plain packet table, or None (each DNS row is then its own message). cluster: a
    ``pcapkit.cluster.Cluster`` for identities, namespaces and cluster DNS addresses.
    options: timeouts, retry and search-path rules, capture end (``DnsOptions``; None: the
    defaults). packet_flows: ``packet_id`` -> ``flow_id`` (``Capture.distinct``), which gives
    each transaction the flow that carried it (NA without). The rules are in docs/dns.md.
    """
    options = DnsOptions() if options is None else options
    if not isinstance(options, DnsOptions):
        raise PcapkitError("build_dns_transactions: options must be a DnsOptions, "
                           f"not {type(options).__name__}")
    if not isinstance(dns, pd.DataFrame):
        raise PcapkitError("build_dns_transactions: dns must be the decoder's DNS DataFrame")
    cluster = check_cluster(cluster, "build_dns_transactions")
    dns = dns[[c for c in MESSAGE_COLUMNS if c in dns.columns]]  # what the steps read
    return transactions_of(distinct_messages(dns, packets, options.capture_end),
                           lambda: sighting_points(dns, packets), packets, cluster,
                           options=options, packet_flows=packet_flows)


def transactions_of(messages: pd.DataFrame, points: Callable[[], pd.DataFrame],
                    errors: pd.DataFrame | None, cluster: Cluster | None, *,
                    options: DnsOptions, packet_flows: pd.DataFrame | None = None
                    ) -> pd.DataFrame:
    """The transactions of ``build_dns_transactions`` from what it makes of the sightings:
    the distinct messages (``distinct_messages``), a function giving their capture points
    (``sighting_points``, asked only when a DNAT needs them) and the packet rows holding
    the ICMP errors that quote ports (any packet table that has them). A partitioned run
    makes the three a share at a time: every sighting of a message is in one share."""
    timeout = options.timeout
    view = orient(messages)
    pairs = pair_messages(view, timeout)
    tx = _base_table(messages, view, pairs)
    tx = merge_service_dnat(tx, messages["packet_id"].to_numpy(dtype=np.int64),
                            _point_check(points),
                            cluster.service_backends() if cluster is not None else None,
                            seconds_to_ns(options.nat_window))

    # Retries follow what the client saw: a reply lost after the DNAT point settled nothing.
    retries = find_retries(tx.assign(response_t=tx["client_response_t"],
                                     reply_status=tx["client_reply_status"]),
                           window=options.retry_window, any_server=options.retry_any_server,
                           parallel_window=options.parallel_window)
    for column in retries.columns:
        tx[column] = retries[column]
    icmp = _icmp_errors(tx, errors, timeout)
    end_t = _capture_end(messages, tx)
    tx["status"] = as_column(_status(tx, retries, end_t, timeout,
                                     icmp["icmp_error"].notna().to_numpy(dtype=bool)), tx.index)

    outcome = _chain_outcome(tx)
    search = find_search_paths(
        tx.assign(**{c: outcome[c] for c in ("final_status", "final_response_t")},
                  ancount=outcome["ancount"]),
        cluster_domain=options.cluster_domain, namespaces=cluster_namespaces(cluster),
        search_domains=list(options.search_domains), gap=options.search_gap)
    dns_servers, resolver_addresses = cluster_dns_addresses(cluster)
    chains = find_resolver_chains(tx.assign(final_status=outcome["final_status"]),
                                  timeout=timeout, dns_servers=dns_servers or None,
                                  resolver_addresses=resolver_addresses)
    tx["final_status"] = as_column(outcome["final_status"].to_numpy(dtype=object), tx.index)
    return _finish(tx, messages, [search, chains, icmp], cluster, packet_flows)


def _finish(tx: pd.DataFrame, messages: pd.DataFrame, extras: list[pd.DataFrame],
            cluster: Cluster | None, packet_flows: pd.DataFrame | None) -> pd.DataFrame:
    """The public table, the ``dns`` table of the registry (pcapkit.schema.dnstx)."""
    q, r = tx["q"].to_numpy(), tx["r"].to_numpy()
    either = np.where(q >= 0, q, r)
    both = (q >= 0) & (r >= 0)
    interface = messages["interface"] if "interface" in messages.columns else pd.Series(
        [None] * len(messages))
    nodes, sightings = _combined_nodes(messages, tx)
    frames = messages["frame"].to_numpy(dtype=np.int64, na_value=-1)
    ids = messages["packet_id"].to_numpy(dtype=np.int64)
    data = {
        "tx_id": tx["tx_id"].to_numpy(),
        "query_ts": tx["query_t"].to_numpy(), "response_ts": tx["response_t"].to_numpy(),
        "latency_s": np.where(both, (tx["response_t"] - tx["query_t"]) / NS, np.nan),
        "status": categorical_of(tx["status"].to_numpy(dtype=object)),
        "orig_h": categorical_of(tx["client"].to_numpy(dtype=object)),
        "orig_p": tx["client_port"].to_numpy(dtype=np.int64),
        "resp_h": categorical_of(tx["server"].to_numpy(dtype=object)),
        "resp_p": tx["server_port"].to_numpy(dtype=np.int64),
        "backend_ip": categorical_of(tx["server_backend"].to_numpy(dtype=object)),
        "backend_port": tx["server_backend_port"].to_numpy(dtype=np.int64),
        "backend_pod": tx["server_backend_pod"].to_numpy(dtype=object),
        "nat": tx["nat"].to_numpy(dtype=object),
        "nat_reply_seen": tx["nat_reply_seen"].to_numpy(dtype=object),
        "transport": categorical_of(tx["transport"].to_numpy(dtype=object)),
        "dns_id": tx["dns_id"].to_numpy(dtype=np.int64),
        "qname": tx["qname"].to_numpy(dtype=object),
        "qtype": tx["qtype_name"].to_numpy(dtype=object),
        "rcode": tx["rcode"].to_numpy(dtype=object),
        "tc": pd.arrays.BooleanArray(tx["tc"].to_numpy(dtype=bool), r < 0),
        "ancount": tx["ancount"].to_numpy(dtype=np.int64),
        "answers": tx["answers"].to_numpy(dtype=object),
        "answer_addrs": tx["answer_addrs"].to_numpy(dtype=object),
        "duplicate_responses": tx["duplicate_responses"].to_numpy(),
        "malformed": tx["malformed"].to_numpy(dtype=bool),
        **{column: tx[column] for column in ("attempt", "retry_of", "retries", "retry_delay_s",
                                             "retry_pattern", "parallel_tx_id")},
        "final_status": categorical_of(tx["final_status"].to_numpy(dtype=object)),
        **{column: extra[column] for extra in extras for column in extra.columns},
        "node": _categorical_rows(messages["node"], either),
        "interface": _categorical_rows(interface, either),
        "nodes": nodes, "sightings": sightings,
        "query_file": _categorical_rows(messages["file"], q),
        "query_frame": _nullable_int(_take(frames, q, -1), q >= 0),
        "response_file": _categorical_rows(messages["file"], r),
        "response_frame": _nullable_int(_take(frames, r, -1), r >= 0),
        "query_packet_id": _nullable_int(_take(ids, q, -1), q >= 0),
        "response_packet_id": _nullable_int(_take(ids, r, -1), r >= 0),
    }
    for name, slot in (("nat_query_packet_id", "extra_q"), ("nat_response_packet_id", "extra_r")):
        rows = tx[slot].to_numpy() if slot in tx.columns else np.full(len(tx), -1)
        data[name] = _nullable_int(_take(ids, rows, -1), rows >= 0)
    data["flow_id"] = null_ints(len(tx))
    table = build_frame(DNS, {**data, **_identities(data, cluster)}).reset_index(drop=True)
    return table if packet_flows is None else with_flow_ids(table, packet_flows)


def with_flow_ids(dns: pd.DataFrame, packet_flows: pd.DataFrame) -> pd.DataFrame:
    """``dns`` (transactions) with the ``flow_id`` of the flow that carried each: its
    query's packet's, or its response's when the query was not seen; ``packet_flows``:
    ``packet_id`` -> ``flow_id`` (``Capture.distinct``)."""
    packet = dns["query_packet_id"].fillna(dns["response_packet_id"]).to_numpy(
        dtype=np.int64, na_value=-1)
    out = dns.copy(deep=False)
    out["flow_id"] = _flow_of(packet, packet_flows)
    return out


def _categorical_rows(column: pd.Series, rows: np.ndarray) -> pd.Categorical:
    """The column's values at ``rows`` (None where -1) as the table's categorical, from the
    column's codes when it is a categorical."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return categorical_of(_take(column.astype(object).to_numpy(), rows, None))
    codes = column.cat.codes.to_numpy(dtype=np.int64)
    taken = _take(codes, rows, -1).astype(np.int64)
    return compact_categorical(taken, np.asarray(column.cat.categories, dtype=object))


def _flow_of(packet_ids: np.ndarray, packet_flows: pd.DataFrame | None
             ) -> pd.api.extensions.ExtensionArray:
    """flow_id of each packet id per ``packet_flows`` (packet_id, flow_id); NA without it."""
    if packet_flows is None or not len(packet_flows):
        return null_ints(len(packet_ids))
    at = positions_of(packet_flows["packet_id"].to_numpy(dtype=np.int64, na_value=-1),
                      packet_ids)
    return packet_flows["flow_id"].array.take(at, allow_fill=True).astype("Int64")


def _identities(data: dict, cluster: Cluster | None) -> pd.DataFrame:
    """orig_/resp_ identity columns, each end resolved at the query time (the response time
    for response_only rows)."""
    ends = pd.DataFrame({column: to_kind(data[column], DNS[column].kind)
                         for column in ("orig_h", "orig_p", "resp_h", "resp_p")})
    query, response = (to_kind(data[c], "ts") for c in ("query_ts", "response_ts"))
    ends["at"] = pd.Series(query).fillna(pd.Series(response)).array
    found = end_identities(ends, cluster.address_map if cluster is not None else None, "at")
    for column in found.columns:  # text columns as the table's strings: Arrow to Arrow
        if DNS[column].kind == "str" and isinstance(found[column].dtype, pd.StringDtype):
            found[column] = found[column].array.astype(STRING)
    return found
