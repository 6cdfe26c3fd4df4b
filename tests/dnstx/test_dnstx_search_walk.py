"""The search-path walk on whole columns against the walk one link at a time (the
sequential reference below), on generated runs of tries."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapkit.dnstx import searchpath

SUFFIXES = {"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"}
_BASES = ["api.example.com", "web", "db"]
_NAMES = [*_BASES, *(f"{base}.{suffix}" for base in _BASES for suffix in sorted(SUFFIXES))]


def _sequential_walk(links: pd.DataFrame, position: pd.Series) -> pd.DataFrame:
    """The lookup rules of ``searchpath._walk_groups``, one link at a time."""
    links = links.assign(at=position.loc[links["i"]].to_numpy()).sort_values("at")
    labels: list = []
    groups: list[int] = []
    bases: list[str] = []
    suffixes: list[str | None] = []
    group, last_j, base, bare_seen, used = -1, None, "", False, set()
    for i, j, link_base, s_i, s_j in zip(
            links["i"].tolist(), links["j"].tolist(), links["base"].tolist(),
            links["suffix_i"].tolist(), links["suffix_j"].tolist(), strict=True):
        s_i = None if pd.isna(s_i) else s_i
        s_j = None if pd.isna(s_j) else s_j
        continuing = last_j == i and link_base == base and s_i is not None
        if not continuing and last_j == i:
            last_j = None
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


def _links(names: list[str], stepped: list[bool]) -> tuple[pd.DataFrame, pd.Series]:
    """The linked steps of tries ``names`` (one client, in time order) where ``stepped``
    says which try is followed by a search step, as find_search_paths finds them (no
    step: no links)."""
    labels = 1000 + 7 * np.arange(len(names))
    at = np.flatnonzero(np.array(stepped[:len(names) - 1], dtype=bool))
    if not len(at):
        return pd.DataFrame(), pd.Series(np.arange(len(labels)), index=labels)
    names = np.array(names, dtype=object)
    steps = pd.DataFrame({"i": labels[at], "j": labels[at + 1],
                          "name_i": pd.Series(names[at], dtype=object),
                          "name_j": pd.Series(names[at + 1], dtype=object)})
    step_names, pairs, pair_of_step = searchpath._name_pairs(steps)
    links = searchpath._step_links(steps, pairs, pair_of_step,
                                   searchpath._candidates(step_names, SUFFIXES))
    return links, pd.Series(np.arange(len(labels)), index=labels)


_TRY = st.tuples(st.sampled_from(_BASES[:2]), st.sampled_from([None, *sorted(SUFFIXES)]))
#: one name tried bare between its suffixes, again and again (lookups of it back to back)
_BARE_OFTEN = st.sampled_from(["web", "web", "web.cluster.local", "web.svc.cluster.local",
                               "web.shop.svc.cluster.local"])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.lists(st.sampled_from(_NAMES), min_size=2, max_size=40),
                 st.lists(_TRY.map(lambda t: t[0] if t[1] is None else f"{t[0]}.{t[1]}"),
                          min_size=2, max_size=40),
                 st.lists(_BARE_OFTEN, min_size=2, max_size=40)),
       st.lists(st.sampled_from([True, True, True, True, False]), min_size=40, max_size=40))
def test_the_walk_on_whole_columns_equals_the_walk_one_link_at_a_time(names, stepped):
    links, position = _links(names, stepped)
    if links.empty:
        return
    got = searchpath._walk_groups(links, position)
    pd.testing.assert_frame_equal(got, _sequential_walk(links, position), check_exact=True)


def test_a_run_that_starts_on_the_try_ending_the_run_before_leaves_it_out():
    """web's suffixes then web, then web's suffixes again: the second lookup starts after
    the bare try that ended the first, and a repeated suffix cuts the third."""
    names = ["web.shop.svc.cluster.local", "web.svc.cluster.local", "web",
             "web.shop.svc.cluster.local", "web.cluster.local", "web.cluster.local",
             "web"]
    links, position = _links(names, [True] * len(names))
    got = searchpath._walk_groups(links, position)
    assert got.index.tolist() == [1000, 1007, 1014, 1021, 1028, 1035, 1042]
    assert got["grp"].tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert got["suffix"].tolist()[:2] == ["shop.svc.cluster.local", "svc.cluster.local"]
    assert pd.isna(got["suffix"].iloc[2])
    pd.testing.assert_frame_equal(got, _sequential_walk(links, position), check_exact=True)


def test_whether_a_run_leaves_its_first_try_out_carries_along_a_chain_of_runs():
    """web.cluster.local, web, then web.svc.cluster.local and web again and again: each
    bare try ends one lookup, so every later lookup starts at its suffix try. Whether a run
    leaves its first try out depends on the run before, all the way down the chain."""
    names = ["web.cluster.local", "web"] + ["web.svc.cluster.local", "web"] * 6
    links, position = _links(names, [True] * len(names))
    got = searchpath._walk_groups(links, position)
    pd.testing.assert_frame_equal(got, _sequential_walk(links, position), check_exact=True)
    labels = 1000 + 7 * np.arange(len(names))
    assert got.index.tolist() == labels.tolist()
    assert got.groupby("grp").size().tolist() == [2] * 7
    assert got["suffix"].iloc[::2].tolist() == ["cluster.local"] + ["svc.cluster.local"] * 6
