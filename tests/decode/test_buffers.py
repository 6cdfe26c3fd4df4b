"""ColumnBuffers.copy_from: a forked child's share copied into the zero-filled table."""

from __future__ import annotations

import numpy as np

from pcapkit.decode.buffers import ColumnBuffers
from pcapkit.decode.packets import DECODED_COLUMNS


def test_copy_from_gives_every_value_and_mask_of_the_other_buffers() -> None:
    n = 50
    other = ColumnBuffers(n, DECODED_COLUMNS)
    other.put("sport", slice(0, 10), np.arange(10), True)
    other.values["dport"][5] = 53  # a value under a null: copied all the same
    other.put_ip("src", slice(20, 30), np.zeros(10, np.uint64), np.arange(10, dtype=np.uint64),
                 np.ones(10, bool))
    table = ColumnBuffers(n + 7, DECODED_COLUMNS)
    window = table.window(7, n)
    window.copy_from(other)
    for name in other.kinds:
        assert (window.values[name] == other.values[name]).all(), name
        assert (window.valid[name] == other.valid[name]).all(), name
        assert not table.valid[name][:7].any(), name
    assert table.values["dport"][12] == 53 and not table.valid["dport"][12]
    assert table.values["sport"][7:17].tolist() == list(range(10))
