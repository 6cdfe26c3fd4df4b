"""glibc's A+AAAA linking, applied to all pairs at once, against the rules applied one pair
at a time (the sequential reference below), on generated query streams."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapkit.dnstx import retries
from pcapkit.dnstx.arrays import NS, null_ints

MS = 1_000_000


def _sequential_link(chains: pd.DataFrame, q: pd.DataFrame, parallel_window: float) -> None:
    """The rules of ``retries._link_glibc_pairs`` one pair at a time, with pandas."""
    pairs = retries._parallel_pairs(q, chains, parallel_window)
    chains["parallel_tx_id"] = null_ints(len(chains))
    chains["glibc"] = False
    if pairs.empty:
        return
    tx_of = chains["tx_id"]
    chains.loc[pairs["a"].to_numpy(), "parallel_tx_id"] = tx_of.loc[pairs["aaaa"]].to_numpy()
    chains.loc[pairs["aaaa"].to_numpy(), "parallel_tx_id"] = tx_of.loc[pairs["a"]].to_numpy()
    answered = (q["response_t"] >= 0).to_numpy()
    position = pd.Series(np.arange(len(chains)), index=chains.index)
    attempt = chains["attempt"].to_numpy()
    size = chains.groupby("retry_of")["tx_id"].transform("size")
    partner = dict(zip(pairs["a"], pairs["aaaa"], strict=True))
    partner.update(zip(pairs["aaaa"], pairs["a"], strict=True))
    seconds = chains[chains["attempt"] == 2]
    second_of = pd.Series(seconds.index, index=seconds["retry_of"].to_numpy())
    flagged: list[int] = []
    for a_idx, aaaa_idx in zip(pairs["a"].tolist(), pairs["aaaa"].tolist(), strict=True):
        a_at, aaaa_at = position[a_idx], position[aaaa_idx]
        if attempt[a_at] != 1 or attempt[aaaa_at] != 1 or answered[a_at] == answered[aaaa_at]:
            continue
        lost, kept = (aaaa_idx, a_idx) if answered[a_at] else (a_idx, aaaa_idx)
        lost_tx, kept_tx = int(tx_of.loc[lost]), int(tx_of.loc[kept])
        if size.loc[lost] < 2 or lost_tx not in second_of.index:
            continue
        flagged += [lost_tx, kept_tx]
        resend = partner.get(second_of.loc[lost_tx])
        if resend is not None and chains.loc[resend, "attempt"] == 1 \
                and chains.loc[resend, "retry_of"] != kept_tx:
            joining = chains["retry_of"] == chains.loc[resend, "retry_of"]
            chains.loc[joining, "attempt"] += int(size.loc[kept])
            chains.loc[resend, "delay"] = (chains.loc[resend, "t"] - chains.loc[kept, "t"]) / NS
            chains.loc[joining, "retry_of"] = kept_tx
    chains["glibc"] = chains["retry_of"].isin(flagged)


_LOOKUP = st.tuples(st.integers(0, 1), st.integers(0, 2), st.integers(0, 1), st.integers(0, 1),
                    st.integers(0, 100), st.sampled_from(["none", "A", "AAAA"]),
                    st.sampled_from(["none", "lost", "both"]), st.booleans(),
                    st.sampled_from(["answered", "servfail", None]), st.integers(40, 160),
                    st.sampled_from([0, 60, 200]))


def _rows(lookups: list[tuple]) -> list[tuple]:
    """Queries (client, port, server, name, qtype, time and reply latency in 50 ms steps,
    reply) of glibc-like lookups: A and AAAA sent together from one socket, one of them
    maybe lost, the other answered (maybe late: after the re-sends), then the lost one (or
    both) sent again, from the same socket or the next port."""
    rows = []
    for client, port, server, name, start, lost, resend, same_port, again, delay, late \
            in lookups:
        for qtype in ("A", "AAAA"):
            rows.append((client, port, server, name, qtype, start, late,
                         None if qtype == lost else "answered"))
        if lost == "none" or resend == "none":
            continue
        again_port = port if same_port else port + 1
        for qtype in ("A", "AAAA") if resend == "both" else (lost,):
            rows.append((client, again_port, server, name, qtype, start + delay, 0, again))
    return rows


def _queries(rows: list[tuple]) -> pd.DataFrame:
    """The retry stage's input for ``rows``, in time order as the pairing stage gives it."""
    rows = sorted(rows, key=lambda r: r[5])
    t = np.array([r[5] for r in rows], dtype=np.int64) * 50 * MS
    latency = np.array([r[6] for r in rows], dtype=np.int64) * 50 * MS + 2 * MS
    status = np.array([r[7] for r in rows], dtype=object)
    return pd.DataFrame({
        "tx_id": np.arange(len(rows), dtype=np.int64),
        "has_query": np.ones(len(rows), dtype=bool),
        "client": pd.Series([f"10.0.0.{r[0]}" for r in rows], dtype=object),
        "client_port": np.array([40000 + r[1] for r in rows], dtype=np.int64),
        "server": pd.Series([f"10.96.0.{10 + r[2]}" for r in rows], dtype=object),
        "server_port": np.full(len(rows), 53, dtype=np.int64),
        "transport": pd.Series(["udp"] * len(rows), dtype=object),
        "qname_lc": pd.Series([f"n{r[3]}.example" for r in rows], dtype=object),
        "qtype": np.array([1 if r[4] == "A" else 28 for r in rows], dtype=np.int64),
        "qtype_name": pd.Series([r[4] for r in rows], dtype=object),
        "query_t": t,
        "response_t": np.where(status == None, -1, t + latency),  # noqa: E711
        "reply_status": pd.Series(status, dtype=object),
    })


@settings(max_examples=120, deadline=None)
@given(st.lists(_LOOKUP, min_size=1, max_size=8), st.booleans(), st.sampled_from([0.1, 0.5]))
def test_all_pairs_at_once_equal_one_pair_at_a_time(lookups, any_server, parallel_window):
    tx = _queries(_rows(lookups))
    options = {"window": 10.0, "any_server": any_server, "parallel_window": parallel_window}
    got = retries.find_retries(tx, **options)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(retries, "_link_glibc_pairs", _sequential_link)
        want = retries.find_retries(tx, **options)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_a_generated_lookup_reaches_the_glibc_join():
    """glibc re-sends both queries of a lookup: the answered one's re-send joins its chain,
    so the lookups above reach the join and not only the flag."""
    lookup = (0, 0, 0, 0, 0, "AAAA", "both", True, "answered", 100, 0)
    got = retries.find_retries(_queries(_rows([lookup])), window=10.0, any_server=False,
                               parallel_window=0.1)
    assert got["attempt"].tolist() == [1, 1, 2, 2]
    assert got["retry_of"].tolist() == [0, 1, 0, 1]
    assert set(got["retry_pattern"]) == {"glibc_parallel_retry"}
