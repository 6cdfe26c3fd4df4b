"""Which share a packet row belongs to: a hash of its innermost canonical address pair and
protocol, modulo the number of shares.

The pair, not the 5-tuple: fragments after the first and snaplen-cut copies carry no
ports, and every sighting of a packet shares its innermost addresses (the fingerprint
hashes them), so a share holds whole packets and whole conversations. Zeek's cluster
balances its workers on the same symmetric key. An ICMP error goes with its own pair (a
snaplen-cut copy may have lost the header it quotes), so linking errors to the flows they
quote is a step of its own: for the flow stage an error moves to the share of the pair it
quotes (``flow_share_of``). Rows that are not IP go to share 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.util import hash_array

from pcapkit.column_arrays import codes_of, per_row
from pcapkit.flows.keys import ICMP_ERRORS

_MIX = np.uint64(0x9E3779B97F4A7C15)


def partition_of(packets: pd.DataFrame, shares: int) -> np.ndarray:
    """The share (0 .. shares-1) of every row of a packet table."""
    n = len(packets)
    if shares <= 1 or not n or "src" not in packets or "dst" not in packets:
        return np.zeros(n, dtype=np.int64)
    return _share(packets["src"], packets["dst"], _protocols(packets, "proto"), shares)


def flow_share_of(distinct: pd.DataFrame, shares: int) -> np.ndarray:
    """The share of every distinct packet for the flow stage: ``partition_of``, except that
    an ICMP error quoting a whole IP header goes with the pair it quotes, so it meets the
    flow it is linked to (pcapkit.flows.keys)."""
    share = partition_of(distinct, shares)
    if shares <= 1 or not {"icmp_orig_src", "icmp_orig_dst", "icmp_type"} <= set(distinct):
        return share
    proto = _protocols(distinct, "proto")
    itype = distinct["icmp_type"].to_numpy(dtype=np.int64, na_value=-1)
    error = np.zeros(len(distinct), dtype=bool)
    for number, types in ICMP_ERRORS.items():
        error |= (proto == number) & np.isin(itype, types)
    error &= (distinct["icmp_orig_src"].notna() & distinct["icmp_orig_dst"].notna()).to_numpy()
    quoted_proto = _protocols(distinct, "icmp_orig_proto")
    error &= quoted_proto >= 0
    rows = np.flatnonzero(error)
    if len(rows):
        quoted = distinct.iloc[rows]
        share[rows] = _share(quoted["icmp_orig_src"], quoted["icmp_orig_dst"],
                             quoted_proto[rows], shares)
    return share


def _protocols(packets: pd.DataFrame, name: str) -> np.ndarray:
    return packets[name].to_numpy(dtype=np.int64, na_value=-1) if name in packets \
        else np.full(len(packets), -1, np.int64)


def _share(src: pd.Series, dst: pd.Series, proto: np.ndarray, shares: int) -> np.ndarray:
    """The share of each (src, dst, proto), the same for both directions."""
    a, b = _hashes(src), _hashes(dst)
    low, high = np.minimum(a, b), np.maximum(a, b)
    with np.errstate(over="ignore"):
        key = (low * _MIX) ^ high
        key = ((key ^ (key >> np.uint64(31))) * _MIX) ^ np.maximum(proto, 0).astype(np.uint64)
    key ^= key >> np.uint64(29)
    share = (key % np.uint64(shares)).astype(np.int64)
    share[~src.notna().to_numpy()] = 0
    return share


def _hashes(addresses: pd.Series) -> np.ndarray:
    """A 64-bit hash of each address text (0 for null), one per distinct address."""
    codes, labels = codes_of(addresses)
    return per_row(codes, hash_array(np.asarray(labels, dtype=object), categorize=False),
                   np.uint64(0)).astype(np.uint64)
