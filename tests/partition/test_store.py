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
