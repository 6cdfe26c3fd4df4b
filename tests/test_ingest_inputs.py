"""A directory with broken captures beside good ones: the good are analysed, every broken
one is listed under inputs with its error (and on stderr), nothing readable exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from pcapkit.cli import main

ROOT = Path(__file__).resolve().parent.parent
GOOD = ROOT / "fixtures" / "dnstx" / "answered.pcap"
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())


def _incident(directory: Path, good: bool = True) -> None:
    directory.mkdir()
    data = GOOD.read_bytes()
    if good:
        (directory / "good.pcap").write_bytes(data)
    (directory / "empty.pcap").write_bytes(b"")
    (directory / "garbage.pcap").write_bytes(b"this is not a capture at all\n" * 4)
    (directory / "truncated.pcap").write_bytes(data[:-20])
    (directory / "README.txt").write_text("notes, not a capture")
    (directory / "node1-ifindex.txt").write_text("1 lo\n2 eth0\n")


def test_broken_files_are_listed_and_the_rest_analysed(tmp_path) -> None:
    _incident(tmp_path / "incident")
    result = CliRunner().invoke(main, ["analyze", str(tmp_path / "incident"),
                                       "--format", "json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    inputs = {Path(i["file"]).name: i for i in report["inputs"]}
    assert set(inputs) == {"good.pcap", "empty.pcap", "garbage.pcap", "truncated.pcap"}
    assert inputs["good.pcap"]["packets"] == 2 and inputs["good.pcap"]["errors"] == []
    assert "file is empty" in inputs["empty.pcap"]["errors"][0]
    assert "not a pcap or pcapng" in inputs["garbage.pcap"]["errors"][0]
    assert inputs["truncated.pcap"]["packets"] == 1
    assert "at byte offset" in inputs["truncated.pcap"]["errors"][0]
    for name in ("empty.pcap", "garbage.pcap", "truncated.pcap"):
        assert f"pcapkit: warning: {tmp_path / 'incident' / name}" in result.stderr
    assert "README" not in result.stdout + result.stderr


def test_text_mode_lists_them_on_stderr_too(tmp_path) -> None:
    _incident(tmp_path / "incident")
    result = CliRunner().invoke(main, ["analyze", str(tmp_path / "incident")])
    assert result.exit_code == 0
    assert result.stderr.count("pcapkit: warning:") == 3


def test_nothing_readable_exits_2_naming_every_file(tmp_path) -> None:
    _incident(tmp_path / "incident", good=False)
    (tmp_path / "incident" / "truncated.pcap").write_bytes(GOOD.read_bytes()[:30])
    result = CliRunner().invoke(main, ["analyze", str(tmp_path / "incident")])
    assert result.exit_code == 2
    for name in ("empty.pcap", "garbage.pcap", "truncated.pcap"):
        assert name in result.stderr
    assert "Traceback" not in result.stderr
