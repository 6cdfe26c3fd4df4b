"""IP in IP: IPv4 (protocol 4, Calico's IPIP mode) or IPv6 (protocol 41, 6in4/sit)
directly inside an IPv4 or IPv6 header. There is no tunnel header."""

from __future__ import annotations

import numpy as np

from pcapkit.decode.bytes import PacketBytes
from pcapkit.decode.encap import INNER_IPV4, INNER_IPV6, Inner, register_encap


def _direct(rows: np.ndarray, start: np.ndarray, kind: int) -> Inner:
    n = len(rows)
    return Inner(ok=np.ones(n, bool), cut=np.zeros(n, bool), start=start,
                 kind=np.full(n, kind, np.uint8), vni=np.zeros(n, np.uint32),
                 has_vni=np.zeros(n, bool))


@register_encap("ipip", ip_protocols=(4,))
def decode_ipip(pb: PacketBytes, rows: np.ndarray, start: np.ndarray) -> Inner:
    return _direct(rows, start, INNER_IPV4)


@register_encap("ip6ip", ip_protocols=(41,))
def decode_ip6ip(pb: PacketBytes, rows: np.ndarray, start: np.ndarray) -> Inner:
    return _direct(rows, start, INNER_IPV6)
