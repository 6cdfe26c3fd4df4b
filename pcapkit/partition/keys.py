"""Which share a packet row belongs to: a hash of its innermost canonical address pair and
protocol, modulo the number of shares.

The pair, not the 5-tuple: fragments after the first and snaplen-cut copies carry no
ports, and every sighting of a packet shares its innermost addresses (the fingerprint
hashes them), so a share holds whole packets and whole conversations. Zeek's cluster
balances its workers on the same symmetric key. An ICMP error goes with its own pair (a
snaplen-cut copy may have lost the header it quotes), so linking errors to the flows they
quote is an incident-wide step. Rows that are not IP go to share 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.util import hash_array

from pcapkit.column_arrays import codes_of, per_row

_MIX = np.uint64(0x9E3779B97F4A7C15)


def partition_of(packets: pd.DataFrame, shares: int) -> np.ndarray:
    """The share (0 .. shares-1) of every row of a packet table."""
    n = len(packets)
    if shares <= 1 or not n or "src" not in packets or "dst" not in packets:
        return np.zeros(n, dtype=np.int64)
    src, dst = _hashes(packets["src"]), _hashes(packets["dst"])
    proto = (packets["proto"].to_numpy(dtype=np.int64, na_value=0) if "proto" in packets
             else np.zeros(n, np.int64)).astype(np.uint64)
    low, high = np.minimum(src, dst), np.maximum(src, dst)
    with np.errstate(over="ignore"):
        key = (low * _MIX) ^ high
        key = ((key ^ (key >> np.uint64(31))) * _MIX) ^ proto
    key ^= key >> np.uint64(29)
    share = (key % np.uint64(shares)).astype(np.int64)
    share[~packets["src"].notna().to_numpy()] = 0
    return share


def _hashes(addresses: pd.Series) -> np.ndarray:
    """A 64-bit hash of each address text (0 for null), one per distinct address."""
    codes, labels = codes_of(addresses)
    return per_row(codes, hash_array(np.asarray(labels, dtype=object), categorize=False),
                   np.uint64(0)).astype(np.uint64)
