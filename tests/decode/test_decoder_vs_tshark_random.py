"""Differential fuzzing: random valid packet stacks decoded by pcapkit and by tshark.

Every capture is generated from a fixed seed (tests/decode/random_stacks.py), so
a failure names a reproducible file; the comparison is the one the fixture
oracle test makes (tests/oracle.py), field for field.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from scapy.contrib.geneve import GENEVE, GeneveOptions
from scapy.layers.inet import GRE, IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared oracle
sys.path.insert(0, str(Path(__file__).resolve().parent))

from oracle import TSHARK, frame_mismatches, tshark_expectations  # noqa: E402
from random_stacks import (  # noqa: E402
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    LINKTYPE_SLL,
    LINKTYPE_SLL2,
    Record,
    random_records,
    write_pcap,
)

from pcapkit import decode_file  # noqa: E402

PACKETS_PER_FILE = 300
CASES = [(LINKTYPE_ETHERNET, 1), (LINKTYPE_ETHERNET, 2), (LINKTYPE_SLL, 3), (LINKTYPE_SLL2, 4),
         (LINKTYPE_RAW, 5), (LINKTYPE_IPV4, 6), (LINKTYPE_IPV6, 7), (LINKTYPE_NULL, 8)]


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (apt-get install tshark)")
@pytest.mark.parametrize("linktype,seed", CASES, ids=[f"linktype{lt}-seed{s}" for lt, s in CASES])
def test_random_stacks_decode_as_tshark_does(tmp_path: Path, linktype: int, seed: int) -> None:
    records = random_records(seed, linktype, PACKETS_PER_FILE)
    path = tmp_path / f"random-{linktype}-{seed}.pcap"
    write_pcap(path, linktype, records)
    expected = tshark_expectations(str(path))
    assert len(expected) == PACKETS_PER_FILE
    mismatches = frame_mismatches(expected, decode_file(path).packets)
    assert not mismatches, f"{len(mismatches)} of {len(expected)} frames differ:\n" + \
        "\n".join(mismatches[:20])


# Regression tests for what the fuzzing found; they need no tshark.

def _decode_cut(tmp_path: Path, packet: bytes, caplen: int) -> dict[str, object]:
    """Decode ``packet`` (raw IPv4/IPv6) captured up to ``caplen`` bytes; its one row."""
    path = tmp_path / "cut.pcap"
    write_pcap(path, LINKTYPE_RAW, [Record(packet[:caplen], len(packet))])
    row = decode_file(path).packets.iloc[0]
    return {k: (None if pd.isna(v) else v) for k, v in row.items()}


def _inner() -> Packet:
    return IP(src="10.244.1.5", dst="10.244.2.7") / TCP(sport=40000, dport=8080)


@pytest.mark.parametrize("encap,tunnel,caplen,vni", [
    # VXLAN cut inside its 8-byte header, before and after the VNI was captured
    ("vxlan", UDP(sport=50000, dport=4789) / VXLAN(vni=77) / Ether() / _inner(), 20 + 8 + 3,
     None),
    ("vxlan", UDP(sport=50000, dport=4789) / VXLAN(vni=77) / Ether() / _inner(), 20 + 8 + 7, 77),
    # GRE whose key was captured but whose sequence number was not
    ("gre", GRE(key_present=1, key=0x1234, seqnum_present=1, sequence_number=9, proto=0x0800)
     / _inner(), 20 + 4 + 4 + 2, 0x1234),
    # GRE cut before its first byte: the IP protocol alone names it
    ("gre", GRE(proto=0x0800) / _inner(), 20, None),
    # Geneve whose options were cut
    ("geneve", UDP(sport=50000, dport=6081)
     / GENEVE(vni=5, proto=0x0800, options=[GeneveOptions(data=b"abcdefgh")]) / _inner(),
     20 + 8 + 8 + 6, 5),
])
def test_a_tunnel_header_cut_short_still_names_the_tunnel(
        tmp_path: Path, encap: str, tunnel: Packet, caplen: int, vni: int | None) -> None:
    row = _decode_cut(tmp_path, bytes(IP(src="192.168.0.1", dst="192.168.0.2") / tunnel), caplen)
    assert row["encap"] == encap
    assert row["vni"] == vni
    assert row["decode_error"] == "tunnel header cut short"
    # What the tunnel carries was not captured: src/dst stay on the outer header.
    assert (row["src"], row["dst"]) == ("192.168.0.1", "192.168.0.2")
    assert (row["outer_src"], row["outer_dst"]) == ("192.168.0.1", "192.168.0.2")


@pytest.mark.parametrize("packet,caplen,ttl,ip_id", [
    (IP(ttl=61, id=4242) / TCP(), 6, None, 4242),   # identification, not the TTL
    (IP(ttl=61, id=4242) / TCP(), 12, 61, 4242),    # both, but not the addresses
    (IPv6(hlim=17) / TCP(), 8, 17, None),
    (IPv6(hlim=17) / TCP(), 7, None, None),
])
def test_a_cut_ip_header_keeps_the_fields_it_holds(
        tmp_path: Path, packet: Packet, caplen: int, ttl: int | None, ip_id: int | None) -> None:
    row = _decode_cut(tmp_path, bytes(packet), caplen)
    assert (row["ttl"], row["ip_id"]) == (ttl, ip_id)
    assert row["src"] is None and row["decode_error"] == "IP header cut short"


def test_a_first_fragment_ending_with_the_tunnel_header_carries_no_inner_header(
        tmp_path: Path) -> None:
    datagram = (IP(src="192.168.0.1", dst="192.168.0.2", id=7)
                / GRE(key_present=1, key=99, proto=0x86DD)
                / IPv6(src="fd00::1", dst="fd00::2") / TCP())
    first = bytes(fragment(datagram, fragsize=8)[0])   # IPv4 header + the 8-byte GRE header
    row = _decode_cut(tmp_path, first, len(first))
    assert (row["encap"], row["vni"], row["decode_error"]) == ("gre", 99, None)
    assert (row["src"], row["dst"], row["ip_id"]) == ("192.168.0.1", "192.168.0.2", 7)
