"""Internet checksum (RFC 768 / RFC 1071) of UDP datagrams, for whole arrays of them.

Only the outer UDP header of a tunnel is checked (the VXLAN "63-second delay" failure:
datagrams with a wrong outer checksum are dropped by the receiving kernel before the tunnel
device). A checksum of zero means the sender did not compute one (IPv4, and tunnels over
IPv6 by RFC 6935), and a datagram the snaplen cut cannot be checked: both give no answer.
The sum over each datagram is one gather of its bytes and one ``np.add.reduceat``; rows
with a zero checksum (Linux VXLAN's default) cost nothing.
"""

from __future__ import annotations

import numpy as np

from pcapkit.decode.bytes import PacketBytes

UDP_PROTOCOL = 17


def udp_checksum_ok(pb: PacketBytes, rows: np.ndarray, udp: np.ndarray, src_hi: np.ndarray,
                    src_lo: np.ndarray, dst_hi: np.ndarray, dst_lo: np.ndarray,
                    is_v4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(checksum verifies, it could be checked) for the UDP header at ``udp`` of ``rows``,
    whose IP header has these addresses (IPv4 ones in the low 32 bits of ``*_lo``)."""
    length, length_ok = pb.u16(rows, udp + 4)
    checksum, checksum_ok = pb.u16(rows, udp + 6)
    length = length.astype(np.int64)
    known = length_ok & checksum_ok & (checksum != 0) & (length >= 8) & \
        (length <= pb.available(rows, udp))
    ok = np.zeros(len(rows), dtype=bool)
    at = np.flatnonzero(known)
    if not len(at):
        return ok, known
    sizes = length[at]
    starts = pb.offset[rows[at]] + udp[at]
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    index = np.repeat(starts - first, sizes) + np.arange(int(sizes.sum()))
    within = index - np.repeat(starts, sizes)
    weights = np.where(within % 2 == 0, 256, 1).astype(np.int64)
    total = np.add.reduceat(pb.data[index].astype(np.int64) * weights, first)
    total += _pseudo_header(src_hi[at], src_lo[at], dst_hi[at], dst_lo[at], is_v4[at])
    total += UDP_PROTOCOL + sizes
    for _ in range(3):  # fold the carries back in (three rounds always suffice here)
        total = (total & 0xFFFF) + (total >> 16)
    ok[at] = total == 0xFFFF
    return ok, known


def _pseudo_header(src_hi: np.ndarray, src_lo: np.ndarray, dst_hi: np.ndarray,
                   dst_lo: np.ndarray, is_v4: np.ndarray) -> np.ndarray:
    """Sum of the addresses' 16-bit words (the length and protocol are added by the caller)."""
    total = np.zeros(len(src_lo), dtype=np.int64)
    for half in (src_hi, src_lo, dst_hi, dst_lo):
        words = half.astype(np.uint64)
        for shift in (0, 16, 32, 48):
            part = ((words >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.int64)
            if half is src_hi or half is dst_hi or shift >= 32:
                part = np.where(is_v4, 0, part)  # IPv4: only the low 32 bits count
            total += part
    return total
