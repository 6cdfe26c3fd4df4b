"""IP in IP: IPv4 (protocol 4, Calico's IPIP mode) or IPv6 (protocol 41, 6in4/sit)
directly inside an IPv4 or IPv6 header. There is no tunnel header."""

from __future__ import annotations

import numpy as np

from pcapkit.decode.bytes import PacketBytes
from pcapkit.decode.encap import (
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    Inner,
    headerless,
    register_encap,
)


@register_encap("ipip", ip_protocols=(4,))
def decode_ipip(pb: PacketBytes, rows: np.ndarray, start: np.ndarray,
                protocol: np.ndarray) -> Inner:
    return headerless(rows, start, ETHERTYPE_IPV4)


@register_encap("ip6ip", ip_protocols=(41,))
def decode_ip6ip(pb: PacketBytes, rows: np.ndarray, start: np.ndarray,
                 protocol: np.ndarray) -> Inner:
    return headerless(rows, start, ETHERTYPE_IPV6)
