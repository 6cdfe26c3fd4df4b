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
from pcapkit.decode.config import DecodeConfig, protocol_codes
from pcapkit.decode.dns.payloads import DnsPayloads, find_dns_payloads
from pcapkit.decode.encap import (
    INNER_ETHERNET,
    INNER_IPV4,
    INNER_IPV6,
    EncapSpec,
    registered,
)
from pcapkit.decode.ip import IPLayer, parse_ip
from pcapkit.decode.l4 import TRANSPORT_COLUMNS, UDP, udp_ports, write_transport
from pcapkit.decode.link import ETHERTYPE_IPV4, ETHERTYPE_IPV6, ethernet, link_layer
from pcapkit.io.records import RecordBatch
from pcapkit.schema.decode import DECODED_PACKET_COLUMNS

ERR_TUNNEL, ERR_TOO_DEEP = 6, 7
#: decode_error vocabulary (codes from ip.py, l4.py and here)
ERROR_NAMES = {
    1: "IP version does not match the link layer",
    2: "bad IPv4 header length",
    3: "IP header cut short",
    4: "IPv6 extension headers cut short",
    5: "transport header cut short",
    6: "tunnel header cut short or invalid",
    7: "too many nested tunnels",
}

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


def _write_outer(cols: ColumnBuffers, layer: IPLayer, idx: np.ndarray,
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
    cols.put("ts", ALL, batch.ts_ns)
    cols.put("linktype", ALL, batch.linktype)
    cols.put("caplen", ALL, batch.caplen)
    cols.put("wirelen", ALL, batch.wirelen)
    cols.put("truncated", ALL, batch.caplen < batch.wirelen)
    errors = np.zeros(n, np.uint8)

    link = link_layer(pb, batch.linktype)
    cols.put("vlan", ALL, link.vlan, link.has_vlan)
    cols.put("if_index", ALL, link.if_index, link.has_if_index)
    cols.put("pkt_type", ALL, link.pkt_type, link.pkt_type >= 0)
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
        pos, wire_end = link.l3_pos[rows], batch.wirelen[rows]
        version = np.where(is_v4[rows], 4, 6).astype(np.uint8)
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
    """Decode one tunnel header for its rows of ``layer``; write what it says and
    return the rows that carry an inner IP header, with (position, IP version)."""
    idx, spec = tunnel.idx, tunnel.spec
    r = layer.rows[idx]
    inner = spec.decode(pb, r, tunnel.start)
    none = np.zeros(0, np.int64)
    all_ok = bool(inner.ok.all())
    if not all_ok:
        errors[r[~inner.ok]] = ERR_TUNNEL
    if depth >= config.max_tunnel_depth:
        errors[r[inner.ok]] = ERR_TOO_DEEP
        return none, (none, np.zeros(0, np.uint8))
    # A header cut short by the snaplen still names its tunnel (its port or
    # protocol did) and the VNI if captured, as Wireshark does; what it
    # carries is unknown, so src/dst stay on the last IP header.
    if all_ok:
        named, named_idx, named_j = r, idx, tunnel.udp_j
        vni_rows, vni = (r, inner.vni) if inner.has_vni.all() else \
            (r[inner.has_vni], inner.vni[inner.has_vni])
    else:
        keep = inner.ok | (inner.cut & ~inner.ok)
        named, named_idx = r[keep], idx[keep]
        named_j = None if tunnel.udp_j is None else tunnel.udp_j[keep]
        with_vni = keep & inner.has_vni  # a tunnel without one keeps the outer tunnel's
        vni_rows, vni = r[with_vni], inner.vni[with_vni]
    if depth == 0:
        _write_outer(cols, layer, named_idx, named_j)
    path[named] = path[named] * 32 + spec.code
    cols.put("vni", vni_rows, vni)
    if all_ok:
        kind, start = inner.kind, inner.start
    else:
        idx, r = idx[inner.ok], r[inner.ok]
        kind, start = inner.kind[inner.ok], inner.start[inner.ok]
    ethertype = np.full(len(r), -1, np.int32)
    ethertype[kind == INNER_IPV4] = ETHERTYPE_IPV4
    ethertype[kind == INNER_IPV6] = ETHERTYPE_IPV6
    is_eth = kind == INNER_ETHERNET
    if is_eth.all() and len(r):
        frame = ethernet(pb, r, start)
        cols.put("inner_src_mac", r, frame.src_mac, frame.mac_ok)
        cols.put("inner_dst_mac", r, frame.dst_mac, frame.mac_ok)
        ethertype, start = frame.ethertype, frame.next_pos
    elif is_eth.any():
        eth = np.flatnonzero(is_eth)
        frame = ethernet(pb, r[eth], start[eth])
        cols.put("inner_src_mac", r[eth], frame.src_mac, frame.mac_ok)
        cols.put("inner_dst_mac", r[eth], frame.dst_mac, frame.mac_ok)
        ethertype[eth] = frame.ethertype
        start = start.copy()
        start[eth] = frame.next_pos
    cols.put("ethertype", r, ethertype, ethertype >= 0)
    is_v4 = ethertype == ETHERTYPE_IPV4
    ip_inner = is_v4 | (ethertype == ETHERTYPE_IPV6)
    # A packet that ends with the tunnel header (a first IP fragment cut
    # there) carries no inner header at all, as opposed to one the snaplen cut.
    ip_inner &= start < layer.l4_end[idx]
    if not ip_inner.all():
        r, start, is_v4 = r[ip_inner], start[ip_inner], is_v4[ip_inner]
    # Rows whose tunnel carries no IP (ARP, say) keep the last IP header seen.
    cols.clear(INNER_COLUMNS, r)
    if final is not None:
        final.ok[r] = False
    return r, (start, np.where(is_v4, 4, 6).astype(np.uint8))
