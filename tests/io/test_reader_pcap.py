"""Classic pcap files crafted on the spot: byte orders, resolutions, damage, chunking."""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest
from pcap_craft import Packet, frame, pcap_file, read_capture

from pcapkit.io.reader import open_capture

PACKETS = [Packet(1_700_000_000 + i, 1000 * i + 7, frame(i, 40 + 13 * i), 1500)
           for i in range(6)]


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nanosecond", [False, True])
def test_byte_orders_and_resolutions(tmp_path, framer, order, nanosecond):
    path = write(tmp_path, "c.pcap", pcap_file(PACKETS, order=order, nanosecond=nanosecond,
                                              linktype=276, snaplen=4096))
    result = read_capture(path, framer=framer)
    scale = 1 if nanosecond else 1000
    assert result.reader.format == "pcap" and not result.reader.compressed
    assert result.reader.errors == []
    assert result.packets == [p.data for p in PACKETS]
    np.testing.assert_array_equal(
        result.columns["ts_ns"], [p.ts_sec * 10**9 + p.ts_frac * scale for p in PACKETS])
    np.testing.assert_array_equal(result.columns["wirelen"], [1500] * len(PACKETS))
    np.testing.assert_array_equal(result.columns["frame"], np.arange(1, len(PACKETS) + 1))
    np.testing.assert_array_equal(result.columns["linktype"], [276] * len(PACKETS))
    np.testing.assert_array_equal(result.columns["interface"], [0] * len(PACKETS))
    offsets = np.cumsum([24] + [16 + len(p.data) for p in PACKETS])[:-1]
    np.testing.assert_array_equal(result.columns["file_offset"], offsets)
    (interface,) = result.reader.interfaces
    assert (interface.linktype, interface.snaplen) == (276, 4096)
    assert interface.tsresol == ("ns" if nanosecond else "us")


def test_fcs_bits_in_linktype_are_masked(tmp_path):
    path = write(tmp_path, "fcs.pcap", pcap_file(PACKETS[:1], linktype=0x14000001))
    assert read_capture(path).reader.interfaces[0].linktype == 1


@pytest.mark.parametrize("major", [1, 3])
def test_other_major_versions_are_an_error(tmp_path, major):
    path = write(tmp_path, "v.pcap", pcap_file(PACKETS, version=(major, 4)))
    reader = open_capture(path)
    assert reader.format == "pcap"
    assert [e.offset for e in reader.errors] == [0]
    assert f"major version {major} unsupported" in reader.errors[0].message
    assert list(reader.batches()) == []


def test_caplen_above_maximum_is_damage(tmp_path, framer):
    data = bytearray(pcap_file(PACKETS))
    third = 24 + sum(16 + len(p.data) for p in PACKETS[:2])
    struct.pack_into("<I", data, third + 8, 262145)
    result = read_capture(write(tmp_path, "big.pcap", bytes(data)), framer=framer)
    assert result.packets == [p.data for p in PACKETS[:2]]
    (error,) = result.reader.errors
    assert error.offset == third
    assert error.message == "packet record claims 262145 captured bytes, more than the 262144 maximum"


def test_caplen_above_wirelen_is_kept(tmp_path, framer):
    path = write(tmp_path, "odd.pcap", pcap_file([Packet(1, 2, frame(1, 80), 60)]))
    result = read_capture(path, framer=framer)
    assert result.reader.errors == []
    assert (result.columns["caplen"][0], result.columns["wirelen"][0]) == (80, 60)


def test_every_truncation_point(tmp_path, framer):
    """Cut the file at every byte: a prefix of packets plus one error at the right offset."""
    whole = pcap_file(PACKETS[:4])
    starts = list(np.cumsum([24] + [16 + len(p.data) for p in PACKETS[:4]]))
    for cut in range(len(whole) + 1):
        path = write(tmp_path, "cut.pcap", whole[:cut])
        result = read_capture(path, framer=framer)
        if cut < 24:
            assert len(result) == 0 and len(result.reader.errors) == 1, cut
            assert result.reader.errors[0].offset == 0
            continue
        complete = sum(1 for end in starts[1:] if end <= cut)
        assert result.packets == [p.data for p in PACKETS[:complete]], cut
        if cut in starts:
            assert result.reader.errors == [], cut
            continue
        (error,) = result.reader.errors
        assert error.offset == starts[complete], cut
        assert error.file == str(path)
        assert "file ends in the middle of a packet record" in error.message
        have = cut - starts[complete]
        if have >= 16:
            assert f"({have} of {16 + len(PACKETS[complete].data)} bytes)" in error.message
        else:
            assert f"({have} of 16 bytes)" in error.message


@pytest.mark.parametrize("chunk_bytes", [1, 7, 50, 97, 1 << 20])
@pytest.mark.parametrize("batch_size", [1, 2, 5, 65536])
@pytest.mark.parametrize("mapped", [True, False])
def test_chunk_and_batch_sizes_do_not_change_the_result(tmp_path, framer, chunk_bytes,
                                                         batch_size, mapped):
    path = write(tmp_path, "c.pcap", pcap_file(PACKETS))
    result = read_capture(path, framer=framer, chunk_bytes=chunk_bytes, batch_size=batch_size,
                          mapped=mapped)
    assert result.reader.errors == []
    assert result.packets == [p.data for p in PACKETS]
    assert all(len(b) <= batch_size for b in result.batches)
    np.testing.assert_array_equal(result.columns["frame"], np.arange(1, len(PACKETS) + 1))


@pytest.mark.parametrize("mapped", [True, False])
def test_record_larger_than_chunk_grows_the_buffer(tmp_path, framer, mapped):
    big = [Packet(5, 6, bytes(range(256)) * 1000)]  # 256000 bytes, under the 262144 limit
    path = write(tmp_path, "big.pcap", pcap_file(big))
    result = read_capture(path, framer=framer, chunk_bytes=4096, mapped=mapped)
    assert result.reader.errors == [] and result.packets == [big[0].data]


@pytest.mark.parametrize("mapped", [True, False])
def test_batches_stay_valid_after_the_reader_moves_on(tmp_path, framer, mapped):
    """Bytes of a batch the caller keeps are never overwritten by later chunks."""
    packets = [Packet(i, 0, frame(i, 100)) for i in range(50)]
    path = write(tmp_path, "keep.pcap", pcap_file(packets))
    reader = open_capture(path, chunk_bytes=300, batch_size=3, mapped=mapped)
    kept = list(reader.batches())
    got = [bytes(b.data[o:o + c]) for b in kept for o, c in zip(b.offset, b.caplen, strict=True)]
    assert got == [p.data for p in packets]


def test_buffer_is_reused_when_batches_are_dropped(tmp_path):
    packets = [Packet(i, 0, frame(i, 100)) for i in range(50)]
    path = write(tmp_path, "reuse.pcap", pcap_file(packets))
    reader = open_capture(path, chunk_bytes=1000, batch_size=1000, mapped=False)
    buffers = set()
    got = []
    for batch in reader.batches():
        buffers.add(batch.data.ctypes.data)
        got.extend(bytes(batch.data[o:o + c]) for o, c in zip(batch.offset, batch.caplen, strict=True))
        del batch
    assert got == [p.data for p in packets]
    assert len(buffers) == 1


def test_two_buffers_alternate_in_a_plain_loop(tmp_path):
    """A for-loop variable keeps the latest batch alive while the next chunk is read:
    the reader then alternates between two arrays instead of allocating new ones."""
    packets = [Packet(i, 0, frame(i, 100)) for i in range(200)]
    path = write(tmp_path, "alternate.pcap", pcap_file(packets))
    buffers = set()
    got = []
    for batch in open_capture(path, chunk_bytes=1000, mapped=False).batches():
        buffers.add(batch.data.ctypes.data)
        got.extend(bytes(batch.data[o:o + c]) for o, c in zip(batch.offset, batch.caplen, strict=True))
    assert got == [p.data for p in packets]
    assert len(buffers) == 2


def test_mapped_windows_slide_without_copying(tmp_path):
    """A plain file is mapped, not read: batch bytes are read-only views of windows
    that start on page boundaries, and a window slides where the records run out."""
    packets = [Packet(i, 0, frame(i, 100)) for i in range(400)]  # ~55 kB: several windows
    path = write(tmp_path, "mapped.pcap", pcap_file(packets))
    reader = open_capture(path, chunk_bytes=8192, batch_size=1000)
    batches = list(reader.batches())
    assert reader.errors == []
    assert len(batches) > 3 and not any(b.data.flags.writeable for b in batches)
    got = [bytes(b.data[o:o + c]) for b in batches for o, c in zip(b.offset, b.caplen, strict=True)]
    assert got == [p.data for p in packets]


def test_mapped_file_that_grows_is_read_to_its_current_end(tmp_path):
    """A capture still being written: records appended after opening are read too."""
    first, later = PACKETS[:3], PACKETS[3:]
    path = write(tmp_path, "growing.pcap", pcap_file(first))
    reader = open_capture(path, chunk_bytes=4096)
    with open(path, "ab") as out:
        out.write(pcap_file(later)[24:])  # the records only, without a second file header
    result = [bytes(b.data[o:o + c]) for b in reader.batches()
              for o, c in zip(b.offset, b.caplen, strict=True)]
    assert reader.errors == [] and result == [p.data for p in PACKETS]


def test_a_file_that_cannot_be_mapped_is_read_instead(tmp_path, monkeypatch):
    """Some filesystems refuse mmap: the reader falls back to reading in chunks."""
    import pcapkit.io.mapped as mapped

    def refuse(*args, **kwargs):
        raise OSError(19, "No such device")

    monkeypatch.setattr(mapped.mmap, "mmap", refuse)
    path = write(tmp_path, "nomap.pcap", pcap_file(PACKETS))
    result = read_capture(path)
    assert result.reader.errors == [] and not result.reader.mapped
    assert result.packets == [p.data for p in PACKETS]


def test_a_window_that_cannot_be_mapped_stops_reading_with_an_error(tmp_path, monkeypatch):
    """Mapping the first window worked, a later one fails: the packets before it are
    kept and the error names the file offset, like any other damage."""
    import pcapkit.io.mapped as mapped

    packets = [Packet(i, 0, frame(i, 100)) for i in range(400)]
    path = write(tmp_path, "later.pcap", pcap_file(packets))
    real, calls = mapped.mmap.mmap, []

    def second_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise OSError(12, "Cannot allocate memory")
        return real(*args, **kwargs)

    monkeypatch.setattr(mapped.mmap, "mmap", second_fails)
    result = read_capture(path, chunk_bytes=8192)
    assert result.reader.mapped and len(result.reader.errors) == 1
    error = result.reader.errors[0]
    assert "cannot map the file: Cannot allocate memory" in error.message
    got = len(result.packets)
    assert 0 < got < len(packets) and result.packets == [p.data for p in packets[:got]]
    assert error.offset == 24 + sum(16 + len(p.data) for p in packets[:got])


@pytest.mark.parametrize("nanosecond", [False, True])
def test_gzip_pcap(tmp_path, framer, nanosecond):
    raw = pcap_file(PACKETS, nanosecond=nanosecond)
    path = write(tmp_path, "capture.bin", gzip.compress(raw))
    result = read_capture(path, framer=framer, chunk_bytes=64)
    assert (result.reader.format, result.reader.compressed) == ("pcap", True)
    assert result.reader.errors == []
    assert result.packets == [p.data for p in PACKETS]


def test_multi_member_gzip(tmp_path, framer):
    raw = pcap_file(PACKETS)
    path = write(tmp_path, "multi.gz", gzip.compress(raw[:100]) + gzip.compress(raw[100:]))
    result = read_capture(path, framer=framer)
    assert result.reader.errors == [] and result.packets == [p.data for p in PACKETS]


def test_truncated_gzip_reports_the_cut_record(tmp_path, framer):
    raw = pcap_file(PACKETS)
    packed = gzip.compress(raw)
    starts = list(np.cumsum([24] + [16 + len(p.data) for p in PACKETS]))
    for cut in range(10, len(packed) - 1, 7):
        result = read_capture(write(tmp_path, "cut.gz", packed[:cut]), framer=framer)
        (error,) = result.reader.errors
        assert "gzip stream is truncated" in error.message, cut
        assert error.offset is not None and error.offset in [0, *starts], cut
        assert result.packets == [p.data for p in PACKETS[:len(result)]]


def test_gzip_trailer_cut_after_last_record(tmp_path):
    raw = pcap_file(PACKETS)
    path = write(tmp_path, "cut.gz", gzip.compress(raw)[:-4])  # only the size field missing
    result = read_capture(path)
    assert result.packets == [p.data for p in PACKETS]
    (error,) = result.reader.errors
    assert error.offset == len(raw) and "gzip stream is truncated" in error.message


def test_corrupt_gzip_is_reported(tmp_path):
    packed = bytearray(gzip.compress(pcap_file(PACKETS * 20)))
    packed[len(packed) // 2] ^= 0xFF
    result = read_capture(write(tmp_path, "bad.gz", bytes(packed)))
    assert len(result.reader.errors) == 1
    assert "gzip" in result.reader.errors[0].message


def test_trailing_garbage_after_gzip_is_reported(tmp_path):
    raw = pcap_file(PACKETS)
    result = read_capture(write(tmp_path, "junk.gz", gzip.compress(raw) + b"junk"))
    assert result.packets == [p.data for p in PACKETS]
    (error,) = result.reader.errors
    assert error.offset == len(raw) and "not gzip data" in error.message


@pytest.mark.parametrize("content, words", [
    (b"", "file is empty"),
    (b"\xd4\xc3", "too short"),
    (b"GET / HTTP/1.1\r\n\r\n" * 3, "not a pcap or pcapng file (it starts with 47 45 54 20)"),
    (pcap_file([])[:20], "file ends inside the pcap file header (20 of 24 bytes)"),
])
def test_unreadable_content_is_an_error_not_an_exception(tmp_path, content, words):
    reader = open_capture(write(tmp_path, "x.pcap", content))
    assert list(reader.batches()) == []
    (error,) = reader.errors
    assert words in error.message and error.offset == 0


def test_empty_capture_has_no_error(tmp_path):
    result = read_capture(write(tmp_path, "e.pcap", pcap_file([])))
    assert len(result) == 0 and result.reader.errors == [] and result.batches == []


def test_missing_file_and_directory(tmp_path):
    for path, words in ((tmp_path / "nope.pcap", "file not found"),
                        (tmp_path, "is a directory")):
        reader = open_capture(path)
        assert reader.format == "unknown"
        assert list(reader.batches()) == []
        (error,) = reader.errors
        assert words in error.message and error.offset is None
        assert error.file == str(path)


def test_permission_denied(tmp_path, monkeypatch):
    path = write(tmp_path, "secret.pcap", pcap_file(PACKETS))

    def refuse(*args, **kwargs):  # what open() does for a file mode 000 (root is exempt)
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("pcapkit.io.sources.open", refuse, raising=False)
    reader = open_capture(path)
    (error,) = reader.errors
    assert error.message == "permission denied" and error.offset is None
    assert list(reader.batches()) == []


def test_reader_is_a_context_manager_and_reads_once(tmp_path):
    path = write(tmp_path, "c.pcap", pcap_file(PACKETS))
    with open_capture(os.fspath(path).encode()) as reader:
        assert reader.path == str(path)
        assert sum(len(b) for b in reader.batches()) == len(PACKETS)
        assert list(reader.batches()) == []


def test_bad_arguments_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="batch_size"):
        open_capture(tmp_path / "x", batch_size=0)
    with pytest.raises(ValueError, match="chunk_bytes"):
        open_capture(tmp_path / "x", chunk_bytes=0)
