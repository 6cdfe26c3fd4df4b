"""Geneve (RFC 8926): 8-byte base header, variable options, then the payload
named by its protocol type (0x6558 Ethernet, 0x0800 IPv4, 0x86DD IPv6)."""

from __future__ import annotations

import numpy as np

from pcapkit.decode.bytes import PacketBytes
from pcapkit.decode.encap import Inner, register_encap
from pcapkit.decode.errors import register_error, with_value

GENEVE_BASE = 8
UNKNOWN_VERSION = register_error("Geneve version {} not decoded")


@register_encap("geneve", udp_ports=(6081,), label="Geneve")
def decode_geneve(pb: PacketBytes, rows: np.ndarray, start: np.ndarray,
                  protocol: np.ndarray) -> Inner:
    header = pb.header(rows, start, GENEVE_BASE)
    first, ok_first = header.u8(0)
    ptype, ok_type = header.u16(2)
    vni, ok_vni = header.u24(4)
    version = first >> 6
    options_len = (first & 0x3F).astype(np.int64) * 4  # optlen counts 4-byte words
    end = start + GENEVE_BASE + options_len
    complete = ok_vni & (end <= pb.captured_length(rows))  # options included
    valid = ok_first & (version == 0)
    error = np.where(ok_first & ~valid, with_value(UNKNOWN_VERSION, version), 0)
    return Inner(ok=complete & valid, cut=~complete & (valid | ~ok_first), start=end,
                 protocol=ptype.astype(np.int32), vni=vni, has_vni=ok_vni & valid, error=error)
