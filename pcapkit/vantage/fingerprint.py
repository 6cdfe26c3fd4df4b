"""A 64-bit fingerprint of each packet's innermost IP packet, stable along its path.

Two sightings of one packet (on a pod's veth, the bridge, the tunnel device and the NIC, or
on the sender's and the receiver's node) share every field of the innermost IP packet except
what a hop rewrites: TTL/hop limit, header checksum, the outer (underlay) headers and the
link layer. The fingerprint hashes exactly the fields that survive; a retransmission hashes
the same as its original, which is why time and vantage point decide the rest (see
``grouping``).

Not matched (documented in docs/vantage.md): packets rewritten on the way (NAT, a service's
DNAT, MSS clamping changes no hashed field but SNAT does), segments that TSO/GRO split or
merged between vantage points. Copies whose transport header the snaplen cut hash
differently; ``grouping.attach_truncated`` joins them by the IP-level subset below.
Non-IP packets (ARP, LLDP ...) get no fingerprint.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.util import hash_array

from pcapkit.column_arrays import codes_of, per_row

# Innermost IP packet fields that no router, bridge or tunnel endpoint rewrites.
FINGERPRINT_COLUMNS: tuple[str, ...] = (
    "src", "dst", "proto", "ip_id", "ip_len", "frag_offset", "more_fragments",
    "sport", "dport", "tcp_seq", "tcp_ack", "tcp_flags", "tcp_window",
    "payload_len", "payload_head",
    "icmp_type", "icmp_code", "icmp_orig_src", "icmp_orig_dst", "icmp_orig_proto",
    "icmp_orig_sport", "icmp_orig_dport",
)

# The IP-level subset: all a snaplen-cut copy is sure to have (see grouping.attach_truncated).
IP_FINGERPRINT_COLUMNS: tuple[str, ...] = (
    "src", "dst", "proto", "ip_id", "ip_len", "frag_offset", "more_fragments",
)

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_NULL_HASH = np.uint64(0x5BD1E9955BD1E995)


def packet_fingerprints(packets: pd.DataFrame,
                        columns: tuple[str, ...] = FINGERPRINT_COLUMNS,
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``(hashes, has_fingerprint)``: a uint64 per row, and whether the row is an IP packet.

    Columns missing from the table count as null everywhere, so older tables still hash.
    """
    n = len(packets)
    combined = np.full(n, np.uint64(0xCBF29CE484222325), dtype=np.uint64)
    for name in columns:
        if name not in packets:
            continue
        values = _column_hash(packets[name])
        combined = (combined ^ values) * _MULTIPLIER
        combined ^= combined >> np.uint64(29)
    has = packets["src"].notna().to_numpy() if "src" in packets else np.zeros(n, bool)
    return combined, has


def _column_hash(series: pd.Series) -> np.ndarray:
    """Hash of every value of one column, a fixed constant for nulls.

    Text columns are hashed by their string value (categories differ between files, codes
    must never be compared across them); integers and booleans by value.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype) or \
            pd.api.types.is_string_dtype(dtype):
        codes, labels = codes_of(series)
        per_label = hash_array(labels, categorize=False)
        return per_row(codes, per_label, _NULL_HASH).astype(np.uint64)
    values = series.to_numpy(dtype=np.uint64, na_value=0)
    hashed = hash_array(values)
    mask = series.isna().to_numpy()
    if mask.any():
        hashed[mask] = _NULL_HASH
    return hashed
