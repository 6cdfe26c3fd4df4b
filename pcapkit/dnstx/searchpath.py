"""Recognise search-path expansion: one name tried with several search suffixes.

A pod's resolv.conf in Kubernetes says ``search <ns>.svc.cluster.local svc.cluster.local
cluster.local <node domains>`` and ``ndots:5``, so a lookup of ``api.example.com`` first
asks ``api.example.com.<ns>.svc.cluster.local``, ``api.example.com.svc.cluster.local``,
``api.example.com.cluster.local`` and so on, each answered NXDOMAIN, before the name itself.

Known suffixes: ``<ns>.svc.<domain>`` for every namespace of the cluster (without a cluster:
for every label seen right before ``.svc.<domain>`` in the captured names),
``svc.<domain>``, ``<domain>`` and the caller's ``search_domains``. Further (node-level)
suffixes are inferred from the data: when a try with a known suffix, or the bare name, got a
negative answer and the next try of the client is ``<base>.<something>``, ``<something>``
is a search suffix too.

A lookup is a run of first attempts (retries join their attempt 1) from one client address
with one qtype, in time order, where each try is ``<base>`` or ``<base>.<suffix>`` with a
known suffix, consecutive tries differ in suffix, every try but the last got a negative
answer (NXDOMAIN, NOERROR without answers, or SERVFAIL: glibc moves on after each) and was
followed by the next try within ``gap`` seconds of that answer. ``<base>`` itself usually
comes last (fewer dots than ``ndots``), but may come first (a name with enough dots is tried
as it is, then with the suffixes). A name asked once, on its own, is not called an
expansion: ``web.shop.svc.cluster.local`` may be the first search try of ``web`` or a fully
qualified name, the packets cannot tell.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pcapkit.dnstx.arrays import NS, plain_frame

_INFERENCE_ROUNDS = 3


def known_suffixes(names: pd.Series, cluster_domain: str, namespaces: list[str],
                   search_domains: list[str]) -> set[str]:
    """Suffixes from the cluster (or the names themselves) and the caller."""
    domain = cluster_domain.strip(".").lower()
    suffixes = {f"svc.{domain}", domain}
    suffixes.update(f"{ns.lower()}.svc.{domain}" for ns in namespaces)
    suffixes.update(d.strip(".").lower() for d in search_domains if d.strip("."))
    if not namespaces:
        labels = names.str.extract(rf"(?:^|\.)([^.]+)\.svc\.{re.escape(domain)}$")[0].dropna()
        suffixes.update(f"{label}.svc.{domain}" for label in labels.unique())
    return suffixes


def _candidates(names: np.ndarray, suffixes: set[str]) -> pd.DataFrame:
    """Every (name, base, suffix) split of the distinct names at a known suffix, plus
    (name, name, None) for the name itself."""
    rows_name: list[str] = []
    rows_base: list[str] = []
    rows_suffix: list[str | None] = []
    for name in names.tolist():
        rows_name.append(name)
        rows_base.append(name)
        rows_suffix.append(None)
        dot = name.find(".")
        while dot > 0:
            suffix = name[dot + 1:]
            if suffix in suffixes:
                rows_name.append(name)
                rows_base.append(name[:dot])
                rows_suffix.append(suffix)
            dot = name.find(".", dot + 1)
    return pd.DataFrame({"name": rows_name, "base": rows_base, "suffix": rows_suffix})


def _time_order(first: pd.DataFrame) -> np.ndarray:
    """Positions of ``first`` sorted by client, qtype and query time (stable; a missing
    client last)."""
    client, _ = pd.factorize(first["client"].to_numpy(dtype=object), sort=True)
    client = np.where(client < 0, client.max(initial=-1) + 1, client)
    return np.lexsort((first["query_t"].to_numpy(), first["qtype"].to_numpy(), client))


def _neighbours(first: pd.DataFrame, order: np.ndarray, gap: float) -> pd.DataFrame:
    """Consecutive first attempts (i, j=i+1) of one client and qtype that may be search steps;
    ``order`` is :func:`_time_order`'s."""
    client = first["client"].to_numpy(dtype=object)[order]
    qtype = first["qtype"].to_numpy()[order]
    same = (client[1:] == client[:-1]) & (qtype[1:] == qtype[:-1])
    status = first["final_status"].to_numpy(dtype=object)[order]
    ancount = first["ancount"].to_numpy(dtype=np.int64, na_value=0)[order]
    negative = (status == "nxdomain") | (status == "servfail") | (
        (status == "answered") & (ancount == 0))
    settled_at = first["final_response_t"].to_numpy()[order]
    start = first["query_t"].to_numpy()[order]
    soon = (start[1:] >= settled_at[:-1]) & (start[1:] - settled_at[:-1] <= int(gap * NS))
    ok = np.flatnonzero(same & negative[:-1] & (settled_at[:-1] >= 0) & soon)
    names = first["qname_lc"].to_numpy(dtype=object)[order]
    labels = first.index[order]
    return plain_frame({"i": labels[ok], "j": labels[ok + 1],
                        "name_i": names[ok], "name_j": names[ok + 1]})


def _links(pairs: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """For each pair of names (name_i, name_j) of a step, the base they share with different
    suffixes, at least one of them set: base, suffix_i, suffix_j, indexed by the pair's
    position in ``pairs``. A name's bases differ in length, so the longest is the link."""
    left = pairs.assign(pair=np.arange(len(pairs))).merge(candidates, left_on="name_i",
                                                          right_on="name")
    left = left.rename(columns={"suffix": "suffix_i"}).drop(columns="name")
    both = left.merge(candidates, left_on=["name_j", "base"], right_on=["name", "base"])
    both = both.rename(columns={"suffix": "suffix_j"}).drop(columns="name")
    both = both[both["suffix_i"].fillna("") != both["suffix_j"].fillna("")]
    both = both.assign(length=both["base"].str.len()).sort_values("length", ascending=False)
    both = both.drop_duplicates("pair")
    return both.set_index("pair")[["base", "suffix_i", "suffix_j"]]


def _infer_suffixes(pairs: pd.DataFrame, candidates: pd.DataFrame,
                    suffixes: set[str]) -> set[str]:
    """Suffixes of tries that follow a try of the same base: ``<base>.<known suffix>`` or
    ``<base>`` itself (a name with enough dots is tried as it is first). ``pairs``: the
    distinct (name_i, name_j) of the steps."""
    left = pairs.merge(candidates, left_on="name_i", right_on="name")
    prefix = left["base"] + "."
    follows = np.array([j.startswith(p) and len(j) > len(p)
                        for j, p in zip(left["name_j"].tolist(), prefix.tolist(), strict=True)],
                       dtype=bool)
    found = {j[len(p):] for j, p in zip(left["name_j"][follows].tolist(),
                                         prefix[follows].tolist(), strict=True)}
    return found - suffixes


def _name_pairs(steps: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """(the distinct names of the steps, the distinct (name_i, name_j) pairs, each step's
    pair): the suffix rules look at each pair of names once."""
    n = len(steps)
    codes, names = pd.factorize(np.concatenate([steps["name_i"].to_numpy(dtype=object),
                                                steps["name_j"].to_numpy(dtype=object)]))
    names = np.asarray(names, dtype=object)
    keys, pair_of_step = np.unique(codes[:n] * len(names) + codes[n:], return_inverse=True)
    pairs = plain_frame({"name_i": names[keys // len(names)], "name_j": names[keys % len(names)]})
    return names, pairs, pair_of_step.reshape(-1)


def find_search_paths(tx: pd.DataFrame, *, cluster_domain: str, namespaces: list[str],
                      search_domains: list[str], gap: float) -> pd.DataFrame:
    """search_* columns for ``tx`` (indexed like it).

    ``tx`` needs: tx_id, has_query, client, qtype, qname_lc, query_t, attempt, retry_of and
    per transaction the settled outcome of its retry chain: final_status, final_response_t,
    ancount.
    """
    columns = _default_columns(tx)
    first = tx.loc[(tx["has_query"] & (tx["attempt"] == 1) & (tx["qname_lc"] != "")
                    ).to_numpy(dtype=bool, na_value=False), _FIRST_COLUMNS]
    if len(first) < 2:
        return _frame(columns, tx.index)
    names = pd.Series(first["qname_lc"].unique())
    suffixes = known_suffixes(names, cluster_domain, namespaces, search_domains)
    order = _time_order(first)
    steps = _neighbours(first, order, gap)
    if steps.empty:
        return _frame(columns, tx.index)
    step_names, pairs, pair_of_step = _name_pairs(steps)
    for _ in range(_INFERENCE_ROUNDS):
        candidates = _candidates(step_names, suffixes)
        extra = _infer_suffixes(pairs, candidates, suffixes)
        if not extra:
            break
        suffixes |= extra
    links = _step_links(steps, pairs, pair_of_step, _candidates(step_names, suffixes))
    if len(links):
        _apply_links(columns, tx, first, order, links)
    return _frame(columns, tx.index)


def _step_links(steps: pd.DataFrame, pairs: pd.DataFrame, pair_of_step: np.ndarray,
                candidates: pd.DataFrame) -> pd.DataFrame:
    """The linked steps: i, j, and their pair of names' base, suffix_i, suffix_j."""
    links = _links(pairs, candidates)
    at = links.index.get_indexer(pair_of_step)
    linked = at >= 0
    return plain_frame({"i": steps["i"].to_numpy()[linked], "j": steps["j"].to_numpy()[linked],
                        **{c: links[c].to_numpy(dtype=object)[at[linked]]
                           for c in ("base", "suffix_i", "suffix_j")}})


_FIRST_COLUMNS = ["client", "qtype", "qname_lc", "query_t", "final_status", "final_response_t",
                  "ancount"]


def _default_columns(tx: pd.DataFrame) -> dict[str, np.ndarray]:
    """The search columns of transactions that are no search step: their own group, base
    the name itself, position 1."""
    base = tx["qname_lc"].to_numpy(dtype=object).copy()
    base[base == ""] = None
    return {"search_group": tx["tx_id"].to_numpy(dtype=np.int64).copy(),
            "search_base": base,
            "search_suffix": np.full(len(tx), None, dtype=object),
            "search_expansion": np.zeros(len(tx), dtype=bool),
            "search_position": np.ones(len(tx), dtype=np.int64),
            "search_nxdomains": np.zeros(len(tx), dtype=np.int64)}


def _frame(columns: dict[str, np.ndarray], index: pd.Index) -> pd.DataFrame:
    """The search columns as the table's dtypes."""
    def ints(values: np.ndarray) -> pd.arrays.IntegerArray:
        return pd.arrays.IntegerArray(values, np.zeros(len(values), dtype=bool))
    return pd.DataFrame({
        "search_group": ints(columns["search_group"]),
        "search_base": pd.array(columns["search_base"], dtype="string"),
        "search_suffix": pd.array(columns["search_suffix"], dtype="string"),
        "search_expansion": columns["search_expansion"],
        "search_position": ints(columns["search_position"]),
        "search_nxdomains": ints(columns["search_nxdomains"]),
    }, index=index)


def _walk_groups(links: pd.DataFrame, position: pd.Series) -> pd.DataFrame:
    """Members of each lookup, walking the links in time order.

    A lookup tries the bare name once, first or last, and each suffix once: a link that
    would try the bare name a second time, reuse a suffix or go on after the bare name
    ended a suffixes-first lookup starts a new lookup instead. Returns one row per member:
    label, grp, base, suffix.

    The walk, on whole columns: links that go on from the one before (the next try, the
    same base, i tried with a suffix) form runs, and a run's tries are cut into lookups
    where a suffix comes back (each lookup the longest stretch of distinct suffixes). A
    run that starts on the try that ended the run before leaves that try out; whether it
    did depends on how the run before ended, a chain across runs resolved by doubling.
    """
    at = position.loc[links["i"]].to_numpy()
    order = np.argsort(at, kind="stable")
    at = at[order]
    n = len(at)
    if n == 0:
        return pd.DataFrame({"grp": [], "base": [], "suffix": []}, index=[])
    i, j = links["i"].to_numpy()[order], links["j"].to_numpy()[order]
    base = links["base"].to_numpy(dtype=object)[order]
    s_i, s_j = (_nones(links[c].to_numpy(dtype=object)[order]) for c in ("suffix_i", "suffix_j"))
    adjacent = np.r_[False, at[1:] == at[:-1] + 1]
    goes_on = adjacent & np.r_[False, base[1:] == base[:-1]] & pd.notna(s_i)
    first = np.flatnonzero(~goes_on)
    length = np.diff(np.r_[first, n])  # links per run; a run has length + 1 tries

    # The tries of every run, run after run: try 0 is i of its first link, try m the j
    # of its link m.
    tries = int((length + 1).sum())
    offset = first + np.arange(len(first))
    run = np.repeat(np.arange(len(first)), length + 1)
    local = np.arange(tries) - offset[run]
    link = first[run] + np.maximum(local - 1, 0)
    label = np.where(local == 0, i[link], j[link])
    suffix = np.where(local == 0, s_i[link], s_j[link])
    last = offset + length  # each run's last try

    # nxt[t]: where a lookup starting at try t is cut, the first try repeating a suffix
    # after it in its run (``tries``: none).
    codes, _ = pd.factorize(suffix)
    by_value = np.lexsort((np.arange(tries), codes, run))
    same = np.r_[(run[by_value][1:] == run[by_value][:-1])
                 & (codes[by_value][1:] == codes[by_value][:-1]), False]
    again = np.full(tries, tries, dtype=np.int64)  # the next try with the same suffix
    again[by_value[same]] = by_value[np.flatnonzero(same) + 1]
    nxt = np.minimum.accumulate(again[::-1])[::-1]
    nxt = np.append(np.where(nxt > last[run], tries, nxt), tries)

    def cuts(starts: np.ndarray) -> np.ndarray:
        """Every try where a lookup starts, from the tries ``starts`` on (doubling)."""
        mark = np.zeros(tries + 1, dtype=bool)
        mark[starts] = True
        jump = nxt
        while (jump[:tries] < tries).any():
            mark[jump[np.flatnonzero(mark)]] = True
            jump = jump[jump]
        mark[jump[np.flatnonzero(mark)]] = True
        return mark[:tries]

    from_first, from_second = cuts(offset), cuts(offset + 1)
    # A run leaves its first try out when that try ended the run before: the run before
    # is adjacent and added its last try, which depends on whether it left its own out.
    ended = [~from_first[last], ~from_second[last]]
    link_on = adjacent[first]
    when_kept = np.r_[False, link_on[1:] & ended[0][:-1]]
    when_left = np.r_[False, link_on[1:] & ended[1][:-1]]
    step = 1
    while step < len(first):
        earlier_kept, earlier_left = when_kept[:-step], when_left[:-step]
        when_kept, when_left = (
            np.r_[when_kept[:step], np.where(earlier_kept, when_left[step:], when_kept[step:])],
            np.r_[when_left[:step], np.where(earlier_left, when_left[step:], when_kept[step:])])
        step *= 2
    leaves_out = when_kept[run]  # the first run's start is known: every chain starts there

    cut = np.where(leaves_out, from_second, from_first)
    begin = leaves_out.astype(np.int64)
    member = (local >= begin) & ~(cut & (local == length[run]))
    starts_group = cut & (local >= begin) & (local < length[run])
    group = np.cumsum(starts_group) - 1
    members = pd.DataFrame({"grp": group[member], "base": base[first[run]][member],
                            "suffix": suffix[member]}, index=label[member])
    return members[members.groupby("grp")["base"].transform("size") > 1]


def _nones(values: np.ndarray) -> np.ndarray:
    """An object array with None for every missing value."""
    values = values.copy()
    values[pd.isna(values)] = None
    return values


def _apply_links(columns: dict[str, np.ndarray], tx: pd.DataFrame, first: pd.DataFrame,
                 order: np.ndarray, links: pd.DataFrame) -> None:
    """Turn linked steps into lookups and write them into the search ``columns``."""
    members = _walk_groups(links, pd.Series(np.arange(len(order)), index=first.index[order]))
    if members.empty:
        return
    tx_ids = tx["tx_id"].to_numpy(dtype=np.int64)
    member_tx = tx_ids[tx.index.get_indexer(members.index)]
    group = members["grp"].to_numpy()
    by_group = np.argsort(group, kind="stable")
    new = np.r_[True, group[by_group][1:] != group[by_group][:-1]]
    starts = np.flatnonzero(new)[np.cumsum(new) - 1]
    first_tx, position = np.empty_like(member_tx), np.empty(len(group), dtype=np.int64)
    first_tx[by_group] = member_tx[by_group][starts]
    position[by_group] = np.arange(len(group)) - starts + 1

    # Retries of a try belong to the same group as their attempt 1.
    chain_first = tx["retry_of"].to_numpy(dtype=np.int64, na_value=-1)
    at = pd.Index(member_tx).get_indexer(chain_first)
    rows = np.flatnonzero((at >= 0) & tx["has_query"].to_numpy(dtype=bool))
    at = at[rows]
    suffix = members["suffix"].to_numpy(dtype=object)
    columns["search_group"][rows] = first_tx[at]
    columns["search_base"][rows] = members["base"].to_numpy(dtype=object)[at]
    columns["search_suffix"][rows] = suffix[at]
    columns["search_expansion"][rows] = pd.notna(suffix)[at]
    columns["search_position"][rows] = position[at]
    nx = columns["search_expansion"] & (tx["reply_status"].to_numpy(dtype=object) == "nxdomain")
    group_of, _ = pd.factorize(columns["search_group"])
    cost = np.bincount(group_of, weights=nx).astype(np.int64)[group_of]
    columns["search_nxdomains"][rows] = cost[rows]
