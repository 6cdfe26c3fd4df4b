"""The capture link's Ethernet addresses (eth_src/eth_dst): the outermost frame's, text."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import CookedLinuxV2, Dot1Q, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Raw
from scapy.utils import PcapWriter

import pcapkit

ROUTER, NODE = "02:00:00:00:00:fe", "02:00:00:00:0a:01"
INNER_SRC, INNER_DST = "0a:58:0a:f4:01:0a", "0a:58:0a:f4:02:0a"


def write(path: Path, frames: list, linktype: int | None = None) -> Path:
    writer = PcapWriter(str(path), linktype=linktype, sync=True)
    for i, frame in enumerate(frames):
        frame.time = 1_700_000_000 + i
        writer.write(frame)
    writer.close()
    return path


def test_outermost_ethernet_addresses_of_plain_tagged_and_tunnelled_frames(tmp_path) -> None:
    inner = Ether(src=INNER_SRC, dst=INNER_DST) / IP(src="10.244.1.10", dst="10.244.2.10") \
        / TCP(sport=40000, dport=80, flags="S")
    frames = [
        Ether(src=NODE, dst=ROUTER) / IP(src="192.0.2.1", dst="198.51.100.1") / TCP(),
        Ether(src=ROUTER, dst=NODE) / Dot1Q(vlan=7) / IP(src="198.51.100.1", dst="192.0.2.1")
        / UDP(sport=53, dport=5353),
        Ether(src=NODE, dst=ROUTER) / IP(src="192.168.100.11", dst="192.168.100.12")
        / UDP(sport=33333, dport=4789) / VXLAN(vni=1) / inner,
    ]
    packets = pcapkit.decode_file(write(tmp_path / "eth.pcap", frames)).packets
    assert packets["eth_src"].tolist() == [NODE, ROUTER, NODE]
    assert packets["eth_dst"].tolist() == [ROUTER, NODE, ROUTER]
    assert packets["vlan"].tolist()[1] == 7
    tunnelled = packets.iloc[2]  # the underlay frame's, not the inner frame's
    assert (tunnelled["inner_src_mac"], tunnelled["inner_dst_mac"]) == (INNER_SRC, INNER_DST)
    assert str(packets["src"].iloc[2]) == "10.244.1.10"


def test_no_link_addresses_on_cooked_captures_or_cut_headers(tmp_path) -> None:
    cooked = CookedLinuxV2(proto=0x0800, ifindex=2) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP()
    packets = pcapkit.decode_file(write(tmp_path / "any.pcap", [cooked], linktype=276)).packets
    assert packets["eth_src"].isna().all() and packets["eth_dst"].isna().all()
    assert str(packets["src"].iloc[0]) == "10.0.0.1"
    cut = write(tmp_path / "cut.pcap", [Raw(bytes(Ether(src=NODE, dst=ROUTER))[:10])],
                linktype=1)
    packets = pcapkit.decode_file(cut).packets
    assert packets["eth_src"].isna().all()


@pytest.mark.parametrize("column", ["eth_src", "eth_dst"])
def test_link_addresses_are_declared_text_columns(column) -> None:
    from pcapkit.schema import TABLES

    assert TABLES["packets"][column].kind == "mac"
