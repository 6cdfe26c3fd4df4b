"""Transport headers (TCP, UDP, SCTP, ICMP, ICMPv6) and the headers quoted in ICMP errors."""

from __future__ import annotations

import numpy as np

from pcapkit.decode.buffers import ColumnBuffers
from pcapkit.decode.bytes import Header, PacketBytes, isin_small
from pcapkit.decode.errors import ERR_L4_CUT
from pcapkit.decode.ip import IPLayer, parse_ip

TCP, UDP, SCTP, ICMP, ICMPV6 = 6, 17, 132, 1, 58
PORT_PROTOCOLS = (TCP, UDP, SCTP)
#: ICMP types whose body quotes the offending packet's IP header
ICMP_ERRORS = (3, 4, 5, 11, 12)
ICMPV6_ERRORS = (1, 2, 3, 4)

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


def udp_ports(pb: PacketBytes, layer: IPLayer
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The UDP rows of ``layer`` as (index into layer, sport, dport, ok): what tunnels
    are recognised by. :func:`write_transport` leaves them behind; read here otherwise."""
    if layer.udp_ports is None:
        idx = np.flatnonzero(layer.l4_ok & (layer.proto == UDP))
        head = pb.header(layer.rows[idx], layer.l4[idx], 4)
        sport, _ = head.u16(0)
        dport, ok = head.u16(2)
        layer.udp_ports = (idx, sport, dport, ok)
    return layer.udp_ports


#: bytes of a TCP or UDP header read in one gather: TCP up to its window field;
#: UDP's 8 bytes plus the first 8 of its payload
TCP_HEAD, UDP_HEAD = 16, 16


def write_transport(pb: PacketBytes, layer: IPLayer, cols: ColumnBuffers,
                    errors: np.ndarray) -> None:
    """Decode the upper-layer header of each row of ``layer`` into the packet columns."""
    here = layer.l4_ok
    proto = layer.proto

    tcp = np.flatnonzero(here & (proto == TCP))
    if len(tcp):
        r, p = layer.rows[tcp], layer.l4[tcp]
        head = pb.header(r, p, TCP_HEAD)
        _put_ports(head, cols, r, errors)
        # Each field is valid as far as the capture goes: a capture cut inside the
        # ack number may still hold the sequence number, and so on.
        seq, ok_seq = head.u32(4)
        ack, ok_ack = head.u32(8)
        off_flags, ok_of = head.u16(12)
        window, ok_win = head.u16(14)
        cols.put("tcp_seq", r, seq, ok_seq)
        cols.put("tcp_ack", r, ack, ok_ack)
        cols.put("tcp_flags", r, off_flags & 0x01FF, ok_of)
        cols.put("tcp_window", r, window, ok_win)
        data_offset = (off_flags >> 12).astype(np.int64) * 4
        payload = layer.l4_end[tcp] - p - data_offset
        cols.put("payload_len", r, np.maximum(payload, 0).astype(np.uint32), ok_of & (data_offset >= 20))
        if not ok_win.all():
            errors[r[~ok_win]] = ERR_L4_CUT

    udp = np.flatnonzero(here & (proto == UDP))
    if len(udp):
        r, p = layer.rows[udp], layer.l4[udp]
        head = pb.header(r, p, UDP_HEAD)
        sport, dport, ok_ports = _put_ports(head, cols, r, errors)
        layer.udp_ports = (udp, sport, dport, ok_ports)
        length, ok_len = head.u16(4)
        cols.put("payload_len", r, np.maximum(length.astype(np.int64) - 8, 0).astype(np.uint32),
                 ok_len & (length >= 8))
        # First 8 payload bytes as one integer: a cheap fingerprint ingredient that
        # survives every hop (TTL and checksums change, the payload does not). Read for
        # UDP only: TCP segments are already told apart by sequence and ack numbers.
        payload_head, captured = head.u64(8)
        cols.put("payload_head", r, payload_head, ok_len & captured & (length >= 8))
        if not ok_len.all():
            errors[r[~ok_len]] = ERR_L4_CUT
    else:
        layer.udp_ports = (udp, np.zeros(0, np.uint16), np.zeros(0, np.uint16), np.zeros(0, bool))

    sctp = np.flatnonzero(here & (proto == SCTP))
    if len(sctp):
        r = layer.rows[sctp]
        _put_ports(pb.header(r, layer.l4[sctp], 4), cols, r, errors)

    icmp = np.flatnonzero(here & (((proto == ICMP) & layer.is_v4) |
                                  ((proto == ICMPV6) & ~layer.is_v4)))
    if len(icmp):
        _icmp(pb, layer, icmp, cols, errors)

    other = np.flatnonzero(here & ~isin_small(proto, (TCP, UDP, ICMP, ICMPV6)))
    if len(other):
        cols.put("payload_len", layer.rows[other],
                 np.maximum(layer.l4_end[other] - layer.l4[other], 0).astype(np.uint32))


def _put_ports(head: Header, cols: ColumnBuffers, rows: np.ndarray, errors: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Write the two ports at the start of ``head``; a capture cut inside them may
    still hold the source port. Returns (sport, dport, both ports captured)."""
    sport, ok_sport = head.u16(0)
    dport, ok_ports = head.u16(2)
    cols.put("sport", rows, sport, ok_sport)
    cols.put("dport", rows, dport, ok_ports)
    if not ok_ports.all():
        errors[rows[~ok_ports]] = ERR_L4_CUT
    return sport, dport, ok_ports


def _icmp(pb: PacketBytes, layer: IPLayer, idx: np.ndarray, cols: ColumnBuffers,
          errors: np.ndarray) -> None:
    r, p = layer.rows[idx], layer.l4[idx]
    v4 = layer.is_v4[idx]
    head = pb.header(r, p, 8)
    icmp_type, ok_type = head.u8(0)
    icmp_code, ok_code = head.u8(1)
    cols.put("icmp_type", r, icmp_type, ok_type)
    cols.put("icmp_code", r, icmp_code, ok_code)
    cols.put("payload_len", r, np.maximum(layer.l4_end[idx] - p - 8, 0).astype(np.uint32))
    errors[r[~ok_code]] = ERR_L4_CUT
    # Next-hop MTU: ICMPv4 3/4 keeps it in the low 16 bits of the second word,
    # ICMPv6 Packet Too Big (2) in the whole 32-bit word.
    mtu16, ok16 = head.u16(6)
    mtu32, ok32 = head.u32(4)
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
