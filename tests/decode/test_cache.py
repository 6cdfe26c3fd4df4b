"""The decode cache: a second read of the same captures gives the same tables from Parquet,
keyed by content (a renamed or moved copy hits), options and version; changed bytes,
other options and broken entries decode again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import pcapkit
from pcapkit.decode import cache as cache_module
from pcapkit.decode.cache import DecodeCache
from pcapkit.errors import PcapkitError

ROOT = Path(__file__).resolve().parents[2]
FILES = [ROOT / "fixtures/kernel/node1-any.pcap", ROOT / "fixtures/kernel/node1-multi.pcapng",
         ROOT / "fixtures/crafted/pcap-truncated-mid-record.pcap",
         ROOT / "fixtures/crafted/pcapng-gzip-vxlan-dns.pcapng.gz",
         ROOT / "fixtures/dnstx/search-path.pcap"]


@pytest.fixture(autouse=True)
def _cache_every_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixtures are small; the size floor would keep them out of the cache."""
    monkeypatch.setattr(cache_module, "CACHE_MIN_BYTES", 0)


def _same(left: pcapkit.decode.files.Decoded, right: pcapkit.decode.files.Decoded) -> None:
    pd.testing.assert_frame_equal(left.packets, right.packets)
    pd.testing.assert_frame_equal(left.dns, right.dns)
    pd.testing.assert_frame_equal(left.interfaces, right.interfaces)
    assert [str(e) for e in left.errors] == [str(e) for e in right.errors]


def test_second_run_reads_the_same_tables_from_the_cache(tmp_path: Path) -> None:
    for path in FILES:
        assert path.exists(), path
    reference = pcapkit.decode_files(FILES)
    first = DecodeCache(tmp_path / "cache")
    _same(reference, pcapkit.decode_files(FILES, cache=first))
    assert (first.hits, first.misses) == (0, len(FILES))
    second = DecodeCache(tmp_path / "cache")
    cached = pcapkit.decode_files(FILES, cache=second)
    assert (second.hits, second.misses) == (len(FILES), 0)
    _same(reference, cached)
    assert reference.errors, "the truncated fixture must report its damage"


def test_a_copy_under_another_name_hits_and_is_named_as_given(tmp_path: Path) -> None:
    source = FILES[0]
    DecodeCache(tmp_path / "cache")
    pcapkit.decode_files([source], cache=DecodeCache(tmp_path / "cache"))
    copy = tmp_path / "elsewhere" / "renamed.pcap"
    copy.parent.mkdir()
    shutil.copy(source, copy)
    cache = DecodeCache(tmp_path / "cache")
    decoded = pcapkit.decode_files([copy], cache=cache)
    assert cache.hits == 1
    _same(pcapkit.decode_files([copy]), decoded)
    assert set(decoded.packets["file"].astype(str)) == {str(copy)}


def test_changed_bytes_or_options_decode_again(tmp_path: Path) -> None:
    target = tmp_path / "capture.pcap"
    shutil.copy(FILES[0], target)
    pcapkit.decode_files([target], cache=DecodeCache(tmp_path / "cache"))
    other = DecodeCache(tmp_path / "cache")
    pcapkit.decode_files([target], cache=other, decode_as=["udp.port==8472,none"])
    assert other.misses == 1
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])  # same path, new content (and size)
    again = DecodeCache(tmp_path / "cache")
    decoded = pcapkit.decode_files([target], cache=again)
    assert again.misses == 1
    _same(pcapkit.decode_files([target]), decoded)


def test_a_broken_entry_is_decoded_again(tmp_path: Path) -> None:
    cache = DecodeCache(tmp_path / "cache")
    pcapkit.decode_files([FILES[0]], cache=cache)
    for table in (tmp_path / "cache").glob("*/packets.parquet"):
        table.write_bytes(b"not parquet")
    again = DecodeCache(tmp_path / "cache")
    _same(pcapkit.decode_files([FILES[0]]), pcapkit.decode_files([FILES[0]], cache=again))
    assert again.misses == 1


def test_a_cache_path_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PcapkitError, match="cache directory"):
        DecodeCache(blocker)


def test_small_files_are_not_cached_by_default(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "CACHE_MIN_BYTES", 4 << 20)
    cache = DecodeCache(tmp_path / "cache")
    pcapkit.decode_files([FILES[0]], cache=cache)
    assert not list((tmp_path / "cache").glob("*/done"))


def test_a_file_that_cannot_be_hashed_is_decoded_uncached(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the file to hash it fails (a permission, a vanished file): no traceback, the
    file is decoded as without a cache and nothing is stored."""
    def unreadable(self: DecodeCache, path: Path) -> str:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(DecodeCache, "_content_hash", unreadable)
    cache = DecodeCache(tmp_path / "cache")
    _same(pcapkit.decode_files([FILES[0]]), pcapkit.decode_files([FILES[0]], cache=cache))
    assert cache.misses == 1 and not list((tmp_path / "cache").glob("*/done"))


def test_the_hash_memo_forgets_files_that_are_gone(tmp_path: Path) -> None:
    import json

    target = tmp_path / "capture.pcap"
    shutil.copy(FILES[0], target)
    pcapkit.decode_files([target], cache=DecodeCache(tmp_path / "cache"))
    index = json.loads((tmp_path / "cache" / "index.json").read_text())
    assert str(target.resolve()) in index
    target.unlink()
    other = tmp_path / "other.pcap"
    shutil.copy(FILES[0], other)
    pcapkit.decode_files([other], cache=DecodeCache(tmp_path / "cache"))
    index = json.loads((tmp_path / "cache" / "index.json").read_text())
    assert str(target.resolve()) not in index and str(other.resolve()) in index
