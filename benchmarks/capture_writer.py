"""Stamp the plan into copies of the template frames and write a classic pcap.

All packets that share a template are handled together as one 2-D uint8 array
(one row per packet): copy the template into every row, overwrite the varying
columns, recompute IPv4 and TCP/UDP checksums column-wise, then scatter the rows
to their place in the output buffer.  No Python code runs per packet.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from capture_frames import IPPROTO_TCP, Frame
from capture_plan import PacketPlan
from capture_templates import Catalogue

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)   # microsecond, EN10MB
RECORD_HEADER = 16
ROWS_PER_CHUNK = 8192              # bounds the scatter index to ~100 MB


def _word_sum(block: np.ndarray) -> np.ndarray:
    """Sum of the big-endian 16-bit words of each row (rows have an even width)."""
    high = block[:, 0::2].sum(axis=1, dtype=np.uint64) << np.uint64(8)
    return high + block[:, 1::2].sum(axis=1, dtype=np.uint64)


def _fold_complement(total: np.ndarray) -> np.ndarray:
    for _ in range(4):
        total = (total & np.uint64(0xFFFF)) + (total >> np.uint64(16))
    return (~total & np.uint64(0xFFFF)).astype(np.uint16)


def _bytes_word_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    return int(np.frombuffer(data, dtype=">u2").sum(dtype=np.uint64))


def _put_big_endian(rows: np.ndarray, offset: int, width: int, values: np.ndarray) -> None:
    as_bytes = values.astype(">u4").view(np.uint8).reshape(-1, 4)
    rows[:, offset:offset + width] = as_bytes[:, 4 - width:]


class TemplateStamper:
    """Precomputed facts about one template so each chunk of copies is cheap to finish."""

    def __init__(self, frame: Frame):
        self.frame = frame
        record = struct.pack("<IIII", 0, 0, len(frame.data), len(frame.data)) + frame.data
        self.record = np.frombuffer(record, dtype=np.uint8)
        self.segments = []
        for segment in frame.segments:
            ip_total = struct.unpack_from("!H", frame.data, segment.ip_offset + 2)[0]
            segment_len = ip_total - (segment.l4_offset - segment.ip_offset)
            fixed_part = frame.data[segment.l4_offset + segment.variable_len:
                                    segment.l4_offset + segment_len]
            constant = _bytes_word_sum(fixed_part) + segment.proto + segment_len
            self.segments.append((segment, constant))

    def stamp(self, plan: PacketPlan, rows: np.ndarray) -> np.ndarray:
        """The finished records (header + frame) of the packets ``rows``, one per row."""
        records = np.empty((len(rows), len(self.record)), dtype=np.uint8)
        records[:] = self.record
        ts = plan.ts_us[rows]
        records[:, 0:4] = (ts // 1_000_000).astype("<u4").view(np.uint8).reshape(-1, 4)
        records[:, 4:8] = (ts % 1_000_000).astype("<u4").view(np.uint8).reshape(-1, 4)
        frame = records[:, RECORD_HEADER:]
        for field in self.frame.fields:
            _put_big_endian(frame, field.offset, field.width, plan.values[field.name][rows])
        for segment, constant in self.segments:
            addresses = frame[:, segment.ip_offset + 12:segment.ip_offset + 20]
            variable = frame[:, segment.l4_offset:segment.l4_offset + segment.variable_len]
            checksum = _fold_complement(_word_sum(addresses) + _word_sum(variable)
                                        + np.uint64(constant))
            if segment.proto != IPPROTO_TCP:
                checksum[checksum == 0] = 0xFFFF          # UDP: 0 means "no checksum"
            where = segment.l4_offset + (16 if segment.proto == IPPROTO_TCP else 6)
            frame[:, where:where + 2] = checksum.astype(">u2").view(np.uint8).reshape(-1, 2)
        for ip_offset in self.frame.ipv4_headers:
            checksum = _fold_complement(_word_sum(frame[:, ip_offset:ip_offset + 20]))
            frame[:, ip_offset + 10:ip_offset + 12] = (
                checksum.astype(">u2").view(np.uint8).reshape(-1, 2))
        return records


def render_capture(catalogue: Catalogue, plan: PacketPlan) -> np.ndarray:
    """The complete pcap file contents as one uint8 array."""
    frame_len = np.array([len(t.frame.data) for t in catalogue.templates], dtype=np.int64)
    record_len = RECORD_HEADER + frame_len[plan.template]
    record_start = len(PCAP_HEADER) + np.cumsum(record_len) - record_len
    output = np.empty(len(PCAP_HEADER) + int(record_len.sum()), dtype=np.uint8)
    output[:len(PCAP_HEADER)] = np.frombuffer(PCAP_HEADER, dtype=np.uint8)

    by_template = np.argsort(plan.template, kind="stable")
    bounds = np.cumsum(np.bincount(plan.template, minlength=len(catalogue.templates)))
    first = 0
    for template_id, last in enumerate(bounds):
        members, first = by_template[first:last], last
        if len(members) == 0:
            continue
        stamper = TemplateStamper(catalogue.templates[template_id].frame)
        columns = np.arange(len(stamper.record), dtype=np.int64)
        for chunk in range(0, len(members), ROWS_PER_CHUNK):
            rows = members[chunk:chunk + ROWS_PER_CHUNK]
            output[record_start[rows][:, None] + columns] = stamper.stamp(plan, rows)
    return output


def write_capture(path: Path, catalogue: Catalogue, plan: PacketPlan) -> int:
    """Write the pcap to ``path`` (via a temporary name, renamed when complete); bytes written."""
    data = render_capture(catalogue, plan)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        handle.write(memoryview(data))
    partial.replace(path)
    return len(data)
