"""iter_capture_paths: explicit files as given, directories expanded to captures only."""

from __future__ import annotations

import gzip
import logging
import os

from pcap_craft import Packet, epb, idb, pcap_file, shb

from pcapkit.io.reader import iter_capture_paths


def test_directories_expand_to_captures_in_sorted_order(tmp_path, caplog):
    pcap = pcap_file([Packet(1, 2, b"abc")])
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / "b" / "node2.pcap").write_bytes(pcap)
    (tmp_path / "a" / "deep" / "z.cap").write_bytes(pcap_file([], order=">", nanosecond=True))
    (tmp_path / "a" / "node1.pcapng").write_bytes(shb() + idb() + epb("<", 0, 1, b"x"))
    (tmp_path / "a" / "rotated.gz").write_bytes(gzip.compress(pcap))
    (tmp_path / "a" / "notes.txt").write_text("not a capture")
    (tmp_path / "a" / "empty.pcap").write_bytes(b"")
    os.mkfifo(tmp_path / "a" / "fifo")
    os.symlink(tmp_path, tmp_path / "a" / "loop")  # a directory link is not followed
    with caplog.at_level(logging.DEBUG, logger="pcapkit.io.paths"):
        found = list(iter_capture_paths([tmp_path]))
    # empty.pcap is named like a capture: it is read, so its problem gets reported
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a/deep/z.cap", "a/empty.pcap", "a/node1.pcapng", "a/rotated.gz", "b/node2.pcap"]
    assert "notes.txt" in caplog.text and "fifo" in caplog.text


def test_a_broken_capture_in_a_directory_is_reported_not_dropped(tmp_path):
    from pcapkit.decode.files import decode_files

    (tmp_path / "good.pcap").write_bytes(pcap_file([Packet(1, 2, b"abc")]))
    (tmp_path / "empty.pcap").write_bytes(b"")
    (tmp_path / "junk.pcapng").write_bytes(b"garbage, not a capture")
    (tmp_path / "README.txt").write_text("notes")
    decoded = decode_files([tmp_path])
    assert len(decoded.packets) == 1
    problems = {os.path.basename(e.file): e.message for e in decoded.errors}
    assert set(problems) == {"empty.pcap", "junk.pcapng"}
    assert "empty" in problems["empty.pcap"]
    assert "not a pcap or pcapng" in problems["junk.pcapng"]


def test_explicit_files_are_kept_as_given(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    missing = tmp_path / "missing.pcap"
    assert list(iter_capture_paths([str(text), missing])) == [text, missing]
