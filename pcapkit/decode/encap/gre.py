"""GRE: version 0 (RFC 2784/2890) and PPTP's enhanced GRE, version 1 (RFC 2637).

Flags say which optional fields follow the 4-byte base header: checksum (+
reserved), key, sequence number, and in version 1 an acknowledgement number.
Version 1's key field is the payload length and the call id; the call id
becomes ``vni``, as version 0's key does. The protocol type names the payload
as an EtherType (0x880B PPP for PPTP). GRE rides on IP (protocol 47) or on UDP
(RFC 8086, port 4754).
"""

from __future__ import annotations

import numpy as np

from pcapkit.decode.bytes import PacketBytes
from pcapkit.decode.encap import Inner, register_encap
from pcapkit.decode.errors import register_error, with_value

GRE_CHECKSUM, GRE_ROUTING, GRE_KEY, GRE_SEQUENCE = 0x8000, 0x4000, 0x2000, 0x1000
GRE_ACK = 0x0080  # version 1 only
ERSPAN = 0x88BE
#: What GRE announces for protocol 0x88BE without a sequence number: ERSPAN type I,
#: which has no header of its own (type II always has a sequence number). Wireshark
#: tells the two apart by the same flag.
ERSPAN_TYPE_I = 0x1_0000 | ERSPAN

UNKNOWN_VERSION = register_error("GRE version {} not decoded")
SOURCE_ROUTE = register_error("GRE source route (RFC 1701) not decoded")


@register_encap("gre", ip_protocols=(47,), udp_ports=(4754,))
def decode_gre(pb: PacketBytes, rows: np.ndarray, start: np.ndarray,
               protocol: np.ndarray) -> Inner:
    base = pb.header(rows, start, 4)
    flags, ok_flags = base.u16(0)
    ptype, ok_type = base.u16(2)
    version = flags & 0x7
    has_checksum = (flags & GRE_CHECKSUM) != 0
    has_key = (flags & GRE_KEY) != 0
    has_sequence = (flags & GRE_SEQUENCE) != 0
    has_ack = ((flags & GRE_ACK) != 0) & (version == 1)
    key, ok_key = pb.u32(rows, start + 4 + 4 * has_checksum)
    vni = np.where(version == 1, key & 0xFFFF, key).astype(np.uint32)  # call id / key
    header = 4 + 4 * (has_checksum.astype(np.int64) + has_key + has_sequence + has_ack)
    complete = ok_flags & ok_type & (start + header <= pb.captured_length(rows))
    routed = (flags & GRE_ROUTING) != 0
    unknown = ok_flags & ((version > 1) | routed)
    error = np.where(unknown, np.where(version > 1, with_value(UNKNOWN_VERSION, version),
                                       SOURCE_ROUTE), 0)
    payload = ptype.astype(np.int32)
    payload[(ptype == ERSPAN) & ~has_sequence] = ERSPAN_TYPE_I
    return Inner(ok=complete & ~unknown, cut=~complete & ~unknown, start=start + header,
                 protocol=payload, vni=vni, has_vni=has_key & ok_key, error=error)
