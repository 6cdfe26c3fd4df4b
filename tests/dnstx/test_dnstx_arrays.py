"""The DNS stage's array helpers against plain Python versions of what they compute."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapkit.dnstx.arrays import (
    as_column,
    categorical_of,
    compact_categorical,
    group_codes,
    joined_labels,
    plain_frame,
    positions_of,
)

_NODES = st.sampled_from(["node2", "node10", "node1", "unknown", "n\u00e9", "a,b"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), _NODES), max_size=40), st.integers(0, 3))
def test_joined_labels_is_each_groups_sorted_distinct_labels(rows, spare):
    n_groups = max((g for g, _ in rows), default=-1) + 1 + spare
    groups = np.array([g for g, _ in rows], dtype=np.int64)
    labels = np.array([label for _, label in rows], dtype=object)
    got = joined_labels(groups, labels, n_groups)
    want = [",".join(sorted({label for g, label in rows if g == group})) or None
            for group in range(n_groups)]
    assert got.dtype == object
    assert got.tolist() == want


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(-5, 60), max_size=30), st.lists(st.integers(-8, 64), max_size=30),
       st.booleans())
def test_positions_of_finds_each_key_or_minus_one(keys, wanted, shuffled):
    keys = np.array(sorted(keys), dtype=np.int64)
    if shuffled:
        keys = keys[::-1].copy()
    wanted = np.array(wanted, dtype=np.int64)
    got = positions_of(keys, wanted)
    position = {int(k): i for i, k in enumerate(keys)}
    assert got.tolist() == [position.get(int(w), -1) for w in wanted]


def test_positions_of_refuses_repeated_keys_like_an_index():
    with pytest.raises(pd.errors.InvalidIndexError):
        positions_of(np.array([1, 2, 2, 3], dtype=np.int64), np.array([2]))


def test_plain_frame_keeps_text_as_object_and_other_arrays_as_they_are():
    text = np.array(["10.0.0.1", None, "10.0.0.2"], dtype=object)
    frame = plain_frame({"client": text, "port": np.array([53, 54, 55]),
                         "flag": pd.array([True, None, False], dtype="boolean")})
    assert frame["client"].dtype == object
    assert frame["client"].tolist() == ["10.0.0.1", None, "10.0.0.2"]
    assert frame["port"].dtype == np.int64 and frame["flag"].dtype == "boolean"
    index = pd.Index([7, 8, 9])
    column = as_column(text, index)
    assert column.dtype == object and column.index.equals(index)
    assert as_column(np.array([1, 2]), index).dtype == np.int64


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["10.0.0.1", "10.0.0.2", None]), st.integers(0, 2),
                          st.sampled_from(["a.example", "", "b.example"])), max_size=30))
def test_group_codes_number_combinations_as_groupby_does(rows):
    frame = pd.DataFrame({"client": pd.Series([r[0] for r in rows], dtype=object),
                          "qtype": np.array([r[1] for r in rows], dtype=np.int64),
                          "qname": pd.Series([r[2] for r in rows], dtype="string")})
    columns = ["client", "qtype", "qname"]
    want = frame.groupby(columns, sort=False, dropna=False).ngroup().to_numpy(dtype=np.int64)
    got = group_codes(frame, columns)
    assert got.dtype == np.int64
    assert got.tolist() == want.tolist()


_LABELS = st.sampled_from(["10.0.0.2", "10.0.0.10", "eth0", "", "z\u00e9", "A"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), _LABELS), max_size=30))
def test_categorical_of_is_pandas_categorical_of_the_values(values):
    values = np.array(values, dtype=object)
    want = pd.Series(pd.Categorical(values))
    pd.testing.assert_series_equal(pd.Series(categorical_of(values)), want, check_exact=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-1, 5), max_size=30),
       st.sampled_from([["b", "a", "c", "a0", "", "B"], [3, 1, 2, 10, 0, 7]]))
def test_compact_categorical_is_pandas_categorical_of_the_labels_at_the_codes(codes, labels):
    codes = np.array(codes, dtype=np.int64)
    labels = np.array(labels, dtype=object)
    want = pd.Series(pd.Categorical(np.append(labels, None)[codes]))
    got = pd.Series(compact_categorical(codes, labels))
    pd.testing.assert_series_equal(got, want, check_exact=True)
