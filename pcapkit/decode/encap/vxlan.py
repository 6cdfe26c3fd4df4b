"""VXLAN (RFC 7348): 8-byte header, inner Ethernet frame.

UDP 4789 is the IANA port; 8472 is the Linux kernel's default, used by Flannel
and Cilium, so both are bound by default.
"""

from __future__ import annotations

import numpy as np

from pcapkit.decode.bytes import PacketBytes
from pcapkit.decode.encap import ETHERTYPE_TEB, Inner, register_encap

VXLAN_HEADER = 8


@register_encap("vxlan", udp_ports=(4789, 8472))
def decode_vxlan(pb: PacketBytes, rows: np.ndarray, start: np.ndarray,
                 protocol: np.ndarray) -> Inner:
    header = pb.header(rows, start, VXLAN_HEADER)
    vni, ok_vni = header.u24(4)
    complete = header.captured()
    # The I flag says the VNI is valid; Wireshark and the kernel still read it without.
    return Inner(ok=complete, cut=~complete, start=start + VXLAN_HEADER,
                 protocol=np.full(len(rows), ETHERTYPE_TEB, np.int32),
                 vni=vni, has_vni=ok_vni, error=np.zeros(len(rows), np.int64))
