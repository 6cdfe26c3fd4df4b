"""Every option of every command, given a bad value, is one clear line and exit 2, never a
traceback (the decode-as options are tested with their own feature in test_cli.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from pcapkit.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CAPTURE = str(FIXTURES / "public" / "tcpdump-vxlan_port_8472.pcap")
SNAPSHOT = str(FIXTURES / "cluster" / "flannel" / "snapshot-t2.json")
NOT_KUBERNETES = str(FIXTURES / "cluster" / "bad" / "not-kubernetes.json")
EXPLAIN = ["policy", "explain", "--snapshot", SNAPSHOT]
INCIDENT_COMMANDS = ("flows", "dns")


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def assert_usage_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


@pytest.fixture
def a_file(tmp_path: Path) -> str:
    path = tmp_path / "a-file"
    path.write_text("not a directory")
    return str(path)


SHARED_CASES = [  # options of decode, flows and dns alike: (arguments, what the error says)
    ((), "Missing argument 'PATHS...'"),
    ((CAPTURE, "--format", "xml"), "'xml' is not one of"),
    ((CAPTURE, "--format", "parquet"), "--format parquet needs --output FILE"),
    ((CAPTURE, "--bogus"), "No such option '--bogus'"),
]


@pytest.mark.parametrize("command", ["decode", *INCIDENT_COMMANDS])
@pytest.mark.parametrize(("args", "message"), SHARED_CASES)
def test_shared_options(command, args, message):
    assert_usage_error(run(command, *args), message)


@pytest.mark.parametrize("command", ["decode", *INCIDENT_COMMANDS])
def test_output_that_is_a_directory_or_under_a_file(command, tmp_path, a_file):
    assert_usage_error(run(command, CAPTURE, "--format", "csv", "-o", str(tmp_path)),
                       "--output", "is a directory")
    assert_usage_error(run(command, CAPTURE, "--format", "json", "-o", f"{a_file}/out.json"),
                       "--output", "cannot write", "is not a directory")
    assert_usage_error(run(command, CAPTURE, "--format", "parquet", "-o", f"{a_file}/x.parquet"),
                       "--output", "cannot write")


@pytest.mark.parametrize("command", ["decode", *INCIDENT_COMMANDS])
def test_output_in_a_missing_directory_is_created(command, tmp_path):
    out = tmp_path / "new" / "dir" / "out.csv"
    result = run(command, CAPTURE, "--format", "csv", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out).columns) > 1


@pytest.mark.parametrize(("args", "message"), [
    (("-j", "0"), "0 is not in the range x>=1"),
    (("-j", "many"), "'many' is not a valid integer"),
    (("--dns=yes",), "Option '--dns' does not take a value"),
    (("--interfaces=1",), "Option '--interfaces' does not take a value"),
])
def test_decode_options(args, message):
    assert_usage_error(run("decode", CAPTURE, *args), message)


def test_decode_dns_table_cannot_be_a_parquet_dataset(tmp_path):
    assert_usage_error(run("decode", CAPTURE, "--dns", "--format", "parquet", "-o", f"{tmp_path}/"),
                       "--output", "is a directory")


@pytest.mark.parametrize("command", INCIDENT_COMMANDS)
@pytest.mark.parametrize(("args", "message"), [
    (("--node", "node1"), "'node1' is not FILE=NODE"),
    (("--node", "=node1"), "is not FILE=NODE"),
    (("--node", f"{CAPTURE}="), "is not FILE=NODE"),
    (("--snapshot", "/nonexistent/cluster.json"), "does not exist"),
])
def test_capture_options(command, args, message):
    assert_usage_error(run(command, CAPTURE, *args), message)


@pytest.mark.parametrize("command", INCIDENT_COMMANDS)
def test_a_snapshot_that_is_not_kubernetes_is_one_line(command):
    result = run(command, CAPTURE, "--snapshot", NOT_KUBERNETES)
    assert_usage_error(result, "pcapkit: error:", NOT_KUBERNETES)
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("args", "message"), [
    (("--udp-timeout", "0"), "flows: udp_timeout must be a positive number"),
    (("--udp-timeout", "-5"), "flows: udp_timeout must be a positive number"),
    (("--udp-timeout", "soon"), "'soon' is not a valid float"),
    (("--tcp-timeout", "inf"), "flows: tcp_timeout must be a positive number"),
    (("--tcp-timeout", "nan"), "flows: tcp_timeout must be a positive number"),
    (("--tcp-timeout", "1e30"), "at most"),
])
def test_flows_options(args, message):
    assert_usage_error(run("flows", CAPTURE, *args), f"Invalid value for '{args[0]}'", message)


@pytest.mark.parametrize(("args", "message"), [
    (("--dns-timeout", "0"), "dns: timeout must be a positive number"),
    (("--dns-timeout", "-inf"), "dns: timeout must be a positive number"),
    (("--dns-timeout", "five"), "'five' is not a valid float"),
    (("--cluster-domain", ""), "dns: cluster_domain must be a domain name"),
    (("--cluster-domain", "."), "dns: cluster_domain must be a domain name"),
])
def test_dns_options(args, message):
    assert_usage_error(run("dns", CAPTURE, *args), f"Invalid value for '{args[0]}'", message)


@pytest.mark.parametrize(("args", "message"), [
    (("--from", "shop/client", "--to", "shop/web"), "Missing option '--port'"),
    (("--to", "shop/web", "--port", "80"), "Missing option '--from'"),
    (("--from", "shop/client", "--port", "80"), "Missing option '--to'"),
    (("--from", "shop/ghost", "--to", "shop/web", "--port", "80"), "unknown pod 'shop/ghost'"),
    (("--from", "shop/client", "--to", "10.99.99.99.99", "--port", "80"), "10.99.99.99.99"),
    (("--from", "shop/client", "--to", "shop/web", "--port", "99999"), "bad port 99999"),
    (("--from", "shop/client", "--to", "shop/web", "--port", "80/XYZ"), "bad protocol 'XYZ'"),
    (("--from", "shop/client", "--to", "shop/web", "--port", "80", "--at", "yesterday"),
     "not a time"),
    (("--from", "shop/client", "--to", "shop/web", "--port", "80", "--format", "xml"),
     "'xml' is not one of 'text', 'json'"),
    (("--from", "shop/client", "--to", "shop/web", "--port", "80", "--show-problems=1"),
     "Option '--show-problems' does not take a value"),
])
def test_policy_explain_options(args, message):
    assert_usage_error(run(*EXPLAIN, *args), message)


def test_policy_explain_snapshot_option(tmp_path):
    base = ["policy", "explain", "--from", "a/b", "--to", "c/d", "--port", "80"]
    assert_usage_error(run(*base), "Missing option '--snapshot'")
    for snapshot in (str(tmp_path / "absent.json"), NOT_KUBERNETES, str(tmp_path)):
        assert_usage_error(run(*base, "--snapshot", snapshot), "pcapkit: error:", snapshot)


@pytest.mark.parametrize("command", ["decode", *INCIDENT_COMMANDS, "analyze"])
def test_a_missing_path_or_a_directory_without_captures_writes_nothing(command, tmp_path):
    out = tmp_path / "out.csv"
    fmt = ["--format", "csv"] if command != "analyze" else ["--format", "json"]
    missing = tmp_path / "no-such-capture.pcap"
    assert_usage_error(run(command, CAPTURE, str(missing), *fmt, "-o", str(out)),
                       "no-such-capture.pcap", "does not exist")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a capture")
    assert_usage_error(run(command, str(empty), *fmt, "-o", str(out)), "no captures found")
    assert not out.exists()
