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

from pcapkit.decode.bytes import PacketBytes, isin_small
from pcapkit.decode.columns import ColumnBuffers
from pcapkit.decode.config import DecodeConfig
from pcapkit.decode.encap import (
    INNER_ETHERNET,
    INNER_IPV4,
    INNER_IPV6,
    EncapSpec,
    registered,
)
from pcapkit.decode.ip import IPLayer, parse_ip
from pcapkit.decode.l4 import TCP, TRANSPORT_COLUMNS, UDP, ports, write_transport
from pcapkit.decode.link import ETHERTYPE_IPV4, ETHERTYPE_IPV6, ethernet, link_layer
from pcapkit.io.records import RecordBatch
from pcapkit.schema import PACKET_COLUMNS

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
DECODED_COLUMNS = tuple(c for c in PACKET_COLUMNS if c.name != "file")
IP_COLUMNS = ("src", "dst", "ip_version", "proto", "ttl", "ip_id", "ip_len", "frag_offset",
              "more_fragments", "dont_fragment")
INNER_COLUMNS = IP_COLUMNS + TRANSPORT_COLUMNS


@dataclass
class BatchResult:
    """Decoded columns of one batch, plus its DNS payloads (copied out of the
    batch's buffer, parsed only when someone asks for the DNS table)."""

    columns: ColumnBuffers
    dns: DnsPayloads | None


def _write_ip(cols: ColumnBuffers, layer: IPLayer) -> None:
    rows, ok = layer.rows, layer.ok
    cols.put_ip("src", rows, layer.src_hi, layer.src_lo, ok)
    cols.put_ip("dst", rows, layer.dst_hi, layer.dst_lo, ok)
    cols.put("ip_version", rows, layer.version, ok)
    cols.put("proto", rows, layer.proto, ok & layer.proto_ok)
    cols.put("ttl", rows, layer.ttl, layer.ttl_ok)
    cols.put("ip_id", rows, layer.ip_id, layer.has_id)
    cols.put("ip_len", rows, layer.ip_len.astype(np.uint32), ok)
    cols.put("frag_offset", rows, layer.frag_offset.astype(np.uint32), ok & layer.has_frag)
    cols.put("more_fragments", rows, layer.more_fragments, ok & layer.has_frag)
    cols.put("dont_fragment", rows, layer.dont_fragment, ok & layer.is_v4)


def _write_outer(pb: PacketBytes, cols: ColumnBuffers, layer: IPLayer, idx: np.ndarray) -> None:
    rows = layer.rows[idx]
    cols.put_ip("outer_src", rows, layer.src_hi[idx], layer.src_lo[idx], layer.ok[idx])
    cols.put_ip("outer_dst", rows, layer.dst_hi[idx], layer.dst_lo[idx], layer.ok[idx])
    cols.put("outer_proto", rows, layer.proto[idx])
    cols.put("outer_ttl", rows, layer.ttl[idx])
    p_idx, sport, dport, ok = ports(pb, layer)
    where = np.full(len(layer.rows), -1, np.int64)  # layer index -> position in the ports arrays
    where[p_idx] = np.arange(len(p_idx))
    j = where[idx]
    udp = (j >= 0) & (layer.proto[idx] == UDP)
    j = j[udp]
    cols.put("outer_sport", rows[udp], sport[j], ok[j])
    cols.put("outer_dport", rows[udp], dport[j], ok[j])


def _tunnels(pb: PacketBytes, layer: IPLayer, specs: list[tuple[EncapSpec, frozenset[int]]]
             ) -> list[tuple[EncapSpec, np.ndarray, np.ndarray]]:
    """Which rows of ``layer`` carry which tunnel: (spec, index into layer, header position)."""
    claimed = np.zeros(len(layer.rows), bool)
    found = []
    p_idx, sport, dport, p_ok = ports(pb, layer)
    udp = layer.proto[p_idx] == UDP
    for spec, udp_ports in specs:
        if spec.ip_protocols:
            sel = layer.ok & layer.l4_ok & isin_small(layer.proto, spec.ip_protocols) & ~claimed
            idx = np.flatnonzero(sel)
            found.append((spec, idx, layer.l4[idx]))
            claimed[idx] = True
        if udp_ports:
            port_list = list(udp_ports)
            hit = p_ok & udp & (isin_small(dport, port_list) | isin_small(sport, port_list))
            idx = p_idx[hit]
            idx = idx[~claimed[idx]]
            found.append((spec, idx, layer.l4[idx] + 8))
            claimed[idx] = True
    return [f for f in found if len(f[1])]


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
    found = [_decode_slice(_slice(batch, start, min(start + SLICE, n)), config,
                           cols.window(start, min(SLICE, n - start)), start)
             for start in range(0, n, SLICE)]
    dns = DnsPayloads.concat([f for f in found if f is not None])
    if dns is None or not len(dns.rows):
        return BatchResult(cols, None)
    return BatchResult(cols, dns.compact(batch.data))


def _slice(batch: RecordBatch, start: int, stop: int) -> RecordBatch:
    return RecordBatch(batch.file, batch.data, batch.offset[start:stop], batch.caplen[start:stop],
                       batch.wirelen[start:stop], batch.ts_ns[start:stop],
                       batch.interface[start:stop], batch.linktype[start:stop],
                       batch.frame[start:stop], batch.file_offset[start:stop], batch.interfaces)


def _decode_slice(batch: RecordBatch, config: DecodeConfig, cols: ColumnBuffers,
                  first_row: int) -> DnsPayloads | None:
    """Decode one cache-sized slice into ``cols``; return where its DNS payloads are."""
    n = len(batch)
    pb = PacketBytes(batch.data, batch.offset, batch.caplen)
    every = np.arange(n)
    cols.put("frame", every, batch.frame)
    cols.put("interface", every, batch.interface.astype(np.int64))
    cols.put("ts", every, batch.ts_ns)
    cols.put("linktype", every, batch.linktype.astype(np.uint16))
    cols.put("caplen", every, batch.caplen.astype(np.uint32))
    cols.put("wirelen", every, batch.wirelen.astype(np.uint32))
    cols.put("truncated", every, batch.caplen < batch.wirelen)
    errors = np.zeros(n, np.uint8)

    link = link_layer(pb, batch.linktype)
    cols.put("vlan", every, link.vlan, link.has_vlan)
    cols.put("if_index", every, link.if_index, link.has_if_index)
    cols.put("pkt_type", every, link.pkt_type, link.pkt_type >= 0)
    cols.put("ethertype", every, link.ethertype.astype(np.uint16), link.ethertype >= 0)

    specs = [(s, config.ports_for(s)) for s in registered().values()]
    path = np.zeros(n, np.int64)
    final_l4 = np.zeros(n, np.int64)
    final_end = np.zeros(n, np.int64)
    final_ok = np.zeros(n, bool)
    is_ip = (link.ethertype == ETHERTYPE_IPV4) | (link.ethertype == ETHERTYPE_IPV6)
    rows = np.flatnonzero(is_ip)
    pos = link.l3_pos[rows]
    version = np.where(link.ethertype[rows] == ETHERTYPE_IPV4, 4, 6).astype(np.uint8)
    depth = 0
    while len(rows):
        layer = parse_ip(pb, rows, pos, batch.wirelen[rows], version)
        errors[rows[layer.error > 0]] = layer.error[layer.error > 0]
        _write_ip(cols, layer)
        write_transport(pb, layer, cols, errors)
        final_l4[rows], final_end[rows] = layer.l4, layer.l4_end
        final_ok[rows] = layer.l4_ok & layer.proto_ok
        next_rows, next_pos, next_version = [], [], []
        for spec, idx, start in _tunnels(pb, layer, specs):
            r = rows[idx]
            inner = spec.decode(pb, r, start)
            errors[r[~inner.ok]] = ERR_TUNNEL
            if depth >= config.max_tunnel_depth:
                errors[r[inner.ok]] = ERR_TOO_DEEP
                continue
            # A header cut short by the snaplen still names its tunnel (its port or
            # protocol did) and the VNI if captured, as Wireshark does; what it
            # carries is unknown, so src/dst stay on the last IP header.
            cut = inner.cut & ~inner.ok
            if depth == 0:
                _write_outer(pb, cols, layer, idx[cut])
            path[r[cut]] = path[r[cut]] * 32 + spec.code
            cut_vni = cut & inner.has_vni
            cols.put("vni", r[cut_vni], inner.vni[cut_vni])
            idx, r = idx[inner.ok], r[inner.ok]
            kind, start = inner.kind[inner.ok], inner.start[inner.ok]
            if depth == 0:
                _write_outer(pb, cols, layer, idx)
            path[r] = path[r] * 32 + spec.code
            has_vni = inner.has_vni[inner.ok]  # a tunnel without one keeps the outer tunnel's
            cols.put("vni", r[has_vni], inner.vni[inner.ok][has_vni])
            ethertype = np.full(len(r), -1, np.int32)
            ethertype[kind == INNER_IPV4] = ETHERTYPE_IPV4
            ethertype[kind == INNER_IPV6] = ETHERTYPE_IPV6
            eth = np.flatnonzero(kind == INNER_ETHERNET)
            if len(eth):
                frame = ethernet(pb, r[eth], start[eth])
                cols.put("inner_src_mac", r[eth], frame.src_mac, frame.mac_ok)
                cols.put("inner_dst_mac", r[eth], frame.dst_mac, frame.mac_ok)
                ethertype[eth] = frame.ethertype
                start[eth] = frame.next_pos
            cols.put("ethertype", r, ethertype.astype(np.uint16), ethertype >= 0)
            ip_inner = (ethertype == ETHERTYPE_IPV4) | (ethertype == ETHERTYPE_IPV6)
            # A packet that ends with the tunnel header (a first IP fragment cut
            # there) carries no inner header at all, as opposed to one the snaplen cut.
            ip_inner &= start < layer.l4_end[idx]
            # Rows whose tunnel carries no IP (ARP, say) keep the last IP header seen.
            cols.clear(INNER_COLUMNS, r[ip_inner])
            final_ok[r[ip_inner]] = False
            next_rows.append(r[ip_inner])
            next_pos.append(start[ip_inner])
            next_version.append(np.where(ethertype[ip_inner] == ETHERTYPE_IPV4, 4, 6))
        if not next_rows:
            break
        rows = np.concatenate(next_rows)
        pos = np.concatenate(next_pos)
        version = np.concatenate(next_version).astype(np.uint8)
        depth += 1

    cols.put("encap", every, path)
    cols.put("decode_error", every, errors.astype(np.int64), errors > 0)
    if not config.dns:
        return None
    return _dns_payloads(pb, cols, final_l4, final_end, final_ok, config, first_row)


@dataclass
class DnsPayloads:
    """Where the DNS messages of a batch are, to be parsed in one call."""

    rows: np.ndarray        # packet rows in the batch
    start: np.ndarray       # position of each payload in ``data``
    length: np.ndarray      # captured payload bytes
    tcp: np.ndarray
    complete: np.ndarray    # the capture holds the whole payload
    fragment: np.ndarray    # first fragment of a fragmented datagram
    data: np.ndarray | None = None  # the payload bytes, once compacted

    @staticmethod
    def concat(parts: list[DnsPayloads]) -> DnsPayloads | None:
        if not parts:
            return None
        return DnsPayloads(*(np.concatenate([getattr(p, f) for p in parts])
                             for f in ("rows", "start", "length", "tcp", "complete", "fragment")))

    def compact(self, source: np.ndarray) -> DnsPayloads:
        """The same payloads with their bytes copied out of ``source`` (the batch's
        buffer, which the reader reuses), back to back."""
        starts = np.zeros(len(self.length), np.int64)
        np.cumsum(self.length[:-1], out=starts[1:])
        index = np.repeat(self.start - starts, self.length) + np.arange(int(self.length.sum()))
        return DnsPayloads(self.rows, starts, self.length, self.tcp, self.complete,
                           self.fragment, source[index])

    def parse(self) -> object:
        """The DNS table of these payloads (a DataFrame, one row each)."""
        from pcapkit.decode.dns import parse_dns_batch

        assert self.data is not None, "compact() the payloads before parsing them"
        frame = parse_dns_batch(self.data, self.start, self.length, self.tcp, self.complete)
        # The first fragment of a datagram holds the DNS header and question but not
        # the whole message; pcapkit does not reassemble IP fragments.
        if self.fragment.any():
            frame.loc[self.fragment, "incomplete"] = True
            frame.loc[self.fragment, "error"] = "first IP fragment of the message (not reassembled)"
        return frame


def _dns_payloads(pb: PacketBytes, cols: ColumnBuffers, l4: np.ndarray, l4_end: np.ndarray,
                  ok: np.ndarray, config: DecodeConfig, first_row: int) -> DnsPayloads | None:
    """Find DNS payloads: UDP or TCP on a DNS port, at the innermost layer."""
    proto = cols.values["proto"]
    valid = cols.valid
    dns_ports = list(config.dns_ports)
    on_port = valid["sport"] & valid["dport"] & (
        isin_small(cols.values["sport"], dns_ports) | isin_small(cols.values["dport"], dns_ports))
    udp = ok & on_port & (proto == UDP) & valid["payload_len"]
    tcp = ok & on_port & (proto == TCP) & valid["payload_len"] & (cols.values["payload_len"] > 0) \
        & valid["tcp_flags"]
    rows = np.flatnonzero(udp | tcp)
    if not len(rows):
        return None
    is_tcp = tcp[rows]
    payload_len = cols.values["payload_len"][rows].astype(np.int64)
    header = np.where(is_tcp, l4_end[rows] - l4[rows] - payload_len, 8)
    start = l4[rows] + header
    end = start + payload_len
    captured = np.minimum(end, pb.caplen[rows])
    keep = captured > start
    rows, start, end, captured, is_tcp = rows[keep], start[keep], end[keep], captured[keep], is_tcp[keep]
    fragment = cols.valid["more_fragments"][rows] & cols.values["more_fragments"][rows]
    return DnsPayloads(rows + first_row, pb.offset[rows] + start, captured - start, is_tcp,
                       captured >= end, fragment)
