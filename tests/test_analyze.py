"""``pcapkit analyze``: exit codes, report formats holding the same findings, the schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from pcapkit.cli import main

ROOT = Path(__file__).resolve().parent.parent
DNAT = ROOT / "fixtures" / "kernel-dnat"
INCIDENT = [str(DNAT / "node1-any.pcap"), str(DNAT / "node2-eth0.pcap"),
            "--snapshot", str(DNAT / "cluster.json")]
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())


def analyze(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["analyze", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_report_follows_the_schema_and_names_what_was_read(tmp_path) -> None:
    code, out, err = analyze(*INCIDENT, "--format", "json")
    assert code == 1, err  # the lost DNS queries are high: --fail-on high
    report = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    assert [i["node"] for i in report["inputs"]] == ["node1", "node2"]
    assert report["snapshot"]["loaded"] and report["summary"]["by_severity"]["high"] >= 1
    categories = {f["category"] for f in report["findings"]}
    assert "dns-timeout" in categories
    assert "findings:" in err and "high" in err


def test_fail_on_sets_the_exit_status() -> None:
    assert analyze(*INCIDENT, "--fail-on", "critical")[0] == 0
    assert analyze(*INCIDENT, "--fail-on", "low")[0] == 1


def test_every_format_holds_the_same_findings(tmp_path) -> None:
    outputs = {}
    for fmt in ("json", "markdown", "text"):
        path = tmp_path / "reports" / f"report.{fmt}"
        code, _, err = analyze(*INCIDENT, "--format", fmt, "-o", str(path))
        assert code == 1, err
        outputs[fmt] = path.read_text()
    findings = json.loads(outputs["json"])["findings"]
    assert findings
    for finding in findings:
        for fmt in ("markdown", "text"):
            assert finding["summary"] in outputs[fmt], (fmt, finding["summary"])


def test_without_a_snapshot_the_report_says_so() -> None:
    code, out, _ = analyze(str(DNAT / "node1-any.pcap"), "--format", "json")
    report = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    assert not report["snapshot"]["loaded"]
    assert "no cluster snapshot" in report["summary"]["note"]


def test_a_healthy_capture_has_no_findings_and_exits_0() -> None:
    code, out, err = analyze(str(ROOT / "fixtures" / "dnstx" / "answered.pcap"))
    assert code == 0, err
    assert "no findings" in out


@pytest.mark.parametrize("args", [["--fail-on", "severe"], ["--format", "pdf"],
                                  ["--tuning", "missing.yml"], ["-o", str(ROOT)]])
def test_bad_options_are_usage_errors(args) -> None:
    code, _, err = analyze(str(DNAT / "node1-any.pcap"), *args)
    assert code == 2 and "Traceback" not in err


def test_nothing_readable_exits_2(tmp_path) -> None:
    garbage = tmp_path / "bad.pcap"
    garbage.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x00" * 3)
    code, _, err = analyze(str(garbage))
    assert code == 2 and "bad.pcap" in err
