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
_A, _AAAA = "A", "AAAA"


def find_retries(tx: pd.DataFrame, *, window: float, any_server: bool,
                 parallel_window: float) -> pd.DataFrame:
    """Retry columns for the transactions in ``tx`` (indexed like it).

    ``tx`` needs: tx_id, has_query, client, client_port, server, server_port, transport,
    qname_lc, qtype, query_t, response_t (int64 ns, -1 when missing), reply_status.
    """
    out = pd.DataFrame(index=tx.index)
    out["attempt"] = null_ints(len(tx))
    out["retry_of"] = null_ints(len(tx))
    out["retry_delay_s"] = np.nan
    out["retry_pattern"] = null_strings(len(tx))
    queries = tx[tx["has_query"]]
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
    frame = q[socket_key].copy()
    frame["t"] = chains["t"]
    frame["idx"] = q.index
    qtype = q["qtype_name"].to_numpy(dtype=object)
    a = frame[qtype == _A].sort_values("t")
    aaaa = frame[qtype == _AAAA].sort_values("t")
    if a.empty or aaaa.empty:
        return pd.DataFrame({"a": [], "aaaa": []}, dtype=np.int64)
    for side in (a, aaaa):
        side["sock"] = pd.MultiIndex.from_frame(side[socket_key].astype(str)).to_flat_index()
    codes, _ = pd.factorize(pd.concat([a["sock"], aaaa["sock"]]))
    a["sock"], aaaa["sock"] = codes[:len(a)], codes[len(a):]
    merged = pd.merge_asof(a[["t", "sock", "idx"]], aaaa[["t", "sock", "idx"]].rename(
        columns={"idx": "aaaa", "t": "t_aaaa"}).assign(t=lambda f: f["t_aaaa"]), on="t",
        by="sock", direction="nearest", tolerance=seconds_to_ns(parallel_window))
    merged = merged.dropna(subset=["aaaa"])
    merged["dt"] = (merged["t"] - merged["t_aaaa"]).abs()
    merged = merged.sort_values("dt").drop_duplicates("aaaa")
    return pd.DataFrame({"a": merged["idx"].to_numpy(dtype=np.int64),
                         "aaaa": merged["aaaa"].to_numpy(dtype=np.int64)})


def _link_glibc_pairs(chains: pd.DataFrame, q: pd.DataFrame, parallel_window: float) -> None:
    """Set parallel_tx_id and the glibc flag; merge glibc's re-send of the answered query."""
    pairs = _parallel_pairs(q, chains, parallel_window)
    chains["parallel_tx_id"] = null_ints(len(chains))
    chains["glibc"] = False
    if pairs.empty:
        return
    tx_of = chains["tx_id"]
    chains.loc[pairs["a"].to_numpy(), "parallel_tx_id"] = tx_of.loc[pairs["aaaa"]].to_numpy()
    chains.loc[pairs["aaaa"].to_numpy(), "parallel_tx_id"] = tx_of.loc[pairs["a"]].to_numpy()

    answered = (q["response_t"] >= 0).to_numpy()
    position = pd.Series(np.arange(len(chains)), index=chains.index)
    a_pos, aaaa_pos = position.loc[pairs["a"]].to_numpy(), position.loc[pairs["aaaa"]].to_numpy()
    attempt = chains["attempt"].to_numpy()
    one_lost = (attempt[a_pos] == 1) & (attempt[aaaa_pos] == 1) & (
        answered[a_pos] != answered[aaaa_pos])
    if not one_lost.any():
        return
    size = chains.groupby("retry_of")["tx_id"].transform("size")
    partner = dict(zip(pairs["a"], pairs["aaaa"], strict=True))
    partner.update(zip(pairs["aaaa"], pairs["a"], strict=True))
    seconds = chains[chains["attempt"] == 2]
    second_of = pd.Series(seconds.index, index=seconds["retry_of"].to_numpy())
    flagged_chains: list[int] = []
    for a_idx, aaaa_idx in zip(pairs["a"][one_lost].tolist(), pairs["aaaa"][one_lost].tolist(),
                               strict=True):
        lost, kept = (aaaa_idx, a_idx) if answered[position[a_idx]] else (a_idx, aaaa_idx)
        lost_tx, kept_tx = int(tx_of.loc[lost]), int(tx_of.loc[kept])
        if size.loc[lost] < 2 or lost_tx not in second_of.index:
            continue
        flagged_chains += [lost_tx, kept_tx]
        resend = partner.get(second_of.loc[lost_tx])
        if resend is not None and chains.loc[resend, "attempt"] == 1 \
                and chains.loc[resend, "retry_of"] != kept_tx:
            joining = chains["retry_of"] == chains.loc[resend, "retry_of"]
            chains.loc[joining, "attempt"] += int(size.loc[kept])
            chains.loc[resend, "delay"] = (chains.loc[resend, "t"] - chains.loc[kept, "t"]) / NS
            chains.loc[joining, "retry_of"] = kept_tx
    chains["glibc"] = chains["retry_of"].isin(flagged_chains)


def _finish(out: pd.DataFrame, chains: pd.DataFrame) -> pd.DataFrame:
    retries = chains.groupby("retry_of")["tx_id"].transform("size") - 1
    fallback = chains.groupby("retry_of")["tcp_fallback"].transform("any")
    pattern = np.where(chains["glibc"], "glibc_parallel_retry",
                       np.where(fallback, "tcp_fallback",
                                np.where(retries > 0, "resend", None)))
    out["attempt"] = pd.Series(chains["attempt"], dtype="Int64")
    out["retry_of"] = pd.Series(chains["retry_of"], dtype="Int64")
    out["retries"] = pd.Series(retries, dtype="Int64")
    out["retry_delay_s"] = chains["delay"]
    out["retry_pattern"] = pd.Series(pattern, index=chains.index, dtype="string")
    out["parallel_tx_id"] = chains["parallel_tx_id"]
    return out
