"""Where the DNS messages of decoded packets are, and their bytes, until parsed.

The packet decoder finds DNS payloads (UDP or TCP on a DNS port, at the
innermost layer) as arrays and copies their bytes out of the batch's buffer;
they are parsed into the DNS table (:mod:`pcapkit.decode.dns.table`) only when
someone asks for it, so packet-only work never pays for per-message Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pcapkit.decode.buffers import ColumnBuffers
from pcapkit.decode.bytes import PacketBytes
from pcapkit.decode.config import DNS_CODE, DecodeConfig, protocol_codes
from pcapkit.decode.l4 import TCP, UDP


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
        from pcapkit.decode.dns.table import parse_dns_batch  # pandas: only when parsed

        assert self.data is not None, "compact() the payloads before parsing them"
        frame = parse_dns_batch(self.data, self.start, self.length, self.tcp, self.complete)
        # The first fragment of a datagram holds the DNS header and question but not
        # the whole message; pcapkit does not reassemble IP fragments.
        if self.fragment.any():
            frame.loc[self.fragment, "incomplete"] = True
            frame.loc[self.fragment, "error"] = "first IP fragment of the message (not reassembled)"
        return frame


def find_dns_payloads(pb: PacketBytes, cols: ColumnBuffers, l4: np.ndarray, l4_end: np.ndarray,
                      ok: np.ndarray, config: DecodeConfig, first_row: int
                      ) -> DnsPayloads | None:
    """Find DNS payloads: UDP or TCP whose ports the config decodes as DNS, at the
    innermost layer (``l4``, ``l4_end``, ``ok``: where each packet's last IP header's
    upper layer is). Rows are numbered from ``first_row``, the slice's first row in
    its batch."""
    proto = cols.values["proto"]
    valid = cols.valid
    sport, dport = cols.values["sport"], cols.values["dport"]
    on_ports = ok & valid["sport"] & valid["dport"] & valid["payload_len"]
    udp = on_ports & (proto == UDP) & \
        (protocol_codes(config.tables["udp"], sport, dport) == DNS_CODE)
    tcp = on_ports & (proto == TCP) & (cols.values["payload_len"] > 0) & valid["tcp_flags"] & \
        (protocol_codes(config.tables["tcp"], sport, dport) == DNS_CODE)
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


#: DNS payloads not parsed yet, each batch's paired with the packet-table row
#: its first packet landed on
DnsParts = list[tuple[int, DnsPayloads | None]]
