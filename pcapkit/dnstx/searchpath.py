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

from pcapkit.dnstx.arrays import NS, null_strings

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


def _neighbours(first: pd.DataFrame, gap: float) -> pd.DataFrame:
    """Consecutive first attempts (i, j=i+1) of one client and qtype that may be search steps."""
    order = first.sort_values(["client", "qtype", "query_t"], kind="stable")
    client = order["client"].to_numpy(dtype=object)
    qtype = order["qtype"].to_numpy()
    same = (client[1:] == client[:-1]) & (qtype[1:] == qtype[:-1])
    status = order["final_status"].to_numpy(dtype=object)
    ancount = order["ancount"].to_numpy(dtype=np.int64, na_value=0)
    negative = (status == "nxdomain") | (status == "servfail") | (
        (status == "answered") & (ancount == 0))
    settled_at = order["final_response_t"].to_numpy()
    start = order["query_t"].to_numpy()
    soon = (start[1:] >= settled_at[:-1]) & (start[1:] - settled_at[:-1] <= int(gap * NS))
    ok = np.flatnonzero(same & negative[:-1] & (settled_at[:-1] >= 0) & soon)
    names = order["qname_lc"].to_numpy(dtype=object)
    return pd.DataFrame({"i": order.index[ok], "j": order.index[ok + 1],
                         "name_i": names[ok], "name_j": names[ok + 1]})


def _links(steps: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """Steps (i, j) sharing a base with different suffixes, at least one of them set."""
    left = steps.merge(candidates, left_on="name_i", right_on="name")
    left = left.rename(columns={"suffix": "suffix_i"}).drop(columns="name")
    both = left.merge(candidates, left_on=["name_j", "base"], right_on=["name", "base"])
    both = both.rename(columns={"suffix": "suffix_j"}).drop(columns="name")
    both = both[both["suffix_i"].fillna("") != both["suffix_j"].fillna("")]
    both = both.assign(length=both["base"].str.len()).sort_values("length", ascending=False)
    return both.drop_duplicates("i")


def _infer_suffixes(steps: pd.DataFrame, candidates: pd.DataFrame,
                    suffixes: set[str]) -> set[str]:
    """Suffixes of tries that follow a try of the same base: ``<base>.<known suffix>`` or
    ``<base>`` itself (a name with enough dots is tried as it is first)."""
    left = steps.merge(candidates, left_on="name_i", right_on="name")
    prefix = left["base"] + "."
    follows = np.array([j.startswith(p) and len(j) > len(p)
                        for j, p in zip(left["name_j"].tolist(), prefix.tolist(), strict=True)],
                       dtype=bool)
    found = {j[len(p):] for j, p in zip(left["name_j"][follows].tolist(),
                                         prefix[follows].tolist(), strict=True)}
    return found - suffixes


def find_search_paths(tx: pd.DataFrame, *, cluster_domain: str, namespaces: list[str],
                      search_domains: list[str], gap: float) -> pd.DataFrame:
    """search_* columns for ``tx`` (indexed like it).

    ``tx`` needs: tx_id, has_query, client, qtype, qname_lc, query_t, attempt, retry_of and
    per transaction the settled outcome of its retry chain: final_status, final_response_t,
    ancount.
    """
    out = pd.DataFrame(index=tx.index)
    out["search_group"] = pd.array(tx["tx_id"].to_numpy(), dtype="Int64")
    out["search_base"] = pd.array(tx["qname_lc"].replace("", None).to_numpy(dtype=object),
                                  dtype="string")
    out["search_suffix"] = null_strings(len(tx))
    out["search_expansion"] = np.zeros(len(tx), dtype=bool)
    out["search_position"] = pd.array(np.ones(len(tx), dtype=np.int64), dtype="Int64")
    out["search_nxdomains"] = pd.array(np.zeros(len(tx), dtype=np.int64), dtype="Int64")
    first = tx[tx["has_query"] & (tx["attempt"] == 1) & (tx["qname_lc"] != "")]
    if len(first) < 2:
        return out
    names = pd.Series(first["qname_lc"].unique())
    suffixes = known_suffixes(names, cluster_domain, namespaces, search_domains)
    steps = _neighbours(first, gap)
    if steps.empty:
        return out
    step_names = pd.unique(np.concatenate([steps["name_i"].to_numpy(dtype=object),
                                           steps["name_j"].to_numpy(dtype=object)]))
    for _ in range(_INFERENCE_ROUNDS):
        candidates = _candidates(step_names, suffixes)
        extra = _infer_suffixes(steps, candidates, suffixes)
        if not extra:
            break
        suffixes |= extra
    candidates = _candidates(step_names, suffixes)
    links = _links(steps, candidates)
    if links.empty:
        return out
    _apply_links(out, tx, first, links)
    return out


def _walk_groups(links: pd.DataFrame, position: pd.Series) -> pd.DataFrame:
    """Members of each lookup, walking the links in time order.

    A lookup tries the bare name once, first or last, and each suffix once: a link that
    would try the bare name a second time, reuse a suffix or go on after the bare name
    ended a suffixes-first lookup starts a new lookup instead. Returns one row per member:
    label, grp, base, suffix.
    """
    links = links.assign(at=position.loc[links["i"]].to_numpy()).sort_values("at")
    labels: list = []
    groups: list[int] = []
    bases: list[str] = []
    suffixes: list[str | None] = []
    group = -1
    last_j = None
    base = ""
    bare_seen = False
    used: set[str | None] = set()
    for i, j, link_base, s_i, s_j in zip(
            links["i"].tolist(), links["j"].tolist(), links["base"].tolist(),
            links["suffix_i"].tolist(), links["suffix_j"].tolist(), strict=True):
        s_i = None if pd.isna(s_i) else s_i
        s_j = None if pd.isna(s_j) else s_j
        continuing = last_j == i and link_base == base and s_i is not None
        if not continuing and last_j == i:
            last_j = None  # i already ended the previous lookup: it cannot start one too
            continue
        if not continuing:
            group += 1
            base, bare_seen, used = link_base, s_i is None, {s_i}
            labels.append(i)
            groups.append(group)
            bases.append(base)
            suffixes.append(s_i)
        if (s_j is None and bare_seen) or s_j in used:
            last_j = None
            continue
        bare_seen |= s_j is None
        used.add(s_j)
        labels.append(j)
        groups.append(group)
        bases.append(base)
        suffixes.append(s_j)
        last_j = j
    members = pd.DataFrame({"grp": groups, "base": bases, "suffix": suffixes}, index=labels)
    return members[members.groupby("grp")["base"].transform("size") > 1]


def _apply_links(out: pd.DataFrame, tx: pd.DataFrame, first: pd.DataFrame,
                 links: pd.DataFrame) -> None:
    """Turn linked steps into lookups and write the search columns."""
    order = first.sort_values(["client", "qtype", "query_t"], kind="stable").index
    position = pd.Series(np.arange(len(order)), index=order)
    members = _walk_groups(links, position)
    if members.empty:
        return
    members["tx_id"] = tx.loc[members.index, "tx_id"].to_numpy()
    members["first_tx"] = members.groupby("grp")["tx_id"].transform("first")
    members["position"] = members.groupby("grp").cumcount() + 1

    # Retries of a try belong to the same group as their attempt 1.
    by_first = members.set_index("tx_id")
    chain_first = tx["retry_of"].astype("Int64")
    belongs = chain_first.isin(by_first.index) & tx["has_query"]
    rows = tx.index[belongs.to_numpy(dtype=bool, na_value=False)]
    first_tx = chain_first.loc[rows].to_numpy(dtype=np.int64)
    out.loc[rows, "search_group"] = by_first.loc[first_tx, "first_tx"].to_numpy()
    out.loc[rows, "search_base"] = by_first.loc[first_tx, "base"].to_numpy()
    out.loc[rows, "search_suffix"] = by_first.loc[first_tx, "suffix"].to_numpy()
    out.loc[rows, "search_expansion"] = by_first.loc[first_tx, "suffix"].notna().to_numpy()
    out.loc[rows, "search_position"] = by_first.loc[first_tx, "position"].to_numpy()
    nx = out["search_expansion"] & (tx["reply_status"] == "nxdomain").to_numpy()
    cost = nx.groupby(out["search_group"]).transform("sum")
    out.loc[rows, "search_nxdomains"] = cost.loc[rows].to_numpy()
