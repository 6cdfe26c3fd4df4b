"""pcapng files crafted on the spot: sections, interfaces, block kinds, damage, gzip."""

from __future__ import annotations

import gzip
import shutil
import struct
import subprocess

import numpy as np
import pytest
from pcap_craft import block, epb, frame, idb, pb, read_capture, shb, spb

from pcapkit.io.reader import open_capture
from pcapkit.io.timestamps import NO_TIMESTAMP

T0 = 1_700_000_000  # seconds


def two_section_file() -> tuple[bytes, list[dict]]:
    """Little-endian section with 3 interfaces, then a big-endian one with 2, several
    block kinds and timestamp resolutions; returns the bytes and the expected packets."""
    blocks = [
        shb("<", opts=[(1, b"made by pcapkit tests")]),
        idb("<", 1, 0, name="eth0", description="pod=web-1 ns=default", tsresol=9),
        idb("<", 113, 0, name="any", tsresol=3, tsoffset=-100, comment="cooked"),
        block("<", 4, b"\x00\x00\x00\x00"),  # name resolution block: skipped
        idb("<", 276, 0, name="sll2", tsresol=0x80 | 20, tsoffset=7),
        epb("<", 0, T0 * 10**9 + 123_456_789, frame(1)),
        epb("<", 1, T0 * 10**3 + 456, frame(2, 70), 1400, opts=[(2, b"\x00\x00\x00\x01")]),
        epb("<", 2, (T0 << 20) + (1 << 19), frame(3, 90)),
        block("<", 0x40000BAD, b"custom data!"),  # custom block: skipped
        spb("<", frame(4, 64), 64),
        shb(">"),
        idb(">", 101, 0, name="tun0"),
        idb(">", 1, 128, name="eth1", tsresol=0x80 | 10),
        block(">", 5, b"\x00" * 12),  # interface statistics block: skipped
        epb(">", 1, (T0 << 10) + 1, frame(5, 200), 200),
        pb(">", 0, T0 * 10**6 + 999_999, frame(6, 33)),
        spb(">", frame(7, 40), 40),
    ]
    expected = [
        dict(ts=T0 * 10**9 + 123_456_789, iface=0, linktype=1, data=frame(1), wire=60),
        dict(ts=(T0 - 100) * 10**9 + 456_000_000, iface=1, linktype=113, data=frame(2, 70),
             wire=1400),
        dict(ts=(T0 + 7) * 10**9 + 500_000_000, iface=2, linktype=276, data=frame(3, 90),
             wire=90),
        dict(ts=NO_TIMESTAMP, iface=0, linktype=1, data=frame(4, 64), wire=64),
        dict(ts=T0 * 10**9 + (10**9 // 1024), iface=4, linktype=1, data=frame(5, 200), wire=200),
        dict(ts=T0 * 10**9 + 999_999_000, iface=3, linktype=101, data=frame(6, 33), wire=33),
        dict(ts=NO_TIMESTAMP, iface=3, linktype=101, data=frame(7, 40), wire=40),
    ]
    return b"".join(blocks), expected


def block_offsets(data: bytes) -> list[int]:
    """Start of every block, following the lengths (byte order taken from each SHB)."""
    offsets, pos, order = [], 0, "<"
    while pos < len(data):
        offsets.append(pos)
        if data[pos:pos + 4] == b"\x0a\x0d\x0d\x0a":
            order = "<" if data[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        pos += struct.unpack_from(order + "I", data, pos + 4)[0]
    return offsets


def test_two_sections_both_byte_orders(tmp_path, framer):
    data, expected = two_section_file()
    path = tmp_path / "two.pcapng"
    path.write_bytes(data)
    result = read_capture(path, framer=framer)
    assert result.reader.format == "pcapng"
    assert result.reader.errors == []
    assert result.packets == [e["data"] for e in expected]
    for name, key in (("ts_ns", "ts"), ("interface", "iface"), ("linktype", "linktype"),
                      ("wirelen", "wire")):
        np.testing.assert_array_equal(result.columns[name], [e[key] for e in expected],
                                      err_msg=name)
    # The custom block takes frame number 4, as in Wireshark.
    np.testing.assert_array_equal(result.columns["frame"], [1, 2, 3, 5, 6, 7, 8])
    packet_blocks = [o for o in block_offsets(data)
                     if struct.unpack_from("<I" if o < data.index(shb(">")) else ">I",
                                           data, o)[0] in (2, 3, 6)]
    np.testing.assert_array_equal(result.columns["file_offset"], packet_blocks)
    interfaces = result.reader.interfaces
    assert [i.index for i in interfaces] == [0, 1, 2, 3, 4]
    assert [i.section for i in interfaces] == [0, 0, 0, 1, 1]
    assert [i.linktype for i in interfaces] == [1, 113, 276, 101, 1]
    assert [i.tsresol for i in interfaces] == ["ns", "ms", "2^-20", "us", "2^-10"]
    assert interfaces[0].description == "pod=web-1 ns=default"
    assert interfaces[1].comment == "cooked"
    assert interfaces[4].snaplen == 128


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_two_sections_agree_with_tshark(tmp_path):
    """tshark 4.0 applies if_tsresol and if_tsoffset as pcapkit does and numbers the custom
    block as frame 4, as pcapkit's frame numbers do.  (tshark shows section-local interface
    ids and no time for SPBs, so those are not compared.)"""
    data, _ = two_section_file()
    path = tmp_path / "two.pcapng"
    path.write_bytes(data)
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number",
                          "-e", "frame.time_epoch", "-e", "frame.cap_len", "-e", "frame.len"],
                         capture_output=True, text=True, check=False).stdout.split("\n")
    rows = {int(r[0]): r[1:] for r in (line.split("\t") for line in out if line)}
    result = read_capture(path)
    assert sorted(set(rows) - set(result.columns["frame"].tolist())) == [4]
    for number, ts, caplen, wirelen in zip(result.columns["frame"], result.columns["ts_ns"],
                                           result.columns["caplen"], result.columns["wirelen"], strict=True):
        epoch, tshark_caplen, tshark_wirelen = rows[int(number)]
        if epoch:
            sec, frac = epoch.split(".")
            assert int(sec) * 10**9 + int(frac.ljust(9, "0")[:9]) == ts
        assert (int(tshark_caplen), int(tshark_wirelen)) == (caplen, wirelen)


@pytest.mark.parametrize("tsresol, ticks, ns", [
    (9, 1_234_567_890_123_456_789, 1_234_567_890_123_456_789),
    (6, 1_700_000_000_000_001, 1_700_000_000_000_001_000),
    (3, 1_700_000_000_001, 1_700_000_000_001_000_000),
    (0, 1_700_000_000, 1_700_000_000_000_000_000),
    (12, 12_345_678_901_234_567_891, 12_345_678_901_234_567),  # floor below 1 ns
    (0x80 | 20, (1_700_000_000 << 20) + 3, 1_700_000_000_000_002_861),
    (0x80 | 0, 5, 5_000_000_000),
    (0x80 | 63, (1 << 63) + (1 << 62), 1_500_000_000),
    (0x80 | 100, (1 << 64) - 1, 0),
    (30, (1 << 64) - 1, 0),
    (0, 1 << 40, (1 << 63) - 1),  # past year 2262: clamped
])
def test_timestamp_resolutions(tmp_path, framer, tsresol, ticks, ns):
    data = shb("<") + idb("<", 1, 0, tsresol=tsresol) + epb("<", 0, ticks, frame(1))
    path = tmp_path / "ts.pcapng"
    path.write_bytes(data)
    result = read_capture(path, framer=framer)
    assert result.reader.errors == []
    assert int(result.columns["ts_ns"][0]) == ns


@pytest.mark.parametrize("offset_s, ns", [
    (-1_700_000_000, 0),
    (10**10, (1 << 63) - 1),
    (-(1 << 63), 1_700_000_000 * 10**9 - (1 << 63)),  # offset clamped first
])
def test_timestamp_offsets_clamp(tmp_path, framer, offset_s, ns):
    data = shb("<") + idb("<", 1, 0, tsresol=0, tsoffset=offset_s) + epb("<", 0, 1_700_000_000,
                                                                          frame(1))
    path = tmp_path / "off.pcapng"
    path.write_bytes(data)
    assert int(read_capture(path, framer=framer).columns["ts_ns"][0]) == ns


def test_spb_caplen_is_limited_by_snaplen_and_block(tmp_path, framer):
    data = (shb("<") + idb("<", 1, 50) + spb("<", frame(1, 60), 1000) + spb("<", frame(2, 40), 1000)
            + spb("<", frame(3, 20), 30))
    path = tmp_path / "spb.pcapng"
    path.write_bytes(data)
    result = read_capture(path, framer=framer)
    assert result.reader.errors == []
    np.testing.assert_array_equal(result.columns["caplen"], [50, 40, 20])
    np.testing.assert_array_equal(result.columns["wirelen"], [1000, 1000, 30])
    assert result.packets[0] == frame(1, 60)[:50]


def _damage_cases() -> dict[str, tuple[bytes, bytes, int, str]]:
    """case -> (bytes before the bad block, bad block, packets before it, message words)."""
    head = shb("<") + idb("<", 1, 0) + epb("<", 0, 1, frame(1))

    def patched(raw: bytes, at: int, value: int) -> bytes:
        out = bytearray(raw)
        struct.pack_into("<I", out, at, value)
        return bytes(out)

    good = epb("<", 0, 2, frame(2))
    epb_long_option = block("<", 6, struct.pack("<IIIII", 0, 0, 2, 60, 60) + frame(2)
                            + struct.pack("<HH", 1, 200) + b"abcd")
    idb_long_option = block("<", 1, struct.pack("<HHI", 1, 0, 0) + struct.pack("<HH", 2, 100)
                            + b"x" * 8)
    return {
        "trailer": (head, patched(good, len(good) - 4, 999),
                    1, "enhanced packet block length 92 does not match its trailing length 999"),
        "alignment": (head, patched(good, 4, len(good) - 2), 1, "is not a multiple of 4"),
        "too short": (head, struct.pack("<II", 6, 8) + b"\x00" * 24,
                      1, "enhanced packet block length 8 is too short"),
        "too big": (head, struct.pack("<II", 6, 32 << 20) + b"\x00" * 24,
                    1, "claims 33554432 bytes, more than the 16777216 maximum"),
        "caplen past block": (head, patched(good, 20, 1000),
                              1, "claims 1000 captured bytes but has room for only 60"),
        "caplen above max": (head, patched(epb("<", 0, 2, bytes(262148)), 20, 262148),
                             1, "claims 262148 captured bytes, more than the 262144 maximum"),
        "undefined interface": (head, epb("<", 3, 2, frame(2)),
                                1, "refers to interface 3, but section 0 has defined only 1"),
        "spb without idb": (shb("<"), spb("<", frame(1)),
                            0, "simple packet block refers to interface 0"),
        "pb undefined interface": (head, pb("<", 5, 2, frame(2)),
                                   1, "packet block refers to interface 5"),
        "epb option too long": (head, epb_long_option, 1,
                                "enhanced packet block option 1 claims 200 bytes, more than "
                                "the 4 left in the block"),
        "idb option too long": (shb("<"), idb_long_option, 0,
                                "interface description block option 2 claims 100 bytes"),
        "shb version": (head, shb("<", version=(2, 0)), 1,
                        "unsupported pcapng section header version 2.0"),
        "shb byte order": (head, shb("<")[:8] + b"ABCD" + shb("<")[12:], 1,
                           "unknown byte-order magic 41424344"),
    }


DAMAGE = _damage_cases()


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_blocks(tmp_path, framer, case):
    before, bad, packets, words = DAMAGE[case]
    path = tmp_path / "bad.pcapng"
    path.write_bytes(before + bad + epb("<", 0, 3, frame(3)))
    result = read_capture(path, framer=framer)
    assert len(result) == packets
    (error,) = result.reader.errors
    assert words in error.message
    assert error.offset == len(before)


def test_every_truncation_point(tmp_path, framer):
    data, expected = two_section_file()
    starts = block_offsets(data)
    ends = starts[1:] + [len(data)]
    orders = ["<" if off < data.index(shb(">")) else ">" for off in starts]
    packet_ends = [end for off, end, order in zip(starts, ends, orders, strict=True)
                   if struct.unpack_from(order + "I", data, off)[0] in (2, 3, 6)]
    path = tmp_path / "cut.pcapng"
    for cut in range(len(data) + 1):
        path.write_bytes(data[:cut])
        result = read_capture(path, framer=framer, chunk_bytes=37)
        complete = sum(1 for end in packet_ends if end <= cut)
        assert result.packets == [e["data"] for e in expected[:complete]], cut
        if cut in ends:
            assert result.reader.errors == [], cut
            continue
        (error,) = result.reader.errors
        assert error.file == str(path)
        if cut < 4:
            assert error.offset == 0
            continue
        assert error.offset == max(s for s in starts if s <= cut), cut
        assert "file ends in the middle of a" in error.message, cut


def test_gzip_pcapng_and_truncated_gzip(tmp_path, framer):
    data, expected = two_section_file()
    path = tmp_path / "x.pcapng.gz"
    packed = gzip.compress(data)
    path.write_bytes(packed)
    result = read_capture(path, framer=framer, chunk_bytes=50)
    assert (result.reader.format, result.reader.compressed) == ("pcapng", True)
    assert result.reader.errors == []
    assert result.packets == [e["data"] for e in expected]
    path.write_bytes(packed[: len(packed) // 2])
    result = read_capture(path, framer=framer)
    (error,) = result.reader.errors
    assert "gzip stream is truncated" in error.message
    assert error.offset in block_offsets(data)
    assert result.packets == [e["data"] for e in expected[:len(result)]]


def test_interfaces_grow_while_reading(tmp_path):
    data, _ = two_section_file()
    path = tmp_path / "two.pcapng"
    path.write_bytes(data)
    reader = open_capture(path, batch_size=1)
    seen = [len(reader.interfaces)]
    for batch in reader.batches():
        seen.append(len(batch.interfaces))
    assert seen[0] == 0 and seen[-1] == 5 and seen == sorted(seen)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 100])
@pytest.mark.parametrize("chunk_bytes", [37, 200, 1 << 20])
def test_frame_numbers_do_not_depend_on_batching(tmp_path, framer, batch_size, chunk_bytes):
    data, expected = two_section_file()
    path = tmp_path / "two.pcapng"
    path.write_bytes(data)
    result = read_capture(path, framer=framer, batch_size=batch_size, chunk_bytes=chunk_bytes)
    assert result.reader.errors == []
    assert result.packets == [e["data"] for e in expected]
    np.testing.assert_array_equal(result.columns["frame"], [1, 2, 3, 5, 6, 7, 8])
    assert all(len(b) <= batch_size for b in result.batches)
