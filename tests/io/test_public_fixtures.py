"""The reader against tshark/capinfos on the real captures in fixtures/public/.

Every readable file must give the same frames as tshark: count, timestamps at
full nanosecond precision, wire and captured lengths, interface ids, and the
same interfaces (count, names, descriptions, link types) as capinfos.  The
damaged files give the packets before the damage plus one error naming the
file and the byte offset.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pcap_craft import read_capture

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "public"
CAPTURES = sorted(p for p in FIXTURES.iterdir() if p.name != "SOURCES.md")

# Damaged files: (packets before the damage, error offset, words the message must contain).
DAMAGED = {
    "libpcap-pcap-invalid-version-1.pcap": (0, 0, "major version 1 unsupported"),
    "libpcap-pcapng-invalid-vers-1.pcapng": (0, 0, "version 0.1"),
    "libpcap-shb-option-too-long.pcapng": (0, 0, "option 12336 claims 12336 bytes"),
    # tshark counts 2 packets here: when the first records of a file look wrong, Wireshark
    # guesses the 1999 "modified pcap" variant with 24-byte record headers.  libpcap and
    # tcpdump read it as standard pcap: 1 packet, then a record at byte 228 claiming
    # 1409179648 bytes.  pcapkit reads standard pcap only, like libpcap.
    "suricata-verify-fuzz-huge-caplen.pcap": (1, 228, "claims 1409179648 captured bytes"),
}

# capinfos encapsulation short names and the LINKTYPE values they come from.
ENCAP_LINKTYPES = {
    "ether": {1},
    "ether-mpacket": {274},
    "linux-sll": {113},
    "linux-sll2": {276},
    "rawip": {12, 14, 101},
}

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None or
                                  shutil.which("capinfos") is None,
                                  reason="tshark/capinfos not installed (apt install tshark)")


def test_fixture_set_is_present():
    assert len(CAPTURES) == 44, [p.name for p in CAPTURES]


def _epoch_ns(text: str) -> int:
    seconds, _, fraction = text.partition(".")
    return int(seconds) * 1_000_000_000 + int((fraction + "000000000")[:9])


def tshark_frames(path: Path) -> dict[str, np.ndarray]:
    """Per-frame fields from tshark, as int64 arrays."""
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number",
         "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len",
         "-e", "frame.interface_id"],
        capture_output=True, text=True, check=False).stdout
    rows = [line.split("\t") for line in out.splitlines() if line.strip()]
    return {
        "frame": np.array([int(r[0]) for r in rows], dtype=np.int64),
        "ts_ns": np.array([_epoch_ns(r[1]) for r in rows], dtype=np.int64),
        "wirelen": np.array([int(r[2]) for r in rows], dtype=np.int64),
        "caplen": np.array([int(r[3]) for r in rows], dtype=np.int64),
        "interface": np.array([int(r[4] or 0) for r in rows], dtype=np.int64),
    }


def capinfos_interfaces(path: Path) -> list[dict[str, str]]:
    """The 'Interface #N info' sections of capinfos, as dicts of their fields."""
    out = subprocess.run(["capinfos", str(path)], capture_output=True, text=True,
                         check=False).stdout
    interfaces: list[dict[str, str]] = []
    for line in out.splitlines():
        if re.match(r"Interface #\d+ info:", line):
            interfaces.append({})
        elif interfaces and "=" in line and line.startswith(" "):
            key, _, value = line.strip().partition(" = ")
            interfaces[-1][key] = value
    return interfaces


READABLE = [p for p in CAPTURES if p.name not in DAMAGED]


@needs_tshark
@pytest.mark.parametrize("path", READABLE, ids=lambda p: p.name)
def test_frames_match_tshark(path, framer):
    result = read_capture(path, framer=framer)
    expected = tshark_frames(path)
    assert result.reader.errors == []
    assert len(result) == len(expected["frame"])
    for name, values in expected.items():
        np.testing.assert_array_equal(result.columns[name], values, err_msg=name)


@needs_tshark
@pytest.mark.parametrize("path", READABLE, ids=lambda p: p.name)
def test_interfaces_match_capinfos(path):
    result = read_capture(path)
    expected = capinfos_interfaces(path)
    assert len(result.reader.interfaces) == len(expected)
    for interface, info in zip(result.reader.interfaces, expected, strict=True):
        short_name = info["Encapsulation"].rsplit(" - ", 1)[1].rstrip(")")
        assert interface.linktype in ENCAP_LINKTYPES[short_name]
        assert interface.name == info.get("Name")
        assert interface.description == info.get("Description")
    linktypes = [i.linktype for i in result.reader.interfaces]
    np.testing.assert_array_equal(
        result.columns["linktype"], [linktypes[i] for i in result.columns["interface"]])


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_damaged_files_report_file_and_offset(name, framer):
    count, offset, words = DAMAGED[name]
    path = FIXTURES / name
    result = read_capture(path, framer=framer)
    assert len(result) == count
    assert len(result.reader.errors) == 1
    error = result.reader.errors[0]
    assert error.file == str(path)
    assert error.offset == offset
    assert words in error.message
    assert str(path) in str(error) and f"byte offset {offset}" in str(error)


def test_formats_and_compression_are_detected_from_content():
    expected = {
        "zeek-http-iso-download.pcap.gz": ("pcap", True),
        "scapy-http_head.pcapng.gz": ("pcapng", True),
        "zeek-sll-ldap-issue-32.pcapng": ("pcapng", False),
        "arkime-bigendian.pcap": ("pcap", False),
    }
    for name, (fmt, compressed) in expected.items():
        result = read_capture(FIXTURES / name)
        assert (result.reader.format, result.reader.compressed) == (fmt, compressed), name
        assert result.reader.errors == []
        assert len(result) > 0


def test_nanosecond_pcap_keeps_every_digit():
    result = read_capture(FIXTURES / "tcpdump-sll-tcp-handshake-nano.pcap")
    assert result.reader.interfaces[0].tsresol == "ns"
    assert result.columns["ts_ns"][0] == 1418145369924505488


def test_pcapng_interfaces_carry_idb_options():
    result = read_capture(FIXTURES / "zeek-pcapng-multi-interface.pcapng")
    first, second = result.reader.interfaces
    assert (first.name, first.tsresol, first.snaplen) == ("eth0", "ns", 262144)
    assert second.description == "Ethernet 2" and second.tsresol == "us"
    assert [i.index for i in result.reader.interfaces] == [0, 1]


def test_packet_bytes_match_scapy():
    from scapy import utils as scapy_utils  # a dependency: missing is a failure, not a skip

    for name in ("arkime-bigendian.pcap", "zeek-sll-ldap-issue-32.pcapng",
                 "zeek-pcapng-126-idbs-mixed-linktypes.pcapng"):
        path = FIXTURES / name
        # Raw bytes as scapy's reader framed them (not re-serialised layers, whose
        # output depends on which scapy layers other tests have loaded).
        with scapy_utils.RawPcapReader(str(path)) as raw:
            expected = [data for data, _meta in raw]
        assert read_capture(path).packets == expected, name
