"""MPLS label stacks (RFC 3032): on an EtherType (0x8847 unicast, 0x8848
multicast, also as a GRE or PPP payload), in IP (protocol 137) or in UDP
(RFC 7510, port 6635).

Labels are walked to the one with the bottom-of-stack bit (the packet bounds the
walk); that label, the innermost, becomes ``vni``. What follows carries no type:
as Wireshark does, the first nibble decides: 4 IPv4, 6 IPv6, 0 a pseudowire
control word (RFC 4385) and then an Ethernet frame. Wireshark takes a 0 nibble
for the first byte of an Ethernet frame without control word when both MAC
addresses belong to known vendors; pcapkit keeps no vendor list and always
reads the control word.
"""

from __future__ import annotations

import numpy as np

from pcapkit.decode.bytes import PacketBytes
from pcapkit.decode.encap import (
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    ETHERTYPE_TEB,
    Inner,
    register_encap,
)
from pcapkit.decode.errors import register_error, with_value

LABEL_GAL = 13  # Generic Associated Channel Label (RFC 5586): OAM, not data
CONTROL_WORD = 4

ASSOCIATED_CHANNEL = register_error("MPLS associated channel not decoded")
UNKNOWN_PAYLOAD = register_error("MPLS payload with first nibble {} not decoded")


@register_encap("mpls", ethertypes=(0x8847, 0x8848), ip_protocols=(137,), udp_ports=(6635,))
def decode_mpls(pb: PacketBytes, rows: np.ndarray, start: np.ndarray,
                protocol: np.ndarray) -> Inner:
    n = len(rows)
    pos = start.copy()
    label = np.zeros(n, np.uint32)
    bottom = np.zeros(n, bool)
    walking = np.arange(n)
    while len(walking):
        entry, ok = pb.u32(rows[walking], pos[walking])
        walking, entry = walking[ok], entry[ok]
        label[walking] = entry >> 12
        pos[walking] += 4
        last = (entry & 0x100) != 0
        bottom[walking[last]] = True
        walking = walking[~last]
    first, ok_first = pb.u8(rows, pos)
    nibble = (first >> 4).astype(np.int64)
    payload = np.full(n, -1, np.int32)
    payload[nibble == 4] = ETHERTYPE_IPV4
    payload[nibble == 6] = ETHERTYPE_IPV6
    pseudowire = nibble == 0
    payload[pseudowire] = ETHERTYPE_TEB
    channel = bottom & ((label == LABEL_GAL) | (nibble == 1))
    payload[~ok_first] = -1  # nothing captured after the labels
    error = np.where(channel, ASSOCIATED_CHANNEL,
                     np.where(ok_first & (payload < 0), with_value(UNKNOWN_PAYLOAD, nibble), 0))
    error[~bottom] = 0
    return Inner(ok=bottom, cut=~bottom, start=pos + CONTROL_WORD * pseudowire, protocol=payload,
                 vni=label, has_vni=bottom, error=error)
