"""Pair DNS queries with their responses.

A response answers a query when both travel between the same client address/port and
server address/port over the same transport, carry the same DNS id and the same question
(qname compared case-insensitively, because resolvers may randomise case, and qtype), and
the response comes after the query within ``timeout`` seconds.

When the same query is sent again with the same id (glibc re-sends the identical packet),
the response is given to the *latest* query before it: the one that was answered, while the
earlier copy is the one that got lost. (Zeek's dns.log pairs first-in-first-out instead; for
the lost-packet cases pcapkit looks for, the latest query is the one the server saw.) A
second response to the same query is counted in ``duplicate_responses``, not turned into a
row. A response whose query is missing (capture started late, or the query was never seen)
becomes a ``response_only`` row. A response without a question section (some FORMERR and
SERVFAIL answers) falls back to matching on addresses, ports, transport and id alone.

Everything is vectorised: messages are sorted by (pairing key, time, query-before-response)
and each response looks back to the last query of its key with a running maximum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pcapkit.column_arrays import labels_at, per_row
from pcapkit.dnstx.arrays import group_codes, plain_frame, seconds_to_ns


def orient(messages: pd.DataFrame) -> pd.DataFrame:
    """Client/server view of every message: a response's client is its destination."""
    is_resp = messages["qr"].to_numpy(dtype=bool, na_value=False)
    src, dst = labels_at(messages["src"]), labels_at(messages["dst"])
    sport = messages["sport"].to_numpy(dtype=np.int64, na_value=-1)
    dport = messages["dport"].to_numpy(dtype=np.int64, na_value=-1)
    qname = messages["qname"].astype("string")
    return plain_frame({
        "is_resp": is_resp,
        "client": np.where(is_resp, dst, src),
        "client_port": np.where(is_resp, dport, sport),
        "server": np.where(is_resp, src, dst),
        "server_port": np.where(is_resp, sport, dport),
        "transport": labels_at(messages["transport"]) if "transport" in messages.columns
        else np.full(len(messages), "udp", dtype=object),
        "dns_id": messages["dns_id"].to_numpy(dtype=np.int64, na_value=-1),
        "qname_lc": _lowercase(qname),
        "qtype": messages["qtype"].to_numpy(dtype=np.int64, na_value=-1)
        if "qtype" in messages.columns else np.full(len(messages), -1, dtype=np.int64),
        "t": messages["t"].to_numpy(dtype=np.int64),
        "has_question": qname.notna().to_numpy(dtype=bool),
        "usable": messages["qr"].notna().to_numpy() & (
            messages["dns_id"].notna().to_numpy()),
    })


def _lowercase(qname: pd.Series) -> np.ndarray:
    """The names in lower case ("" for none) as an object array: each distinct name is
    lowered once and its rows share the text (so later hashing of the column is cheap)."""
    codes, names = pd.factorize(qname)
    lowered = pd.Series(names, dtype="string").str.lower().to_numpy(dtype=object)
    return per_row(codes, lowered, "")


_ADDRESS_KEY = ["client", "client_port", "server", "server_port", "transport", "dns_id"]
_FULL_KEY = [*_ADDRESS_KEY, "qname_lc", "qtype"]


def _latest_queries(messages: pd.DataFrame, key_columns: list[str],
                    limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort messages by (key, time, query before response) and look back from each one to the
    latest query at or before it: ``(order, last_query, matched)``, the last two per sorted
    position; ``last_query`` is -1 before any query, ``matched`` marks responses whose latest
    query has their key and is at most ``limit`` ns older."""
    key = group_codes(messages, key_columns)
    t = messages["t"].to_numpy()
    is_resp = messages["is_resp"].to_numpy()
    order = np.lexsort((is_resp, t, key))
    key, t, is_resp = key[order], t[order], is_resp[order]
    pos = np.arange(len(order))
    last_query = np.maximum.accumulate(np.where(is_resp, -1, pos)) if len(order) else pos
    safe = np.maximum(last_query, 0)
    matched = is_resp & (last_query >= 0) & (key[safe] == key) & (t - t[safe] <= limit)
    return order, last_query, matched


def pair_messages(view: pd.DataFrame, timeout: float) -> pd.DataFrame:
    """Transactions as message positions: columns ``q`` and ``r`` (-1 when absent) and
    ``duplicates`` (further responses to the same query).

    One row per usable query and one per response that answers no query. ``view`` comes
    from :func:`orient`.
    """
    limit = seconds_to_ns(timeout)
    usable = np.flatnonzero(view["usable"].to_numpy())
    part = view.iloc[usable]
    order, last_query, matched = _latest_queries(part, _FULL_KEY, limit)
    is_resp = part["is_resp"].to_numpy()[order]
    n = len(order)
    pos = np.arange(n)
    first_answer = matched & (last_query == pos - 1)
    duplicate = matched & ~first_answer

    response_of = np.full(n, -1, dtype=np.int64)
    response_of[last_query[first_answer]] = pos[first_answer]
    duplicates = np.bincount(last_query[duplicate], minlength=n) if n else np.zeros(0, np.int64)

    orphan = is_resp & ~matched
    if orphan.any():
        _match_questionless(part, order, orphan, response_of, limit)
        taken = np.zeros(n, dtype=bool)
        taken[response_of[response_of >= 0]] = True
        orphan &= ~taken

    queries = np.flatnonzero(~is_resp)
    q_rows = usable[order[queries]]
    r_pos = response_of[queries]
    r_rows = np.where(r_pos >= 0, usable[order[np.maximum(r_pos, 0)]], -1)
    orphans = np.flatnonzero(orphan)
    return pd.DataFrame({
        "q": np.concatenate([q_rows, np.full(len(orphans), -1, dtype=np.int64)]),
        "r": np.concatenate([r_rows, usable[order[orphans]]]),
        "duplicates": np.concatenate([duplicates[queries], np.zeros(len(orphans), np.int64)]),
    })


def _match_questionless(part: pd.DataFrame, order: np.ndarray, orphan: np.ndarray,
                        response_of: np.ndarray, limit: int) -> None:
    """Give responses without a question to the latest unanswered query of the same
    addresses, ports, transport and id (updates ``response_of`` in place)."""
    sorted_part = part.iloc[order].reset_index(drop=True)
    no_question = orphan & ~sorted_part["has_question"].to_numpy()
    if not no_question.any():
        return
    open_query = ~sorted_part["is_resp"].to_numpy() & (response_of < 0)
    candidates = np.flatnonzero(open_query | no_question)
    local, last_query, hit = _latest_queries(sorted_part.iloc[candidates], _ADDRESS_KEY, limit)
    responses, queries = np.flatnonzero(hit), last_query[hit]
    _, first = np.unique(queries, return_index=True)  # each query keeps its first response
    response_of[candidates[local[queries[first]]]] = candidates[local[responses[first]]]
