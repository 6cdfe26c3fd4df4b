"""Packet times end to end: every nanosecond digit in every output format, and no
time (null, never 1970-01-01) for a pcapng Simple Packet Block, which carries none."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

import pcapkit
from pcapkit.cli import main
from pcapkit.decode.parquet import write_packets_dataset, write_packets_parquet

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
#: classic pcap with the nanosecond magic: 1767225600.000000001, .123456789, .999999999
NANOSECONDS = FIXTURES / "crafted" / "pcap-bigendian-nanosecond.pcap"
NS_TIMES = ["2026-01-01T00:00:00.000000001Z", "2026-01-01T00:00:00.123456789Z",
            "2026-01-01T00:00:00.999999999Z"]
T0_NS = 1_767_225_600 * 10**9 + 5


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def _block(block_type: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    return struct.pack("<II", block_type, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def _spb_capture(path: Path) -> Path:
    """EPB, SPB, EPB on one Ethernet interface with nanosecond resolution."""
    data = bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1000, dport=2000))
    section = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    interface = _block(1, struct.pack("<HHI", 1, 0, 0) + struct.pack("<HHB3x", 9, 1, 9)
                       + struct.pack("<HH", 0, 0))

    def epb(ticks: int) -> bytes:
        return _block(6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data),
                                     len(data)) + data)

    spb = _block(3, struct.pack("<I", len(data)) + data)
    path.write_bytes(section + interface + epb(T0_NS) + spb + epb(T0_NS + 1))
    return path


@pytest.mark.parametrize("fmt", ["json", "csv", "table", "parquet"])
def test_every_output_format_keeps_every_nanosecond(fmt: str, tmp_path: Path) -> None:
    out = tmp_path / "packets.out"
    result = run("decode", NANOSECONDS, "--format", fmt, "--output", out)
    assert result.exit_code == 0, result.output
    as_text = [str(pd.Timestamp(t, tz="UTC")) for t in NS_TIMES]  # 2026-01-01 00:00:00.000000001+00:00
    if fmt == "json":
        assert [json.loads(line)["ts"] for line in out.read_text().splitlines()] == NS_TIMES
    elif fmt == "parquet":
        assert pd.read_parquet(out)["ts"].tolist() == [pd.Timestamp(t) for t in NS_TIMES]
    elif fmt == "csv":
        assert pd.read_csv(out, dtype=str)["ts"].tolist() == as_text
    else:  # a table writes ISO 8601 UTC with the digits the column needs: all nine here
        assert all(t in out.read_text() for t in NS_TIMES)


def test_json_times_of_other_tables_keep_their_nanoseconds_too() -> None:
    result = run("flows", NANOSECONDS, "--format", "json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout.splitlines()[0])
    assert row["ts"] == NS_TIMES[0]


def test_a_simple_packet_block_has_no_time(tmp_path: Path) -> None:
    capture = _spb_capture(tmp_path / "spb.pcapng")
    expected = [pd.Timestamp(T0_NS, tz="UTC"), pd.NaT, pd.Timestamp(T0_NS + 1, tz="UTC")]
    packets = pcapkit.decode_file(capture).packets
    assert packets["ts"].tolist() == expected
    assert pd.concat([d.packets for d in pcapkit.iter_decode(capture)])["ts"].tolist() == expected
    write_packets_parquet([capture], tmp_path / "stream.parquet")
    write_packets_dataset([capture], tmp_path / "parts", workers=1)
    for table in (pd.read_parquet(tmp_path / "stream.parquet"),
                  pd.read_parquet(tmp_path / "parts")):
        assert table["ts"].isna().tolist() == [False, True, False]
    result = run("decode", capture, "--format", "json")
    assert [json.loads(line)["ts"] for line in result.stdout.splitlines()] == [
        "2026-01-01T00:00:00.000000005Z", None, "2026-01-01T00:00:00.000000006Z"]
    result = run("decode", capture, "--format", "csv")
    assert pd.read_csv(io.StringIO(result.stdout))["ts"].isna().tolist() == [False, True, False]
