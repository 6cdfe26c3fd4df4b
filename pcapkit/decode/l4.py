"""Transport headers (TCP, UDP, SCTP, ICMP, ICMPv6) and the headers quoted in ICMP errors."""

from __future__ import annotations

import numpy as np

from pcapkit.decode.bytes import PacketBytes, isin_small
from pcapkit.decode.columns import ColumnBuffers
from pcapkit.decode.ip import IPLayer, parse_ip

TCP, UDP, SCTP, ICMP, ICMPV6 = 6, 17, 132, 1, 58
PORT_PROTOCOLS = (TCP, UDP, SCTP)
#: ICMP types whose body quotes the offending packet's IP header
ICMP_ERRORS = (3, 4, 5, 11, 12)
ICMPV6_ERRORS = (1, 2, 3, 4)

ERR_L4_CUT = 5

TRANSPORT_COLUMNS = ("sport", "dport", "tcp_flags", "tcp_seq", "tcp_ack", "tcp_window",
                     "payload_len", "payload_head", "icmp_type", "icmp_code", "icmp_mtu", "icmp_orig_src",
                     "icmp_orig_dst", "icmp_orig_proto", "icmp_orig_sport", "icmp_orig_dport")


def ports(pb: PacketBytes, layer: IPLayer) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source/destination ports of port-carrying transports (for tunnel and DNS matching).

    Returns (index into layer, sport, dport, ok); read once per layer."""
    if layer.ports is None:
        idx = np.flatnonzero(layer.l4_ok & isin_small(layer.proto, PORT_PROTOCOLS))
        both, ok = pb.u32(layer.rows[idx], layer.l4[idx])
        layer.ports = (idx, (both >> 16).astype(np.uint16), (both & 0xFFFF).astype(np.uint16), ok)
    return layer.ports


def write_transport(pb: PacketBytes, layer: IPLayer, cols: ColumnBuffers,
                    errors: np.ndarray) -> None:
    """Decode the upper-layer header of each row of ``layer`` into the packet columns."""
    here = layer.l4_ok
    idx_p, sport, dport, ok_ports = ports(pb, layer)
    rows_p = layer.rows[idx_p]
    ok_sport = ok_ports
    if not ok_ports.all():  # a capture cut inside the ports may still hold the source port
        sport, ok_sport = pb.u16(rows_p, layer.l4[idx_p])
    cols.put("sport", rows_p, sport, ok_sport)
    cols.put("dport", rows_p, dport, ok_ports)
    errors[rows_p[~ok_ports]] = ERR_L4_CUT

    tcp = np.flatnonzero(here & (layer.proto == TCP))
    if len(tcp):
        r, p = layer.rows[tcp], layer.l4[tcp]
        seq_ack, ok_ack = pb.u64(r, p + 4)
        seq, ack = (seq_ack >> np.uint64(32)).astype(np.uint32), seq_ack.astype(np.uint32)
        if ok_ack.all():
            ok_seq = ok_ack
        else:  # a capture cut inside the ack number may still hold the sequence number
            seq, ok_seq = pb.u32(r, p + 4)
        word3, ok_win = pb.u32(r, p + 12)   # data offset + flags, window
        off_flags, window = (word3 >> 16).astype(np.uint16), (word3 & 0xFFFF).astype(np.uint16)
        if ok_win.all():
            ok_of = ok_win
        else:  # the window may be cut off while offset and flags were captured
            off_flags, ok_of = pb.u16(r, p + 12)
        cols.put("tcp_seq", r, seq, ok_seq)
        cols.put("tcp_ack", r, ack, ok_ack)
        cols.put("tcp_flags", r, off_flags & 0x01FF, ok_of)
        cols.put("tcp_window", r, window, ok_win)
        data_offset = (off_flags >> 12).astype(np.int64) * 4
        payload = layer.l4_end[tcp] - p - data_offset
        cols.put("payload_len", r, np.maximum(payload, 0).astype(np.uint32), ok_of & (data_offset >= 20))
        errors[r[~ok_win]] = ERR_L4_CUT

    udp = np.flatnonzero(here & (layer.proto == UDP))
    if len(udp):
        r, p = layer.rows[udp], layer.l4[udp]
        length, ok_len = pb.u16(r, p + 4)
        cols.put("payload_len", r, np.maximum(length.astype(np.int64) - 8, 0).astype(np.uint32),
                 ok_len & (length >= 8))
        _payload_head(pb, cols, r, p + 8, length.astype(np.int64) - 8, ok_len)
        errors[r[~ok_len]] = ERR_L4_CUT

    icmp = np.flatnonzero(here & (((layer.proto == ICMP) & layer.is_v4) |
                                  ((layer.proto == ICMPV6) & ~layer.is_v4)))
    if len(icmp):
        _icmp(pb, layer, icmp, cols, errors)

    other = np.flatnonzero(here & ~isin_small(layer.proto, (TCP, UDP, ICMP, ICMPV6)))
    cols.put("payload_len", layer.rows[other],
             np.maximum(layer.l4_end[other] - layer.l4[other], 0).astype(np.uint32))


def _payload_head(pb: PacketBytes, cols: ColumnBuffers, rows: np.ndarray, start: np.ndarray,
                  length: np.ndarray, ok: np.ndarray) -> None:
    """First 8 payload bytes as one integer: a cheap fingerprint ingredient that
    survives every hop (TTL and checksums change, the payload does not). Read for
    UDP only: TCP segments are already told apart by sequence and ack numbers, and
    the extra cache miss per packet is measurable."""
    head, captured = pb.u64(rows, start)
    cols.put("payload_head", rows, head, ok & captured & (length >= 8))


def _icmp(pb: PacketBytes, layer: IPLayer, idx: np.ndarray, cols: ColumnBuffers,
          errors: np.ndarray) -> None:
    r, p = layer.rows[idx], layer.l4[idx]
    v4 = layer.is_v4[idx]
    icmp_type, ok_type = pb.u8(r, p)
    icmp_code, ok_code = pb.u8(r, p + 1)
    cols.put("icmp_type", r, icmp_type, ok_type)
    cols.put("icmp_code", r, icmp_code, ok_code)
    cols.put("payload_len", r, np.maximum(layer.l4_end[idx] - p - 8, 0).astype(np.uint32))
    errors[r[~ok_code]] = ERR_L4_CUT
    # Next-hop MTU: ICMPv4 3/4 keeps it in the low 16 bits of the second word,
    # ICMPv6 Packet Too Big (2) in the whole 32-bit word.
    mtu16, ok16 = pb.u16(r, p + 6)
    mtu32, ok32 = pb.u32(r, p + 4)
    frag_needed = v4 & (icmp_type == 3) & (icmp_code == 4)
    too_big = ~v4 & (icmp_type == 2)
    cols.put("icmp_mtu", r[frag_needed], mtu16[frag_needed].astype(np.uint32), ok16[frag_needed])
    cols.put("icmp_mtu", r[too_big], mtu32[too_big], ok32[too_big])

    is_error = ok_type & np.where(v4, isin_small(icmp_type, ICMP_ERRORS),
                                  isin_small(icmp_type, ICMPV6_ERRORS))
    quoted = np.flatnonzero(is_error)
    if not len(quoted):
        return
    qr, qpos = r[quoted], p[quoted] + 8
    first, ok_first = pb.u8(qr, qpos)
    version = (first >> 4).astype(np.uint8)
    has_ip = ok_first & ((version == 4) | (version == 6))
    qr, qpos, version = qr[has_ip], qpos[has_ip], version[has_ip]
    # The quoted header describes a packet we do not have: bound it by the capture.
    inner = parse_ip(pb, qr, qpos, pb.offset[qr] * 0 + pb.caplen[qr], version)
    good = inner.ok
    cols.put_ip("icmp_orig_src", qr, inner.src_hi, inner.src_lo, good)
    cols.put_ip("icmp_orig_dst", qr, inner.dst_hi, inner.dst_lo, good)
    cols.put("icmp_orig_proto", qr, inner.proto, good & inner.proto_ok)
    q_idx, q_sport, q_dport, q_ok = ports(pb, inner)
    cols.put("icmp_orig_sport", qr[q_idx], q_sport, q_ok)
    cols.put("icmp_orig_dport", qr[q_idx], q_dport, q_ok)
