"""pcapkit.column_arrays: column codes and packet times, one null rule each."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcapkit.column_arrays import (
    NAT_NS,
    codes_of,
    dense_factorize,
    labels_at,
    nullable,
    object_frame,
    packet_times_ns,
    per_row,
    shared_codes,
    sorted_unique,
    text_labels,
    times_ns,
    unique_inverse,
)
from pcapkit.errors import PcapkitError


@pytest.mark.parametrize("column", [
    pd.Series(pd.Categorical(["b", None, "a", "b"], categories=["a", "b", "c"])),
    pd.Series(["b", None, "a", "b"], dtype=object),
    pd.Series(["b", None, "a", "b"], dtype="string"),
])
def test_codes_of_gives_equal_values_one_code_and_nulls_minus_one(column):
    codes, labels = codes_of(column)
    assert codes.dtype == np.int64 and codes[1] == -1 and codes[0] == codes[3] != codes[2]
    assert [labels[c] for c in codes[[0, 2]]] == ["b", "a"]
    assert all(isinstance(label, str) for label in labels)
    assert labels_at(column).tolist() == ["b", None, "a", "b"]
    assert labels_at(column, np.array([2, 1])).tolist() == ["a", None]


def test_codes_of_numbers_label_them_as_text():
    codes, labels = codes_of(pd.Series(pd.array([4789, None, 8472], dtype="UInt32")))
    assert codes[1] == -1 and labels[codes[0]] == "4789" and labels[codes[2]] == "8472"


def test_per_row_spreads_one_answer_per_label():
    assert per_row(np.array([1, -1, 0]), np.array([10, 20]), -5).tolist() == [20, -5, 10]


def test_shared_codes_give_a_value_one_code_in_every_column():
    src = pd.Series(pd.Categorical(["10.0.0.1", "10.0.0.2"]))
    dst = pd.Series(pd.Categorical(["10.0.0.2", None, ], categories=["10.0.0.9", "10.0.0.2"]))
    (a, b), labels = shared_codes([src, dst])
    assert a[1] == b[0] and b[1] == -1
    assert labels[a].tolist() == ["10.0.0.1", "10.0.0.2"]


def test_packet_times_prefer_the_corrected_clock_and_fall_back_to_ts():
    ts = pd.to_datetime([1, 2, None], unit="s", utc=True)
    corrected = pd.to_datetime([11, None, None], unit="s", utc=True)
    table = pd.DataFrame({"ts": ts, "ts_corrected": corrected})
    assert packet_times_ns(table).tolist() == [11 * 10**9, 2 * 10**9, NAT_NS]
    assert packet_times_ns(table[["ts"]]).tolist() == [10**9, 2 * 10**9, NAT_NS]
    assert times_ns(table["ts_corrected"]).tolist() == [11 * 10**9, NAT_NS, NAT_NS]
    with pytest.raises(PcapkitError, match="'ts' or 'ts_corrected'"):
        packet_times_ns(pd.DataFrame({"src": ["10.0.0.1"]}))


def test_nullable_turns_negative_values_into_na():
    out = nullable(np.array([3, -1, 0]), "UInt16")
    assert str(out.dtype) == "UInt16" and out.tolist() == [3, pd.NA, 0]


@given(st.lists(st.integers(-5, 300), max_size=60), st.lists(st.integers(-3, 300), max_size=30))
def test_int_isin_is_numpy_isin(values: list[int], members: list[int]) -> None:
    from pcapkit.column_arrays import int_isin

    v, m = np.array(values, dtype=np.int64), np.array(members, dtype=np.int64)
    assert (int_isin(v, m) == np.isin(v, m)).all()
    # ids spread over a range far larger than the arrays (a share of a large incident),
    # and values at the ends of int64: the hash table
    spread = v * 1_000_003
    assert (int_isin(spread, m * 1_000_003) == np.isin(spread, m * 1_000_003)).all()
    edges = np.iinfo(np.int64)
    wide = np.append(v, [edges.min, edges.max])
    assert (int_isin(wide, np.append(m, edges.max)) ==
            np.isin(wide, np.append(m, edges.max))).all()


@given(st.lists(st.integers(0, 40), max_size=60), st.integers(0, 5000))
def test_dense_factorize_is_pd_factorize_of_small_non_negative_integers(values, extra):
    values = np.array(values, dtype=np.int64)
    size = (int(values.max()) + 1 if len(values) else 0) + extra  # large: pd.factorize
    codes, uniques = dense_factorize(values, size)
    expected_codes, expected_uniques = pd.factorize(values)
    assert codes.dtype == np.int64
    assert codes.tolist() == expected_codes.tolist()
    assert uniques.tolist() == expected_uniques.tolist()


@given(st.lists(st.integers(-2**62, 2**62) | st.integers(-3, 3), max_size=60))
def test_unique_inverse_is_np_unique_with_inverse(values):
    values = np.array(values, dtype=np.int64)
    uniques, inverse = unique_inverse(values)
    expected, expected_inverse = np.unique(values, return_inverse=True)
    assert uniques.dtype == expected.dtype
    assert uniques.tolist() == expected.tolist()
    assert inverse.tolist() == expected_inverse.ravel().tolist()


@given(st.lists(st.integers(0, 300), max_size=60), st.sampled_from([301, 10**9]))
def test_unique_inverse_by_presence_table_is_np_unique_with_inverse(values, size):
    values = np.array(values, dtype=np.int64)
    uniques, inverse = unique_inverse(values, size)  # 301: a presence table; 10**9: hashed
    expected, expected_inverse = np.unique(values, return_inverse=True)
    assert uniques.dtype == np.int64 and inverse.dtype == np.int64
    assert uniques.tolist() == expected.tolist()
    assert inverse.tolist() == expected_inverse.ravel().tolist()


@pytest.mark.parametrize("labels", [pd.Index(["b", "a"], dtype=object), pd.Index(["b", "a"]),
                                    pd.Index([4789, 8472]), pd.Index(["b", 3], dtype=object)])
def test_text_labels_are_an_object_array_of_str(labels):
    out = text_labels(labels)
    assert out.dtype == object and out.tolist() == [str(v) for v in labels]


def test_object_frame_keeps_object_arrays_as_objects():
    frame = object_frame({"n": np.arange(3), "text": np.array(["a", None, ""], dtype=object)})
    assert frame["text"].dtype == object and frame["n"].dtype == np.int64
    assert frame["text"].tolist() == ["a", None, ""]


@given(st.lists(st.integers(0, 300), max_size=60), st.sampled_from([301, 10**9]))
def test_sorted_unique_is_np_unique_by_table_or_by_hashing(values, size):
    values = np.array(values, dtype=np.int64)
    out = sorted_unique(values, size)   # 301: a presence table; 10**9: hashed
    assert out.dtype == np.int64
    assert out.tolist() == np.unique(values).tolist()
