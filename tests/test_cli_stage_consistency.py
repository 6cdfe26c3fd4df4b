"""One CLI: flows and dns find the incident's cluster export as analyze does, and analyze
takes the flow and DNS options flows and dns take."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pcapkit.cli import main

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo"


def _run(*args: str) -> str:
    assert DEMO.is_dir(), f"missing committed fixture {DEMO}"
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def test_flows_and_dns_find_the_cluster_export_beside_the_captures():
    for command, column in (("flows", "resp_identity"), ("dns", "resp_identity")):
        rows = [json.loads(line) for line in
                _run(command, str(DEMO), "--format", "json").splitlines() if line]
        named = [r[column] for r in rows if r[column] and not r[column][0].isdigit()]
        assert named, f"{command}: no end named by the snapshot"


def test_analyze_takes_the_flow_and_dns_options(tmp_path):
    def summary(*options: str) -> dict:
        out = tmp_path / "report.json"
        _run("analyze", str(DEMO), "-q", "--format", "json", "-o", str(out), *options)
        return json.loads(out.read_text())["summary"]

    default = summary()
    # a UDP idle timeout shorter than the gaps between DNS retries splits those flows
    assert summary("--udp-timeout", "0.001")["flows"] > default["flows"]
    assert summary("--dns-timeout", "5")["dns_transactions"] == default["dns_transactions"]
    result = CliRunner().invoke(main, ["analyze", str(DEMO), "--dns-timeout", "-1"])
    assert result.exit_code == 2 and "dns-timeout" in result.output
