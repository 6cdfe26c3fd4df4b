"""ERSPAN (Cisco's Encapsulated Remote SPAN, draft-foschiano-erspan) inside GRE:
a mirrored Ethernet frame, as traffic-mirroring sessions deliver it.

Type I (GRE protocol 0x88BE without a sequence number) has no header; type II
(0x88BE) has an 8-byte header, type III (0x22EB) a 12-byte one followed by an
8-byte platform-specific subheader when its O bit is set. The session id
becomes ``vni``.
"""

from __future__ import annotations

import numpy as np

from pcapkit.decode.bytes import PacketBytes
from pcapkit.decode.encap import ETHERTYPE_TEB, Inner, register_encap
from pcapkit.decode.encap.gre import ERSPAN, ERSPAN_TYPE_I
from pcapkit.decode.errors import register_error, with_value

ERSPAN_III = 0x22EB
TYPE_II_HEADER, TYPE_III_HEADER, PLATFORM_SUBHEADER = 8, 12, 8
#: the version field each protocol type must carry
VERSION_II, VERSION_III = 1, 2
FRAME_ETHERNET = 0

UNKNOWN_VERSION = register_error("ERSPAN version {} not decoded")
UNKNOWN_FRAME = register_error("ERSPAN type III frame type {} not decoded")


@register_encap("erspan", gre_protocols=(ERSPAN_TYPE_I, ERSPAN, ERSPAN_III))
def decode_erspan(pb: PacketBytes, rows: np.ndarray, start: np.ndarray,
                  protocol: np.ndarray) -> Inner:
    n = len(rows)
    type_i = protocol == ERSPAN_TYPE_I
    type_iii = protocol == ERSPAN_III
    header = pb.header(rows, start, TYPE_III_HEADER)
    word0, ok_word0 = header.u32(0)          # version, VLAN, COS, ..., session id
    last, ok_last = header.u16(10)           # type III: P, FT, HW id, D, Gra, O
    version = (word0 >> 28).astype(np.int64)
    session = (word0 & 0x3FF).astype(np.uint32)
    frame_type = (last >> 10) & 0x1F
    platform = (last & 1) != 0
    size = np.where(type_i, 0, np.where(type_iii, TYPE_III_HEADER + PLATFORM_SUBHEADER * platform,
                                        TYPE_II_HEADER)).astype(np.int64)
    read = type_i | (ok_word0 & (~type_iii | ok_last))
    complete = read & (start + size <= pb.captured_length(rows))
    expected = np.where(type_iii, VERSION_III, VERSION_II)
    bad_version = ~type_i & ok_word0 & (version != expected)
    bad_frame = type_iii & ok_last & ~bad_version & (frame_type != FRAME_ETHERNET)
    error = np.where(bad_version, with_value(UNKNOWN_VERSION, version),
                     np.where(bad_frame, with_value(UNKNOWN_FRAME, frame_type), 0))
    known = ~bad_version & ~bad_frame
    return Inner(ok=complete & known, cut=~complete & known, start=start + size,
                 protocol=np.full(n, ETHERTYPE_TEB, np.int32), vni=session,
                 has_vni=~type_i & ok_word0, error=error)
