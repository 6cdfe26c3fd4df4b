"""The partition store reads back what was written: one table from several shares in a
column's order, as pandas would join and sort them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pcapkit.partition.store import PartStore


def _part(ids: list[int], src: list[str], answers: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame({
        "packet_id": np.array(ids, dtype=np.int64),
        "src": pd.Categorical(src),
        "port": pd.array([53] * len(ids), dtype="UInt16"),
        "answers": pd.Series(answers, dtype=object),
    })


def test_read_sorted_joins_shares_in_column_order(tmp_path):
    store = PartStore(tmp_path / "store")
    parts = {0: _part([4, 1, 7], ["a", "b", "a"], [["x"], [], ["x"]]),
             2: _part([3, 1, 9], ["c", "a", "c"], [["y"], ["x"], []])}
    for share, table in parts.items():
        store.write("dns-part", share, "messages", table)
    got = store.read_sorted("dns-part", [0, 1, 2], "messages", by="packet_id")
    joined = pd.concat(list(parts.values()), ignore_index=True)
    expected = joined.take(np.argsort(joined["packet_id"].to_numpy(), kind="stable")) \
        .reset_index(drop=True)
    assert got["packet_id"].tolist() == [1, 1, 3, 4, 7, 9]   # ties keep share order
    assert got["src"].astype(str).tolist() == expected["src"].astype(str).tolist()
    assert isinstance(got["src"].dtype, pd.CategoricalDtype)
    pd.testing.assert_series_equal(got["port"], expected["port"])
    assert [list(a) for a in got["answers"]] == [list(a) for a in expected["answers"]]
    assert store.read_sorted("dns-part", [1], "messages", by="packet_id") is None


def _rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    port = pd.array(rng.integers(0, 65535, n), dtype="UInt16")
    port[rng.random(n) < 0.2] = pd.NA
    return pd.DataFrame({
        "_row": np.arange(n, dtype=np.int64),
        "src": pd.Categorical(rng.choice(["10.0.0.1", "10.0.0.2", "fd00::1"], n)),
        "port": port,
        "answers": pd.Series([["x"] * int(k) for k in rng.integers(0, 3, n)], dtype=object),
    })


def test_write_split_keeps_each_shares_rows_in_their_order(tmp_path):
    store = PartStore(tmp_path / "store")
    for big in (False, True):   # share numbers a radix sort takes, and larger ones
        table = _rows(5000, seed=int(big))
        share = np.random.default_rng(7).integers(0, 5, len(table)) * (40_000 if big else 1)
        name = f"t{int(big)}"
        store.write_split("split", name, table, share)
        for value in range(0, 5 * (40_000 if big else 1), 40_000 if big else 1):
            got = store.read("split", int(value), name)
            mine = table[share == value].reset_index(drop=True)
            if not len(mine):
                assert got is None
                continue
            pd.testing.assert_frame_equal(got.drop(columns="answers"),
                                          mine.drop(columns="answers"), check_categorical=False)
            assert got["src"].dtype == table["src"].dtype
            assert [list(a) for a in got["answers"]] == [list(a) for a in mine["answers"]]


def test_read_with_rows_makes_only_the_marked_rows_pandas(tmp_path):
    store = PartStore(tmp_path / "store")
    table = _rows(1000, seed=3)
    store.write("s", 0, "t", table)
    got = store.read("s", 0, "t", rows=lambda arrow: np.asarray(
        arrow.column("_row").to_numpy() % 3 == 0))
    expected = table[table["_row"] % 3 == 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(got.drop(columns="answers"), expected.drop(columns="answers"))
    # every category the table was written with, as a whole read gives them
    assert list(got["src"].cat.categories) == list(store.read("s", 0, "t")["src"].cat.categories)
    none = store.read("s", 0, "t", rows=lambda arrow: np.zeros(arrow.num_rows, dtype=bool))
    assert len(none) == 0 and list(none.columns) == list(table.columns)
    assert store.read("s", 1, "t", rows=lambda arrow: np.ones(arrow.num_rows, bool)) is None
