"""The command line, driven through click's CliRunner as a user would run it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from pcapkit import __version__
from pcapkit.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
VXLAN_8472 = str(FIXTURES / "public" / "tcpdump-vxlan_port_8472.pcap")
CORRUPT = str(FIXTURES / "public" / "suricata-verify-fuzz-huge-caplen.pcap")


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_version_and_help() -> None:
    assert run("--version").output.strip() == f"pcapkit, version {__version__}"
    result = run("--help")
    assert result.exit_code == 0 and "decode" in result.output
    assert "--decode-as" in run("decode", "--help").output


def test_decode_csv_to_stdout() -> None:
    result = run("decode", VXLAN_8472, "--format", "csv")
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert len(frame) == 10
    assert set(frame["encap"]) == {"vxlan"}
    assert set(frame["vni"]) == {100}
    assert set(frame["outer_dport"]) == {8472}
    assert frame.loc[frame["frame"] == 1, "src"].item() == "192.168.203.3"


def test_decode_json_lines() -> None:
    result = run("decode", VXLAN_8472, "--format", "json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 10 and rows[0]["frame"] == 1 and rows[0]["encap"] == "vxlan"


def test_decode_parquet_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "packets.parquet"
    result = run("decode", VXLAN_8472, "--format", "parquet", "--output", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert len(frame) == 10 and frame["vni"].dropna().unique().tolist() == [100]


def test_parquet_needs_output() -> None:
    result = run("decode", VXLAN_8472, "--format", "parquet")
    assert result.exit_code == 2 and "--output" in result.output


def test_custom_vxlan_port_adds_to_defaults(tmp_path: Path) -> None:
    # The 8472 sample seen as plain UDP when only a custom port is configured is
    # still VXLAN because -d adds to 4789/8472 rather than replacing them.
    result = run("decode", VXLAN_8472, "-d", "udp.port==9999,vxlan", "--format", "csv")
    assert set(pd.read_csv(io.StringIO(result.stdout))["encap"]) == {"vxlan"}


def test_decode_as_none_turns_a_default_port_off() -> None:
    result = run("decode", VXLAN_8472, "--decode-as", "udp.port==8472,none", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(io.StringIO(result.stdout))["encap"]) == {"none"}


@pytest.mark.parametrize("entry", ["udp.port==8472", "udp.port==70000,vxlan",
                                   "ip.proto==47,gre", "udp.port==8472,nosuch",
                                   "tcp.port==8472,vxlan"])
def test_a_bad_decode_as_entry_is_a_usage_error(entry: str) -> None:
    for command in ("decode", "flows"):
        result = run(command, VXLAN_8472, "-d", entry)
        assert result.exit_code == 2, result.output
        assert "--decode-as" in result.output and "Traceback" not in result.output


def test_damaged_files_are_reported_not_fatal_and_missing_ones_are_an_error(
        tmp_path: Path) -> None:
    result = run("decode", CORRUPT, VXLAN_8472, "--format", "csv")
    assert result.exit_code == 1
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert len(frame) == 11  # 1 packet before the damage + the 10 of the good file
    assert "Traceback" not in result.output
    assert f"{CORRUPT}:" in result.stderr and "byte offset 228" in result.stderr
    missing = run("decode", CORRUPT, str(tmp_path / "nope.pcap"), VXLAN_8472, "--format", "csv")
    assert missing.exit_code == 2 and "nope.pcap" in missing.output
    assert missing.stdout.count("\n") <= 4 and "file,frame" not in missing.stdout


def test_directory_is_searched_and_dns_table(tmp_path: Path) -> None:
    result = run("decode", str(FIXTURES / "kernel"), "--dns", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    dns = pd.read_csv(io.StringIO(result.stdout))
    assert {"file", "frame", "qname", "rcode"} <= set(dns.columns)
    assert len(dns) > 0


def test_interfaces_table() -> None:
    result = run("decode", str(FIXTURES / "public" / "zeek-pcapng-multi-interface.pcapng"),
                 "--interfaces", "--format", "csv")
    interfaces = pd.read_csv(io.StringIO(result.stdout))
    assert len(interfaces) == 2


def test_streamed_parquet_equals_the_in_memory_table(tmp_path: Path) -> None:
    out = tmp_path / "all.parquet"
    paths = [CORRUPT, VXLAN_8472, str(FIXTURES / "crafted" / "pcapng-three-interfaces-gadget.pcapng")]
    result = run("decode", *paths, "--format", "parquet", "--output", str(out))
    assert result.exit_code == 1 and "byte offset 228" in result.stderr
    streamed = pd.read_parquet(out)
    from pcapkit import decode_files

    expected = decode_files(paths).packets
    assert list(streamed.columns) == list(expected.columns)
    assert (streamed.dtypes.astype(str) == expected.dtypes.astype(str)).all()
    for name in expected.columns:
        left = streamed[name].astype(object).where(streamed[name].notna(), None).tolist()
        right = expected[name].astype(object).where(expected[name].notna(), None).tolist()
        assert left == right, name


def test_empty_capture_prints_the_header_only() -> None:
    result = run("decode", str(FIXTURES / "public" / "tcpdump-empty.pcap"))
    assert result.exit_code == 0
    assert result.stdout.split()[:3] == ["frame", "ts", "src"]  # the brief columns
    assert "Empty DataFrame" not in result.stdout


def test_parquet_directory_output_has_one_part_per_capture(tmp_path: Path) -> None:
    captures = tmp_path / "captures"
    for node in ("node1", "node2"):
        (captures / node).mkdir(parents=True)
        (captures / node / "any.pcap").write_bytes(Path(VXLAN_8472).read_bytes())
    (captures / "node2" / "broken.pcap").write_bytes(Path(CORRUPT).read_bytes())
    out = tmp_path / "dataset"
    for workers in ("1", "2"):
        result = run("decode", str(captures), "--format", "parquet", "--output", f"{out}/",
                     "-j", workers)
        assert result.exit_code == 1 and "broken.pcap" in result.stderr
        parts = sorted(p.name for p in out.iterdir())
        assert parts == ["node1__any.pcap.parquet", "node2__any.pcap.parquet",
                         "node2__broken.pcap.parquet"]
        table = pd.read_parquet(out)
        assert len(table) == 21 and table["file"].nunique() == 3
        assert str(table["vni"].dtype) == "UInt32"


def test_json_keeps_slashes_and_csv_lists_are_json(tmp_path: Path) -> None:
    """Paths read as written in JSON (no '\\/'), and list cells (DNS answers) are JSON in
    CSV, not Python reprs: both read back as the values they were."""
    import json

    kernel = str(FIXTURES / "kernel" / "node1-any.pcap")
    lines = run("decode", kernel, "--format", "json").stdout.splitlines()
    assert "\\/" not in lines[0] and json.loads(lines[0])["file"] == kernel
    table = pd.read_csv(io.StringIO(run("decode", kernel, "--dns", "--format", "csv").stdout))
    answered = table[table["ancount"] > 0]
    assert len(answered)
    answers = json.loads(answered["answers"].iloc[0])
    assert isinstance(answers, list) and {"name", "type", "data"} <= set(answers[0])
