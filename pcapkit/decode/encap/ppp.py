"""PPP as PPTP carries it in enhanced GRE (GRE protocol 0x880B): optional HDLC
address and control bytes (0xFF 0x03), then the protocol field, one byte when
compressed (RFC 1661: an odd first byte), else two."""

from __future__ import annotations

import numpy as np

from pcapkit.decode.bytes import PacketBytes
from pcapkit.decode.encap import ETHERTYPE_IPV4, ETHERTYPE_IPV6, Inner, register_encap
from pcapkit.decode.errors import register_error, with_value

ETHERTYPE_PPP = 0x880B
HDLC_ADDRESS_CONTROL = 0xFF03
#: PPP protocol numbers pcapkit follows, and the EtherType each means
PPP_PAYLOADS = {0x0021: ETHERTYPE_IPV4, 0x0057: ETHERTYPE_IPV6,
                0x0281: 0x8847, 0x0283: 0x8848}  # MPLS unicast, multicast

UNKNOWN_PROTOCOL = register_error("PPP protocol 0x{:04x} not decoded")


@register_encap("ppp", gre_protocols=(ETHERTYPE_PPP,))
def decode_ppp(pb: PacketBytes, rows: np.ndarray, start: np.ndarray,
               protocol: np.ndarray) -> Inner:
    n = len(rows)
    head = pb.header(rows, start, 4)
    first, _ = head.u16(0)
    framed = first == HDLC_ADDRESS_CONTROL
    at = start + 2 * framed
    byte0, ok0 = pb.u8(rows, at)
    word, ok_word = pb.u16(rows, at)
    compressed = (byte0 & 1) == 1
    number = np.where(compressed, byte0, word).astype(np.int64)
    read = np.where(compressed, ok0, ok_word)
    payload = np.full(n, -1, np.int32)
    for ppp, ethertype in PPP_PAYLOADS.items():
        payload[number == ppp] = ethertype
    unknown = read & (payload < 0)
    return Inner(ok=read, cut=~read, start=at + np.where(compressed, 1, 2), protocol=payload,
                 vni=np.zeros(n, np.uint32), has_vni=np.zeros(n, bool),
                 error=np.where(unknown, with_value(UNKNOWN_PROTOCOL, number), 0))
