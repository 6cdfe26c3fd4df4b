"""Arrow tables read back as pandas (pcapkit.arrow_tables): the cells ``to_pandas`` gives,
equal cells one shared object, and the written dtypes restored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapkit.arrow_tables import dtype_name, frame_of, to_pandas, value_codes, with_dtypes

# few values, so that rows are often equal, or differ in one field only
TEXT = st.sampled_from([None, "", "a", "a\x1fb"])
ANSWER = st.one_of(st.none(), st.fixed_dictionaries(
    {"name": TEXT, "type": st.sampled_from(["A", None]),
     "ttl": st.sampled_from([None, 0, 1]), "data": TEXT}))
ANSWER_TYPE = pa.struct([("name", pa.string()), ("type", pa.string()), ("ttl", pa.int64()),
                         ("data", pa.string())])


def _same_cell(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return type(a) is type(b) and repr(a) == repr(b)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.lists(TEXT, max_size=2)),
                          st.one_of(st.none(), st.lists(ANSWER, max_size=2)),
                          st.one_of(st.none(), st.lists(st.lists(TEXT, max_size=2),
                                                        max_size=2))), max_size=40))
def test_cells_are_those_to_pandas_gives_and_equal_ones_are_shared(rows):
    n = len(rows)
    addrs, answers, nested = ([row[k] for row in rows] for k in range(3))
    table = pa.table({"addrs": pa.array(addrs, pa.list_(pa.string())),
                      "answers": pa.array(answers, pa.list_(ANSWER_TYPE)),
                      "nested": pa.array(nested, pa.list_(pa.list_(pa.string()))),
                      "row": pa.array(range(n), pa.int64())})
    plain, shared = table.to_pandas(), to_pandas(table)
    assert list(shared.columns) == list(plain.columns)
    assert shared["row"].equals(plain["row"])
    for name, values in (("addrs", addrs), ("answers", answers), ("nested", nested)):
        cells = shared[name].tolist()
        assert all(_same_cell(a, b) for a, b in zip(plain[name], cells, strict=True))
        for i in range(n):
            for j in range(i):
                # one object exactly when the written values are equal
                assert (cells[i] is cells[j]) == (values[i] == values[j]), (name, i, j)


def test_answers_differing_in_one_field_are_not_shared():
    base = {"name": "a.", "type": "A", "ttl": 30, "data": "10.0.0.1"}
    cells = [[base], [{**base, "data": "10.0.0.2"}], [{**base, "ttl": 29}],
             [{**base, "type": "AAAA"}], [{**base, "name": "b."}], [{**base, "data": None}],
             [base]]
    codes = value_codes(pa.array(cells, pa.list_(ANSWER_TYPE)))
    assert len(set(codes[:6].tolist())) == 6
    assert codes[6] == codes[0]


def test_codes_tell_apart_what_a_joined_text_would_not():
    # a separator inside a value, an empty list against a null one, a null element
    array = pa.array([["a\x1fb"], ["a", "b"], [], None, [None], [""], ["a\x1fb"]],
                     pa.list_(pa.string()))
    codes = value_codes(array)
    assert len(set(codes[:6].tolist())) == 6
    assert codes[6] == codes[0]


def test_sliced_and_chunked_columns():
    array = pa.array([["x"], ["y"], ["x"], None, ["y"]], pa.list_(pa.string()))
    table = pa.Table.from_batches([pa.record_batch([array.slice(1, 2)], names=["c"]),
                                   pa.record_batch([array.slice(2, 3)], names=["c"])])
    cells = to_pandas(table)["c"].tolist()
    assert [None if c is None else list(c) for c in cells] == [["y"], ["x"], ["x"], None, ["y"]]
    assert cells[1] is cells[2] and cells[0] is cells[4]


def test_frame_of_restores_written_dtypes_and_shares_object_text():
    frame = pd.DataFrame({
        "node": pd.Series(["n1", "n2", "n1", None], dtype=object),
        "file": pd.Categorical(["f", None, "f", "g"]),
        "none": pd.Categorical([None] * 4, categories=pd.Index([], dtype=object)),
        "port": pd.array([53, None, 53, 1], dtype="UInt16"),
        "qname": pd.array(["a.", "b.", None, "a."], dtype="string"),
    })
    dtypes = {c: dtype_name(frame[c]) for c in frame.columns}
    table = pa.Table.from_pandas(frame, preserve_index=False)
    back = frame_of(table, dtypes)
    assert {c: dtype_name(back[c]) for c in back.columns} == dtypes
    # what converting every cell gives (a null text of an object column reads back NaN)
    pd.testing.assert_frame_equal(back, with_dtypes(table.to_pandas(), dtypes))
    pd.testing.assert_frame_equal(back.drop(columns="node"), frame.drop(columns="node"))
    assert back["node"][0] is back["node"][2]
    assert back["node"].to_numpy().dtype == np.dtype(object)
