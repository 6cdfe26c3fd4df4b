"""Recognise re-sent DNS questions, and glibc's parallel A+AAAA pattern.

A query is a *retry* of the previous query with the same question (qname case-insensitive,
qtype) from the same client address to the same server (or to any server with
``any_server=True``: glibc and musl rotate nameservers) when it was sent within ``window``
seconds of it and that previous query had not been *settled* when this one left: no
response yet, or only a truncated, SERVFAIL, REFUSED or other error response. An answered
or NXDOMAIN question asked again is a new lookup (applications without a cache do that all
the time), not a retry. The client port is not compared: many resolvers use a new socket
per attempt.

Retry chains get ``attempt`` 1, 2, ..., ``retry_of`` (tx_id of attempt 1), ``retries`` and
``retry_delay_s``. ``retry_pattern`` is ``tcp_fallback`` when a truncated UDP answer was
followed by the same question over TCP, ``resend`` otherwise.

glibc pattern (kubernetes/kubernetes#56903): glibc sends the A and AAAA queries of one
lookup back to back from ONE socket. Both packets race to create the same conntrack entry
and one of them may be dropped; glibc waits for its timeout (5 s by default) and re-sends.
A pair is an A and an AAAA query for the same name from the same client address and port to
the same server address and port within ``parallel_window`` seconds (``parallel_tx_id``
links them). When exactly one query of a first-try pair got no response and was re-sent,
every transaction of both retry chains is marked ``glibc_parallel_retry``; when glibc
re-sent the answered one too (it re-sends both), that re-send joins the answered query's
chain as its attempt 2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pcapkit.dnstx.arrays import NS, group_codes, null_ints, null_strings, seconds_to_ns

_SETTLED = ("answered", "nxdomain")
_NEEDED = ["tx_id", "client", "client_port", "server", "server_port", "transport", "qname_lc",
           "qtype", "qtype_name", "query_t", "response_t", "reply_status"]
_A, _AAAA = "A", "AAAA"


def find_retries(tx: pd.DataFrame, *, window: float, any_server: bool,
                 parallel_window: float) -> pd.DataFrame:
    """Retry columns for the transactions in ``tx`` (indexed like it).

    ``tx`` needs: tx_id, has_query, client, client_port, server, server_port, transport,
    qname_lc, qtype, qtype_name, query_t, response_t (int64 ns, -1 when missing),
    reply_status.
    """
    out = pd.DataFrame(index=tx.index)
    out["attempt"] = null_ints(len(tx))
    out["retry_of"] = null_ints(len(tx))
    out["retry_delay_s"] = np.nan
    out["retry_pattern"] = null_strings(len(tx))
    queries = tx.loc[tx["has_query"].to_numpy(dtype=bool), _NEEDED]
    if queries.empty:
        out["retries"] = null_ints(len(tx))
        out["parallel_tx_id"] = null_ints(len(tx))
        return out

    key_columns = ["client", "qname_lc", "qtype"] + ([] if any_server else ["server"])
    key = group_codes(queries, key_columns)
    t = queries["query_t"].to_numpy()
    order = np.lexsort((t, key))
    q = queries.iloc[order]
    key, t = key[order], t[order]
    reply_t = q["response_t"].to_numpy()
    status = q["reply_status"].to_numpy(dtype=object)
    transport = q["transport"].to_numpy(dtype=object)

    same = np.r_[False, key[1:] == key[:-1]]
    gap = np.r_[0, t[1:] - t[:-1]]
    prev_settled = np.r_[False, (reply_t[:-1] >= 0) & (reply_t[:-1] <= t[1:])
                         & np.isin(status[:-1], _SETTLED)]
    is_retry = same & (gap <= seconds_to_ns(window)) & ~prev_settled
    tcp_fallback = is_retry & np.r_[False, (status[:-1] == "truncated")
                                    & (transport[:-1] == "udp") & (transport[1:] == "tcp")]

    chain = np.cumsum(~is_retry) - 1
    tx_ids = q["tx_id"].to_numpy()
    first_of_chain = np.flatnonzero(~is_retry)
    retry_of = tx_ids[first_of_chain][chain]
    attempt = np.arange(len(q)) - first_of_chain[chain] + 1
    chains = pd.DataFrame({"tx_id": tx_ids, "retry_of": retry_of, "attempt": attempt,
                           "t": t, "delay": np.where(is_retry, gap / NS, np.nan),
                           "tcp_fallback": tcp_fallback}, index=q.index)
    _link_glibc_pairs(chains, q, parallel_window)
    return _finish(out, chains)


def _parallel_pairs(q: pd.DataFrame, chains: pd.DataFrame, parallel_window: float) -> pd.DataFrame:
    """(a, aaaa) index pairs: A and AAAA queries of one socket, same name, sent together."""
    socket_key = ["client", "client_port", "server", "server_port", "transport", "qname_lc"]
    frame = pd.DataFrame({"t": chains["t"].to_numpy(), "idx": q.index.to_numpy(),
                          "sock": group_codes(q, socket_key)})
    qtype = q["qtype_name"].to_numpy(dtype=object)
    a = frame[qtype == _A].sort_values("t")
    aaaa = frame[qtype == _AAAA].sort_values("t")
    if a.empty or aaaa.empty:
        return pd.DataFrame({"a": [], "aaaa": []}, dtype=np.int64)
    merged = pd.merge_asof(a[["t", "sock", "idx"]], aaaa[["t", "sock", "idx"]].rename(
        columns={"idx": "aaaa", "t": "t_aaaa"}).assign(t=lambda f: f["t_aaaa"]), on="t",
        by="sock", direction="nearest", tolerance=seconds_to_ns(parallel_window))
    merged = merged.dropna(subset=["aaaa"])
    merged["dt"] = (merged["t"] - merged["t_aaaa"]).abs()
    merged = merged.sort_values("dt").drop_duplicates("aaaa")
    return pd.DataFrame({"a": merged["idx"].to_numpy(dtype=np.int64),
                         "aaaa": merged["aaaa"].to_numpy(dtype=np.int64)})


def _link_glibc_pairs(chains: pd.DataFrame, q: pd.DataFrame, parallel_window: float) -> None:
    """Set parallel_tx_id and the glibc flag; merge glibc's re-send of the answered query.

    For each A/AAAA pair of first tries with exactly one answered, whose unanswered query
    was re-sent: both chains are flagged, and the re-send's partner (glibc re-sending the
    answered query too), when it starts a chain of its own, joins the answered query's
    chain after its attempts. Pairs are one-to-one, so every such re-send heads a different
    chain and the pairs are applied all at once."""
    pairs = _parallel_pairs(q, chains, parallel_window)
    chains["parallel_tx_id"] = null_ints(len(chains))
    chains["glibc"] = False
    if pairs.empty:
        return
    position = pd.Series(np.arange(len(chains)), index=chains.index)
    a_pos, aaaa_pos = position.loc[pairs["a"]].to_numpy(), position.loc[pairs["aaaa"]].to_numpy()
    tx_ids = chains["tx_id"].to_numpy()
    partner = np.full(len(chains), -1, dtype=np.int64)
    partner[a_pos], partner[aaaa_pos] = aaaa_pos, a_pos
    chains["parallel_tx_id"] = pd.arrays.IntegerArray(
        np.where(partner >= 0, tx_ids[np.maximum(partner, 0)], 0).astype(np.int64), partner < 0)

    answered = (q["response_t"] >= 0).to_numpy()
    attempt = chains["attempt"].to_numpy()
    one_lost = (attempt[a_pos] == 1) & (attempt[aaaa_pos] == 1) & (
        answered[a_pos] != answered[aaaa_pos])
    if not one_lost.any():
        return
    retry_of = chains["retry_of"].to_numpy()
    chain, _ = pd.factorize(retry_of)
    size = np.bincount(chain)[chain]
    a_pos, aaaa_pos = a_pos[one_lost], aaaa_pos[one_lost]
    lost = np.where(answered[a_pos], aaaa_pos, a_pos)
    kept = np.where(answered[a_pos], a_pos, aaaa_pos)
    seconds = np.flatnonzero(attempt == 2)
    second = pd.Index(retry_of[seconds]).get_indexer(tx_ids[lost])
    re_sent = (size[lost] >= 2) & (second >= 0)
    flagged = np.concatenate([tx_ids[lost[re_sent]], tx_ids[kept[re_sent]]])
    kept = kept[re_sent]
    resend = partner[seconds[second[re_sent]]]
    safe = np.maximum(resend, 0)
    joins = (resend >= 0) & (attempt[safe] == 1) & (retry_of[safe] != tx_ids[kept])
    resend, kept = resend[joins], kept[joins]
    if len(resend):
        into = np.full(chain.max() + 1, -1, dtype=np.int64)
        into[chain[resend]] = kept  # the chain each re-send heads, and where it goes
        target = into[chain]
        joining = target >= 0
        chains["attempt"] = np.where(joining, attempt + size[np.maximum(target, 0)], attempt)
        delay = chains["delay"].to_numpy(copy=True)
        delay[resend] = (chains["t"].to_numpy()[resend] - chains["t"].to_numpy()[kept]) / NS
        chains["delay"] = delay
        chains["retry_of"] = np.where(joining, tx_ids[np.maximum(target, 0)], retry_of)
    chains["glibc"] = np.isin(chains["retry_of"].to_numpy(), flagged)


def _finish(out: pd.DataFrame, chains: pd.DataFrame) -> pd.DataFrame:
    chain, _ = pd.factorize(chains["retry_of"].to_numpy())
    retries = np.bincount(chain)[chain] - 1
    fallback = np.bincount(chain, weights=chains["tcp_fallback"].to_numpy())[chain] > 0
    pattern = np.where(chains["glibc"], "glibc_parallel_retry",
                       np.where(fallback, "tcp_fallback",
                                np.where(retries > 0, "resend", None)))
    out["attempt"] = pd.Series(chains["attempt"], dtype="Int64")
    out["retry_of"] = pd.Series(chains["retry_of"], dtype="Int64")
    out["retries"] = pd.Series(retries, index=chains.index, dtype="Int64")
    out["retry_delay_s"] = chains["delay"]
    out["retry_pattern"] = pd.Series(pattern, index=chains.index, dtype="string")
    out["parallel_tx_id"] = chains["parallel_tx_id"]
    return out
