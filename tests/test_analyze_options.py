"""`pcapkit analyze` options beyond the report: --cache, --since/--until, --jobs, progress."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pcapkit.cli import main
from pcapkit.cli.progress import Stages
from pcapkit.decode import cache as cache_module

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "fixtures" / "demo"
SNAPSHOT = DEMO / "cluster.json"


def _analyze(*args: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(main, ["analyze", str(DEMO), "--snapshot", str(SNAPSHOT),
                                       "--format", "json", *args])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_a_cached_second_run_does_not_decode_and_finds_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "CACHE_MIN_BYTES", 0)
    code, first, _ = _analyze("--cache", str(tmp_path / "cache"))
    assert len(list((tmp_path / "cache").glob("*/done"))) == 2   # one entry per capture

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded although cached")

    monkeypatch.setattr("pcapkit.decode.files.decode_file", no_decoding)
    again, second, _ = _analyze("--cache", str(tmp_path / "cache"))
    assert again == code
    assert [f["id"] for f in second["findings"]] == [f["id"] for f in first["findings"]]
    assert second["inputs"] == first["inputs"]


def test_since_and_until_narrow_the_analysis() -> None:
    _, whole, _ = _analyze()
    times = sorted(f["first_seen"] for f in whole["findings"])
    since = times[-1]                       # the last finding starts here
    _, late, _ = _analyze("--since", since)
    assert late["summary"]["packets"] < whole["summary"]["packets"]
    assert {f["category"] for f in late["findings"]} <= {f["category"]
                                                          for f in whole["findings"]}
    assert all(f["first_seen"] >= since for f in late["findings"] if f["first_seen"])
    _, early, _ = _analyze("--until", times[0])
    assert early["summary"]["packets"] < whole["summary"]["packets"]


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "yesterday"], "--since"), (["--until", "12:99"], "--until"),
    (["--jobs", "0"], "--jobs"), (["--since", "2026-12-03", "--until", "2026-12-01"], "after"),
])
def test_bad_options_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["analyze", str(DEMO), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_one_job_gives_the_same_findings() -> None:
    _, parallel, _ = _analyze()
    _, single, _ = _analyze("--jobs", "1")
    assert [f["id"] for f in single["findings"]] == [f["id"] for f in parallel["findings"]]


def test_no_progress_unless_a_terminal() -> None:
    _, _, stderr = _analyze()
    assert "decode" not in stderr and "vantage" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("pcapkit: 2 file(s)")


def test_progress_names_each_stage_with_its_rate(capsys: pytest.CaptureFixture) -> None:
    stages = Stages(enabled=True)
    with stages.shown():
        assert stages.run("decode", lambda: 41 + 1, lambda: 1000) == 42
        stages.run("rules", lambda: None)
    err = capsys.readouterr().err
    assert "decode" in err and "1,000 packets" in err and "rules" in err
    assert set(stages.seconds) == {"decode", "rules"}
    quiet = Stages(enabled=False)
    with quiet.shown():
        quiet.run("decode", lambda: None, lambda: 5)
    assert capsys.readouterr().err == ""


def test_broken_files_in_a_directory_are_listed_and_the_rest_analysed(tmp_path: Path) -> None:
    good = ROOT / "fixtures" / "kernel" / "node2-eth0.pcap"
    (tmp_path / "node2.pcap").write_bytes(good.read_bytes())
    (tmp_path / "empty.pcap").write_bytes(b"")
    (tmp_path / "junk.pcap").write_text("garbage")
    (tmp_path / "cut.pcap").write_bytes(good.read_bytes()[:3000])
    (tmp_path / "notes.txt").write_text("not a capture, not named like one")
    result = CliRunner().invoke(main, ["analyze", str(tmp_path), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    errors = {Path(i["file"]).name: i["errors"] for i in report["inputs"]}
    assert set(errors) == {"node2.pcap", "empty.pcap", "junk.pcap", "cut.pcap"}
    assert errors["node2.pcap"] == []
    for name in ("empty.pcap", "junk.pcap", "cut.pcap"):
        assert len(errors[name]) == 1
        assert any(name in line and "warning" in line for line in result.stderr.splitlines())
    assert "at byte offset" in errors["cut.pcap"][0]
    assert report["summary"]["packets"] > 0


def test_nothing_readable_or_nothing_there_exits_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["analyze", str(tmp_path / "empty")])
    assert result.exit_code == 2 and "no captures found" in result.output
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.pcap").write_bytes(b"")
    result = CliRunner().invoke(main, ["analyze", str(tmp_path / "broken")])
    assert result.exit_code == 2 and "a.pcap: file is empty" in result.output
    result = CliRunner().invoke(main, ["analyze", str(tmp_path / "missing.pcap")])
    assert result.exit_code == 2 and "missing.pcap" in result.output
    assert "Traceback" not in result.output


def test_the_incident_directory_s_cluster_export_is_found(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["analyze", str(DEMO), "--format", "json"])
    report = json.loads(result.stdout)
    assert report["snapshot"]["loaded"] and report["snapshot"]["discovered"]
    assert report["snapshot"]["files"] == [str(DEMO / "cluster.json")]
    assert "policy-drop" in {f["category"] for f in report["findings"]}
    text = CliRunner().invoke(main, ["analyze", str(DEMO)]).stdout
    assert "found in the incident directory" in text
    # a snapshot/ directory (one file per kind, or a cluster-info dump) is found too
    incident = tmp_path / "incident"
    (incident / "snapshot").mkdir(parents=True)
    for capture in DEMO.glob("*.pcap"):
        (incident / capture.name).write_bytes(capture.read_bytes())
    (incident / "snapshot" / "objects.json").write_text(SNAPSHOT.read_text())
    report = json.loads(CliRunner().invoke(main, ["analyze", str(incident), "--format",
                                                  "json"]).stdout)
    assert report["snapshot"]["files"] == [str(incident / "snapshot")]
    assert report["snapshot"]["pods"] == 6
    # --snapshot wins, and nothing found means addresses only, said in the report
    named = json.loads(CliRunner().invoke(main, ["analyze", str(DEMO), "--snapshot",
                                                 str(SNAPSHOT), "--format", "json"]).stdout)
    assert named["snapshot"]["discovered"] is False
    (incident / "snapshot" / "objects.json").unlink()
    (incident / "snapshot").rmdir()
    bare = json.loads(CliRunner().invoke(main, ["analyze", str(incident), "--format",
                                                "json"]).stdout)
    assert not bare["snapshot"]["loaded"] and "no cluster snapshot" in bare["summary"]["note"]
