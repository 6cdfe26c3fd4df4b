"""Unpacking archives: hostile members refused and reported, bombs bounded, the good
capture beside them read, temporary directories never beside the input and removed."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from pcapkit.errors import PcapkitError
from pcapkit.ingest import Inputs
from pcapkit.ingest.archives import ArchiveLimits, is_archive, unpack

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ROOT / "fixtures" / "retina" / "hostile"
GOOD = ROOT / "fixtures" / "dnstx" / "answered.pcap"


def _problems(inputs: Inputs) -> list[str]:
    return [e.message for e in inputs.problems]


@pytest.mark.parametrize("name,refused", [
    ("absolute-path.tar.gz", ["'/tmp/pcapkit-hostile-absolute.txt' has an absolute path"]),
    ("dotdot.tar.gz", ["'../../pcapkit-hostile-dotdot.txt' climbs out of the directory"]),
    ("link-out.tar.gz", ["'passwd' is a link to the absolute path '/etc/passwd'",
                         "'up' is a link pointing outside the directory",
                         "'hard' is a link pointing outside the directory"]),
    ("device.tar.gz", ["'null' is a device file or pipe", "'pipe' is a device file or pipe"]),
])
def test_hostile_members_are_refused_and_the_capture_beside_them_is_read(name, refused):
    with Inputs([HOSTILE / name]) as inputs:
        problems = _problems(inputs)
        assert len(problems) == len(refused), problems
        for text, expected in zip(problems, refused, strict=True):
            assert expected in text and text.endswith("refused")
        root = inputs.paths[0].parents[1]
        written = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
        assert [p.name for p in inputs.paths] == ["answered.pcap"]
        assert written == ["0", "0/answered.pcap"]  # nothing else, nowhere else
    assert not Path("/tmp/pcapkit-hostile-absolute.txt").exists()
    assert not (root.parent / "pcapkit-hostile-dotdot.txt").exists()
    assert not root.exists()  # close() removed the unpacked archive


def test_the_capture_inside_a_hostile_tarball_is_analysed_and_the_refusal_listed():
    import pcapkit

    capture = pcapkit.open(HOSTILE / "link-out.tar.gz")
    assert len(capture.packets) == 2  # answered.pcap: a query and its answer
    assert {e.file for e in capture.errors} == {str(HOSTILE / "link-out.tar.gz")}
    assert str(capture.points["file"].iloc[0]) == f"{HOSTILE / 'link-out.tar.gz'}!answered.pcap"


def test_a_tarball_bomb_is_reported_not_obeyed(monkeypatch):
    monkeypatch.setenv("PCAPKIT_MAX_UNPACKED_BYTES", str(1 << 20))
    with Inputs([HOSTILE / "bomb.tar.gz"]) as inputs:
        assert inputs.paths == []
        (problem,) = _problems(inputs)
        assert "unpacks to more than 1,048,576 bytes" in problem and "not unpacked" in problem
    monkeypatch.delenv("PCAPKIT_MAX_UNPACKED_BYTES")
    with Inputs([HOSTILE / "bomb.tar.gz"]) as inputs:  # under the default bound: unpacked
        assert [p.name for p in inputs.paths] == ["answered.pcap"] and not inputs.problems


def test_a_header_that_understates_its_size_cannot_pass_the_bound(tmp_path):
    limits = ArchiveLimits(max_bytes=1000)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for i in range(3):  # each under the bound, together over it
            info = tarfile.TarInfo(f"part{i}.bin")
            info.size = 600
            tar.addfile(info, io.BytesIO(bytes(600)))
    archive = tmp_path / "parts.tar"
    archive.write_bytes(raw.getvalue())
    result = unpack(archive, tmp_path / "out", limits)
    assert not result.usable and "more than 1,000 bytes" in result.problems[0]
    assert list((tmp_path / "out").iterdir()) == []


def test_member_count_is_bounded(tmp_path):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for i in range(5):
            info = tarfile.TarInfo(f"d{i}")
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
    (tmp_path / "many.tar").write_bytes(raw.getvalue())
    result = unpack(tmp_path / "many.tar", tmp_path / "out", ArchiveLimits(max_members=3))
    assert not result.usable and "more than 3 members" in result.problems[0]


def test_a_truncated_tarball_keeps_the_members_before_the_damage(tmp_path):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        tar.add(GOOD, arcname="answered.pcap")
        info = tarfile.TarInfo("big.bin")
        info.size = 100_000
        tar.addfile(info, io.BytesIO(bytes(100_000)))
    data = gzip.compress(raw.getvalue()[:20_000])  # cut inside the second member
    (tmp_path / "cut.tar.gz").write_bytes(data)
    with Inputs([tmp_path / "cut.tar.gz"]) as inputs:
        assert [p.name for p in inputs.paths] == ["answered.pcap"]
        (problem,) = _problems(inputs)
        assert "archive damaged after 1 member(s)" in problem


def test_garbage_named_like_a_tarball_is_listed(tmp_path):
    (tmp_path / "node1.tar.gz").write_bytes(b"not gzip, not tar")
    with Inputs([tmp_path]) as inputs:
        assert inputs.paths == []
        assert _problems(inputs)[0].startswith("not a readable tar archive")


def test_unpacking_never_writes_beside_the_input(tmp_path):
    copy = tmp_path / "incident" / "link-out.tar.gz"
    copy.parent.mkdir()
    copy.write_bytes((HOSTILE / "link-out.tar.gz").read_bytes())
    before = sorted(os.listdir(copy.parent))
    with Inputs([copy.parent]) as inputs:
        assert tmp_path not in inputs.paths[0].parents
        assert sorted(os.listdir(copy.parent)) == before


def test_is_archive_tells_tarballs_from_gzipped_captures(tmp_path):
    gzipped = tmp_path / "node1.pcap.gz"
    gzipped.write_bytes(gzip.compress(GOOD.read_bytes()))
    renamed = tmp_path / "capture"  # a tarball whatever its name
    renamed.write_bytes((HOSTILE / "dotdot.tar.gz").read_bytes())
    assert not is_archive(gzipped) and not is_archive(GOOD)
    assert is_archive(renamed) and is_archive(HOSTILE / "device.tar.gz")


def test_bad_limits_are_one_clear_error(monkeypatch):
    monkeypatch.setenv("PCAPKIT_MAX_UNPACKED_BYTES", "lots")
    with pytest.raises(PcapkitError, match="PCAPKIT_MAX_UNPACKED_BYTES must be a number"):
        ArchiveLimits.from_env()
