"""PacketBytes and its one-gather header reads against a byte-by-byte reference.

Packets sit in one buffer with poison bytes (0xAB) after each, as records do in a
capture; every read is checked against ``int.from_bytes`` of the packet's own
bytes, so a value taken from past a record's captured end would show up.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapkit.decode.bytes import PacketBytes

POISON = b"\xab" * 40
WIDTHS = {"u8": 1, "u16": 2, "u24": 3, "u32": 4, "u48": 6, "u64": 8}


def _buffer(packets: list[bytes]) -> PacketBytes:
    chunks, offsets, pos = [], [], 0
    for packet in packets:
        offsets.append(pos)
        chunks.append(packet + POISON)
        pos += len(packet) + len(POISON)
    data = np.frombuffer(b"".join(chunks), dtype=np.uint8)
    caplen = np.array([len(p) for p in packets], np.int64)
    return PacketBytes(data, np.array(offsets, np.int64), caplen)


def _expected(packets: list[bytes], rows: np.ndarray, pos: np.ndarray,
              width: int) -> tuple[list[int], list[bool]]:
    """Reference reads. u24 and u48 are two reads (8+16, 16+32 bits), each part 0
    unless captured, and valid only when both are."""
    if width in (3, 6):
        hi_width = width // 3
        hi, hi_ok = _expected(packets, rows, pos, hi_width)
        lo, lo_ok = _expected(packets, rows, pos + hi_width, width - hi_width)
        shift = 8 * (width - hi_width)
        return ([(h << shift) | lo_ for h, lo_ in zip(hi, lo, strict=True)],
                [a and b for a, b in zip(hi_ok, lo_ok, strict=True)])
    values, oks = [], []
    for r, p in zip(rows.tolist(), pos.tolist(), strict=True):
        ok = p + width <= len(packets[r])
        values.append(int.from_bytes(packets[r][p:p + width], "big") if ok else 0)
        oks.append(ok)
    return values, oks


packets_and_reads = st.lists(st.binary(max_size=48), min_size=1, max_size=12).flatmap(
    lambda packets: st.tuples(
        st.just(packets),
        st.lists(st.tuples(st.integers(0, len(packets) - 1), st.integers(0, 50)), max_size=20),
        st.integers(1, 24)))


@settings(max_examples=300, deadline=None)
@given(packets_and_reads)
def test_header_fields_match_single_reads_and_the_bytes(case: tuple) -> None:
    """Every field cut from a header block equals the matching single read and the
    packet's own bytes, whether or not the block (or the field) was captured whole."""
    packets, reads, size = case
    pb = _buffer(packets)
    rows = np.array([r for r, _ in reads], np.int64)
    pos = np.array([p for _, p in reads], np.int64)
    header = pb.header(rows, pos, size)
    assert header.captured().tolist() == [p + size <= len(packets[r]) for r, p in reads]
    for name, width in WIDTHS.items():
        for off in range(0, size - width + 1):
            values, ok = getattr(header, name)(off)
            single, single_ok = getattr(pb, name)(rows, pos + off)
            expected, expected_ok = _expected(packets, rows, pos + off, width)
            assert values.tolist() == expected == single.tolist(), (name, off)
            assert ok.tolist() == expected_ok == single_ok.tolist(), (name, off)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=30), min_size=1, max_size=10), st.integers(0, 40))
def test_every_row_reads_like_an_explicit_row_array(packets: list[bytes], at: int) -> None:
    """``pb.every`` (bounds without a gather) reads what the same rows spelled out read."""
    pb = _buffer(packets)
    pos = np.full(len(packets), at, np.int64)
    for name in WIDTHS:
        by_every = getattr(pb, name)(pb.every, pos)
        by_rows = getattr(pb, name)(np.arange(len(packets)), pos)
        assert by_every[0].tolist() == by_rows[0].tolist()
        assert by_every[1].tolist() == by_rows[1].tolist()


def test_header_of_no_rows_is_empty() -> None:
    pb = _buffer([b"\x01\x02\x03\x04"])
    header = pb.header(np.zeros(0, np.int64), np.zeros(0, np.int64), 20)
    values, ok = header.u32(16)
    assert values.dtype == np.uint32 and not len(values) and not len(ok)
    assert not len(header.captured())


def test_header_wider_than_the_padding_is_refused() -> None:
    pb = _buffer([bytes(100)])
    with pytest.raises(ValueError, match="at most 64 bytes"):
        pb.header(np.zeros(1, np.int64), np.zeros(1, np.int64), 65)


def test_tiny_buffer_reads_stay_inside_the_record() -> None:
    """A buffer shorter than the widest block still reads (it is padded) and a
    block past the packet's end falls back to bounds-checked single reads."""
    pb = _buffer([b"\x45\x00"])
    header = pb.header(np.zeros(1, np.int64), np.zeros(1, np.int64), 20)
    assert header.u8(0)[0].tolist() == [0x45] and header.u8(0)[1].tolist() == [True]
    assert header.u16(0)[0].tolist() == [0x4500]
    assert header.u16(1)[1].tolist() == [False] and header.u16(1)[0].tolist() == [0]
