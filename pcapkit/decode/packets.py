"""The packet decoder: one record batch in, one row per packet out.

Layers are peeled as arrays over the whole batch: link layer, then IP, then
the transport; where the transport or IP protocol names a registered tunnel,
its rows go round again with the inner frame, up to a depth limit. The first
IP header becomes the outer (underlay) columns of tunnelled packets; the last
one is the innermost (overlay) header the ``src``/``dst`` columns describe. A
tunnel that carries no IP (ARP in VXLAN), or whose header the snaplen cut (it
still shows in ``encap``), leaves ``src``/``dst`` on the last IP header there
is, as Wireshark's ``ip.src`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pcapkit.decode.buffers import ColumnBuffers
from pcapkit.decode.bytes import PacketBytes, isin_small
from pcapkit.decode.checksum import udp_checksum_ok
from pcapkit.decode.config import DecodeConfig, protocol_codes
from pcapkit.decode.dns.payloads import DnsPayloads, find_dns_payloads
from pcapkit.decode.encap import (
    ETHERTYPE_TEB,
    NO_PAYLOAD_TYPE,
    EncapSpec,
    Inner,
    by_payload_type,
    registered,
)
from pcapkit.decode.errors import (
    ERR_ETHERNET_CUT,
    ERR_LINK_CUT,
    ERR_PAYLOAD_CUT,
    ERR_TOO_DEEP,
    ERR_TUNNEL_CUT,
    ERR_TUNNEL_INVALID,
    with_value,
)
from pcapkit.decode.ip import IPLayer, parse_ip
from pcapkit.decode.l4 import TRANSPORT_COLUMNS, UDP, udp_ports, write_transport
from pcapkit.decode.link import ETHERTYPE_IPV4, ETHERTYPE_IPV6, ethernet, link_layer
from pcapkit.io.records import RecordBatch
from pcapkit.io.timestamps import NO_TIMESTAMP
from pcapkit.schema.decode import DECODED_PACKET_COLUMNS

#: every column but the file name, which is the same for a whole file
DECODED_COLUMNS = tuple(c for c in DECODED_PACKET_COLUMNS if c.name != "file")
IP_COLUMNS = ("src", "dst", "ip_version", "proto", "ttl", "ip_id", "ip_len", "frag_offset",
              "more_fragments", "dont_fragment")
INNER_COLUMNS = IP_COLUMNS + TRANSPORT_COLUMNS


@dataclass
class BatchResult:
    """Decoded columns of one batch, plus its DNS payloads (copied out of the
    batch's buffer, parsed only when someone asks for the DNS table)."""

    columns: ColumnBuffers
    dns: DnsPayloads | None


#: ``rows`` meaning every row of a slice: a slice assignment costs a tenth of a scatter
ALL = slice(None)


def _write_ip(cols: ColumnBuffers, layer: IPLayer, target: np.ndarray | slice) -> None:
    """Write the IP columns of ``layer`` to ``target`` (its rows, or ALL when they are
    every row of the slice)."""
    ok = layer.ok
    cols.put_ip("src", target, layer.src_hi, layer.src_lo, ok)
    cols.put_ip("dst", target, layer.dst_hi, layer.dst_lo, ok)
    cols.put("ip_version", target, layer.version, ok)
    cols.put("proto", target, layer.proto, ok & layer.proto_ok)
    cols.put("ttl", target, layer.ttl, layer.ttl_ok)
    cols.put("ip_id", target, layer.ip_id, layer.has_id)
    cols.put("ip_len", target, layer.ip_len, ok)  # stored as uint32, as the column is
    frag_ok = ok & layer.has_frag
    cols.put("frag_offset", target, layer.frag_offset, frag_ok)
    cols.put("more_fragments", target, layer.more_fragments, frag_ok)
    cols.put("dont_fragment", target, layer.dont_fragment, ok & layer.is_v4)


def _write_outer(pb: PacketBytes, cols: ColumnBuffers, layer: IPLayer, idx: np.ndarray,
                 udp_j: np.ndarray | None) -> None:
    """The outer (underlay) columns of the tunnelled rows ``idx`` of ``layer``;
    ``udp_j`` says where each sits in the layer's UDP ports (-1: not UDP), when
    the tunnel may ride on UDP."""
    rows = layer.rows[idx]
    ok = layer.ok[idx]
    cols.put_ip("outer_src", rows, layer.src_hi[idx], layer.src_lo[idx], ok)
    cols.put_ip("outer_dst", rows, layer.dst_hi[idx], layer.dst_lo[idx], ok)
    cols.put("outer_proto", rows, layer.proto[idx])
    cols.put("outer_ttl", rows, layer.ttl[idx])
    if udp_j is None:
        return
    on_udp = udp_j >= 0
    if not on_udp.all():
        rows, udp_j = rows[on_udp], udp_j[on_udp]
    _, sport, dport, ports_ok = layer.udp_ports
    ok = ports_ok[udp_j]
    cols.put("outer_sport", rows, sport[udp_j], ok)
    cols.put("outer_dport", rows, dport[udp_j], ok)
    at = idx if on_udp.all() else idx[on_udp]
    verified, known = udp_checksum_ok(pb, rows, layer.l4[at], layer.src_hi[at],
                                      layer.src_lo[at], layer.dst_hi[at], layer.dst_lo[at],
                                      layer.is_v4[at])
    cols.put("outer_udp_checksum_ok", rows, verified, known)


@dataclass
class _Tunnel:
    """Rows of a layer that carry one kind of tunnel."""

    spec: EncapSpec
    idx: np.ndarray                 # index into the layer
    start: np.ndarray               # position of the tunnel header
    udp_j: np.ndarray | None        # index into the layer's UDP ports (UDP tunnels)


def _tunnels(pb: PacketBytes, layer: IPLayer, config: DecodeConfig) -> list[_Tunnel]:
    """Which rows of ``layer`` carry which tunnel: an IP protocol a tunnel registered
    (each protocol has one tunnel), else the protocol the config's UDP port table
    gives the datagram's ports (:func:`pcapkit.decode.config.protocol_codes`)."""
    claimed: np.ndarray | None = None  # made when a tunnel first claims rows
    found = []
    u_idx, u_sport, u_dport, u_ok = udp_ports(pb, layer)
    for spec in registered().values():
        if spec.ip_protocols:
            sel = layer.ok & layer.l4_ok & isin_small(layer.proto, spec.ip_protocols)
            idx = np.flatnonzero(sel)
            if len(idx):
                udp_j = _positions(u_idx, idx) if UDP in spec.ip_protocols else None
                found.append(_Tunnel(spec, idx, layer.l4[idx], udp_j))
                claimed = _claim(claimed, len(layer.rows), idx)
    if not len(u_idx) or not config.udp_tunnels:
        return found
    codes = protocol_codes(config.tables["udp"], u_sport, u_dport)
    codes[~u_ok] = 0
    if claimed is not None:
        codes[claimed[u_idx]] = 0
    for spec in config.udp_tunnels:
        j = np.flatnonzero(codes == spec.code)
        if len(j):
            idx = u_idx[j]
            found.append(_Tunnel(spec, idx, layer.l4[idx] + 8, j))
    return found


def _claim(claimed: np.ndarray | None, n: int, idx: np.ndarray) -> np.ndarray:
    if claimed is None:
        claimed = np.zeros(n, bool)
    claimed[idx] = True
    return claimed


def _positions(sorted_idx: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Where each of ``idx`` sits in ``sorted_idx`` (-1 when absent)."""
    if not len(sorted_idx):
        return np.full(len(idx), -1, np.int64)
    at = np.minimum(np.searchsorted(sorted_idx, idx), len(sorted_idx) - 1)
    return np.where(sorted_idx[at] == idx, at, -1)


#: Packets decoded together. Every header field is one pass over the slice's
#: packets: a slice whose header bytes stay in the CPU cache makes those passes
#: cheap, a larger one pays the per-call overhead of numpy less often. Measured
#: on the benchmark capture (2-core EPYC VM): 4096 and 16384 decode ~15% faster
#: than 65536, 16384 by a hair the fastest.
SLICE = 16384


def decode_batch(batch: RecordBatch, config: DecodeConfig | None = None,
                 out: ColumnBuffers | None = None) -> BatchResult:
    """Decode every packet of ``batch`` into column buffers (``out``, when given:
    a window of a larger table, so batches need no concatenation)."""
    config = config or DecodeConfig()
    n = len(batch)
    cols = out if out is not None else ColumnBuffers(n, DECODED_COLUMNS)
    found = [_decode_slice(batch.slice(start, min(start + SLICE, n)), config,
                           cols.window(start, min(SLICE, n - start)), start)
             for start in range(0, n, SLICE)]
    dns = DnsPayloads.concat([f for f in found if f is not None])
    if dns is None or not len(dns.rows):
        return BatchResult(cols, None)
    return BatchResult(cols, dns.compact(batch.data))


def _decode_slice(batch: RecordBatch, config: DecodeConfig, cols: ColumnBuffers,
                  first_row: int) -> DnsPayloads | None:
    """Decode one cache-sized slice into ``cols``; return where its DNS payloads are.

    ``cols`` is a window of exactly this slice, so a column written for every
    packet is a slice assignment (ALL) rather than a scatter."""
    n = len(batch)
    pb = PacketBytes(batch.data, batch.offset, batch.caplen)
    # Assignment casts to each column's type (int32 interface -> int64, ...).
    cols.put("frame", ALL, batch.frame)
    cols.put("interface", ALL, batch.interface)
    cols.put("ts", ALL, batch.ts_ns, batch.ts_ns != NO_TIMESTAMP)  # NaT where none (SPB)
    cols.put("linktype", ALL, batch.linktype)
    cols.put("caplen", ALL, batch.caplen)
    cols.put("wirelen", ALL, batch.wirelen)
    cols.put("truncated", ALL, batch.caplen < batch.wirelen)
    errors = np.zeros(n, np.int64)  # decode_error codes (pcapkit.decode.errors)

    link = link_layer(pb, batch.linktype)
    errors[link.l3_pos > batch.caplen] = ERR_LINK_CUT  # the frame ends inside its link header
    cols.put("vlan", ALL, link.vlan, link.has_vlan)
    cols.put("if_index", ALL, link.if_index, link.has_if_index)
    cols.put("pkt_type", ALL, link.pkt_type, link.pkt_type >= 0)
    cols.put("eth_src", ALL, link.eth_src, link.has_eth)
    cols.put("eth_dst", ALL, link.eth_dst, link.has_eth)
    cols.put("ethertype", ALL, link.ethertype, link.ethertype >= 0)

    path = np.zeros(n, np.int64)
    final = _FinalLayer(n) if config.dns else None
    is_v4 = link.ethertype == ETHERTYPE_IPV4
    is_ip = is_v4 | (link.ethertype == ETHERTYPE_IPV6)
    if is_ip.all():  # the usual case: every packet's link layer carries IP
        rows, pos, wire_end = pb.every, link.l3_pos, batch.wirelen
        version = np.where(is_v4, 4, 6).astype(np.uint8)
    else:
        rows = np.flatnonzero(is_ip)
        pos = link.l3_pos[rows]
        version = np.where(is_v4[rows], 4, 6).astype(np.uint8)
        # Tunnels right on the link (MPLS): their IP headers join the first round.
        on_link = np.flatnonzero(isin_small(link.ethertype, list(_payload_table(None))))
        if len(on_link):
            more, (more_pos, more_version) = _follow(
                pb, cols, on_link, link.l3_pos[on_link], link.ethertype[on_link],
                batch.wirelen[on_link].astype(np.int64), None, config, path, errors, final)
            rows, pos = np.concatenate([rows, more]), np.concatenate([pos, more_pos])
            version = np.concatenate([version, more_version])
        wire_end = batch.wirelen[rows]
    depth = 0
    while len(rows):
        layer = parse_ip(pb, rows, pos, wire_end, version)
        if layer.error.any():
            bad = np.flatnonzero(layer.error)
            errors[rows[bad]] = layer.error[bad]
        _write_ip(cols, layer, ALL if rows is pb.every else rows)
        write_transport(pb, layer, cols, errors)
        if final is not None:
            final.record(layer)
        next_rows, next_pos = [], []
        for tunnel in _tunnels(pb, layer, config):
            inner_rows, inner_pos = _tunnel_layer(pb, cols, layer, tunnel, depth, config, path,
                                                  errors, final)
            next_rows.append(inner_rows)
            next_pos.append(inner_pos)
        if not next_rows:
            break
        rows = np.concatenate(next_rows) if len(next_rows) > 1 else next_rows[0]
        pos = np.concatenate([p for p, _ in next_pos]) if len(next_pos) > 1 else next_pos[0][0]
        version = (np.concatenate([v for _, v in next_pos]) if len(next_pos) > 1
                   else next_pos[0][1])
        wire_end = batch.wirelen[rows]
        depth += 1

    cols.put("encap", ALL, path)
    cols.put("decode_error", ALL, errors, errors > 0)
    if final is None:
        return None
    return find_dns_payloads(pb, cols, final.l4, final.end, final.ok, config, first_row)


class _FinalLayer:
    """Per packet, where the upper-layer header of its last IP header is (for DNS)."""

    def __init__(self, n: int) -> None:
        self.l4 = np.zeros(n, np.int64)
        self.end = np.zeros(n, np.int64)
        self.ok = np.zeros(n, bool)

    def record(self, layer: IPLayer) -> None:
        rows = layer.rows
        self.l4[rows], self.end[rows] = layer.l4, layer.l4_end
        self.ok[rows] = layer.l4_ok & layer.proto_ok


def _tunnel_layer(pb: PacketBytes, cols: ColumnBuffers, layer: IPLayer, tunnel: _Tunnel,
                  depth: int, config: DecodeConfig, path: np.ndarray, errors: np.ndarray,
                  final: _FinalLayer | None
                  ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Decode one tunnel header for its rows of ``layer``, then what its payload
    names up to the next IP header; return the rows that carry an inner IP header,
    with (position, IP version)."""
    idx, spec = tunnel.idx, tunnel.spec
    r = layer.rows[idx]
    inner, named, go = _enter(pb, cols, spec, r, tunnel.start,
                              np.full(len(r), NO_PAYLOAD_TYPE, np.int32), config, path, errors)
    # A header cut short by the snaplen still names its tunnel (its port or
    # protocol did), as Wireshark does; what it carries is unknown, so src/dst
    # stay on the last IP header.
    if depth == 0:
        if named is None:
            _write_outer(pb, cols, layer, idx, tunnel.udp_j)
        else:
            _write_outer(pb, cols, layer, idx[named],
                         None if tunnel.udp_j is None else tunnel.udp_j[named])
    end = layer.l4_end[idx]
    if go is None:
        return _follow(pb, cols, r, inner.start, inner.protocol, end, spec.name, config, path,
                       errors, final)
    return _follow(pb, cols, r[go], inner.start[go], inner.protocol[go], end[go], spec.name,
                   config, path, errors, final)


#: encapsulation paths are base-32 digits in an int64: at most this many tunnels
MAX_PATH_DIGITS = 12


def _enter(pb: PacketBytes, cols: ColumnBuffers, spec: EncapSpec, rows: np.ndarray,
           start: np.ndarray, protocol: np.ndarray, config: DecodeConfig, path: np.ndarray,
           errors: np.ndarray) -> tuple[Inner, np.ndarray | None, np.ndarray | None]:
    """Decode ``spec``'s header at ``start`` of ``rows``: record its errors, add it to
    the rows' ``encap`` path, write its VNI. Returns the decoder's result, the rows
    it names and the rows whose payload is to be followed (masks over ``rows``;
    None: all of them)."""
    inner = spec.decode(pb, rows, start, protocol)
    depth = min(config.max_tunnel_depth, MAX_PATH_DIGITS)
    deep = path[rows] >= (32 ** (depth - 1) if depth else 0)  # ``depth`` tunnels already
    if inner.ok.all() and not inner.error.any() and not deep.any():  # the usual case
        path[rows] = path[rows] * 32 + spec.code
        if inner.has_vni.all():
            cols.put("vni", rows, inner.vni)
        else:
            cols.put("vni", rows[inner.has_vni], inner.vni[inner.has_vni])
        return inner, None, None
    error = inner.error
    failed = np.flatnonzero(~inner.ok)
    errors[rows[failed]] = np.where(error[failed] != 0, error[failed],
                                    np.where(inner.cut[failed], ERR_TUNNEL_CUT,
                                             ERR_TUNNEL_INVALID))
    errors[rows[deep & inner.ok]] = ERR_TOO_DEEP
    named = (inner.ok | inner.cut | (error != 0)) & ~deep
    path[rows[named]] = path[rows[named]] * 32 + spec.code
    with_vni = named & inner.has_vni  # a tunnel without one keeps the outer tunnel's
    cols.put("vni", rows[with_vni], inner.vni[with_vni])
    stops = inner.ok & (error != 0) & ~deep  # understood, but its payload is not decoded
    errors[rows[stops]] = error[stops]
    return inner, named, inner.ok & (error == 0) & ~deep


def _follow(pb: PacketBytes, cols: ColumnBuffers, rows: np.ndarray, start: np.ndarray,
            protocol: np.ndarray, end: np.ndarray, carrier: str | None, config: DecodeConfig,
            path: np.ndarray, errors: np.ndarray, final: _FinalLayer | None
            ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Follow payloads from ``start`` of ``rows``, whose type ``protocol`` (an EtherType)
    ``carrier`` announced (a tunnel's name; None for the capture link): Ethernet
    frames and tunnels named by a payload type (MPLS, ERSPAN, PPP ...), until an IP
    header, returned with (position, IP version) for the next round, or something
    pcapkit does not decode, which a tunnel's announcement makes an error. ``end``
    is where each row's payload ends (its IP payload, or the packet on the wire)."""
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    pending = [(rows, start, protocol, end, carrier)]
    while pending:
        rows, start, protocol, end, carrier = pending.pop()
        # A packet that ends with a tunnel header (a first IP fragment cut there)
        # carries no payload at all, as opposed to one the snaplen cut.
        there = start < end
        eth = np.flatnonzero(there & (protocol == ETHERTYPE_TEB)) if carrier is not None else ()
        if len(eth):  # Ethernet frames: their EtherType says what follows
            if len(eth) < len(rows):
                others = np.ones(len(rows), bool)
                others[eth] = False
                pending.append((rows[others], start[others], protocol[others], end[others],
                                carrier))
                rows, start, end = rows[eth], start[eth], end[eth]
            frame = ethernet(pb, rows, start)
            cols.put("inner_src_mac", rows, frame.src_mac, frame.mac_ok)
            cols.put("inner_dst_mac", rows, frame.dst_mac, frame.mac_ok)
            errors[rows[frame.next_pos > pb.captured_length(rows)]] = ERR_ETHERNET_CUT
            protocol, start, carrier = frame.ethertype, frame.next_pos, None
            there = start < end
        cols.put("ethertype", rows, protocol & 0xFFFF, protocol >= 0)
        is_v4 = protocol == ETHERTYPE_IPV4
        ip = there & (is_v4 | (protocol == ETHERTYPE_IPV6))
        if ip.all():
            found.append((rows, start, is_v4))
            continue
        found.append((rows[ip], start[ip], is_v4[ip]))
        rest = there & ~ip
        for value, spec in _payload_specs(carrier, protocol, rest):
            sel = np.flatnonzero(rest & (protocol == value))
            rest[sel] = False
            r = rows[sel]
            inner, _, go = _enter(pb, cols, spec, r, start[sel], protocol[sel], config, path,
                                  errors)
            if go is None:
                pending.append((r, inner.start, inner.protocol, end[sel], spec.name))
            else:
                pending.append((r[go], inner.start[go], inner.protocol[go], end[sel][go],
                                spec.name))
        if carrier is not None and rest.any():
            left = np.flatnonzero(rest)
            known = protocol[left] >= 0
            unknown = left[known]
            spec = registered()[carrier]
            errors[rows[unknown]] = with_value(spec.unknown_payload, protocol[unknown])
            # A tunnel that names no payload type and whose payload was not captured
            silent = left[~known]
            missing = silent[start[silent] >= pb.captured_length(rows[silent])]
            errors[rows[missing]] = ERR_PAYLOAD_CUT
    if len(found) == 1:
        rows, start, is_v4 = found[0]
    else:
        rows, start, is_v4 = (np.concatenate(parts) for parts in zip(*found, strict=True))
    # Rows whose tunnel carries no IP (ARP, say) keep the last IP header seen.
    cols.clear(INNER_COLUMNS, rows)
    if final is not None:
        final.ok[rows] = False
    return rows, (start, np.where(is_v4, 4, 6).astype(np.uint8))


def _payload_specs(carrier: str | None, protocol: np.ndarray, rest: np.ndarray
                   ) -> list[tuple[int, EncapSpec]]:
    """The (payload type, tunnel) pairs among the ``rest`` rows' payload types."""
    if not rest.any():
        return []
    table = _payload_table(carrier)
    present = np.unique(protocol[rest])
    return [(int(v), table[int(v)]) for v in present if int(v) in table]


def _payload_table(carrier: str | None) -> dict[int, EncapSpec]:
    """:func:`by_payload_type` of ``carrier``, made once."""
    table = _BY_PAYLOAD_TYPE.get(carrier)
    if table is None:
        table = _BY_PAYLOAD_TYPE[carrier] = by_payload_type(carrier)
    return table


_BY_PAYLOAD_TYPE: dict[str | None, dict[int, EncapSpec]] = {}
