"""GRE (RFC 2784/2890): flags say which of checksum, key and sequence number
follow the 4-byte base header; the protocol type names the payload."""

from __future__ import annotations

import numpy as np

from pcapkit.decode.bytes import PacketBytes
from pcapkit.decode.encap import INNER_NONE, PAYLOAD_KIND, Inner, register_encap

GRE_CHECKSUM, GRE_KEY, GRE_SEQUENCE = 0x8000, 0x2000, 0x1000


@register_encap("gre", ip_protocols=(47,))
def decode_gre(pb: PacketBytes, rows: np.ndarray, start: np.ndarray) -> Inner:
    base = pb.header(rows, start, 4)
    flags, ok_flags = base.u16(0)
    ptype, ok_type = base.u16(2)
    has_checksum = (flags & GRE_CHECKSUM) != 0
    has_key = (flags & GRE_KEY) != 0
    has_sequence = (flags & GRE_SEQUENCE) != 0
    key_pos = start + 4 + 4 * has_checksum
    key, ok_key = pb.u32(rows, key_pos)
    header = 4 + 4 * (has_checksum.astype(np.int64) + has_key + has_sequence)
    kind = np.full(len(rows), INNER_NONE, np.uint8)
    for ethertype, inner_kind in PAYLOAD_KIND.items():
        kind[ptype == ethertype] = inner_kind
    version = flags & 0x7  # version 1 is PPTP's enhanced GRE: not a tunnel we decode
    complete = ok_flags & ok_type & (start + header <= pb.captured_length(rows))
    ok = complete & (version == 0)
    cut = ~complete & ~(ok_flags & (version != 0))
    return Inner(ok=ok, cut=cut, start=start + header, kind=kind, vni=key, has_vni=has_key & ok_key)
