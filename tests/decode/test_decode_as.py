""""Decode as": one setting says which port means which protocol, the same everywhere."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scapy.contrib.geneve import GENEVE
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN
from scapy.utils import wrpcap

import pcapkit
from pcapkit.decode.config import (
    DNS_CODE,
    DecodeAs,
    DecodeConfig,
    parse_decode_as,
    port_tables,
    protocol_codes,
)
from pcapkit.decode.encap import EncapSpec, register_encap, registered
from pcapkit.decode.parquet import write_packets_dataset, write_packets_parquet

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
VXLAN_8472 = FIXTURES / "public" / "tcpdump-vxlan_port_8472.pcap"
VXLAN_OFF = "udp.port==8472,none"


def test_entries_in_wireshark_syntax_or_as_a_mapping_mean_the_same() -> None:
    as_strings = parse_decode_as(["udp.port==8473,vxlan", " UDP.port == 53 , none",
                                  "tcp.port==5353,dns"])
    as_mapping = parse_decode_as({"udp.port==8473": "vxlan", "udp.port==53": "none",
                                  "tcp.port==5353": "DNS"})
    assert as_strings == as_mapping == (DecodeAs("tcp", 5353, "dns"),
                                        DecodeAs("udp", 53, "none"),
                                        DecodeAs("udp", 8473, "vxlan"))
    assert str(as_strings[2]) == "udp.port==8473,vxlan"
    assert parse_decode_as(["udp.port==9,vxlan", "udp.port==9,geneve"]) == (
        DecodeAs("udp", 9, "geneve"),)  # the last entry for a port wins


@pytest.mark.parametrize("entry,message", [
    ("udp.port==8473", "expected 'udp.port==PORT,PROTOCOL'"),
    ("udp.port==65536,vxlan", "not a port"),
    ("udp.port==x,vxlan", "not a port"),
    ("ip.proto==47,gre", "expected udp.port==PORT or tcp.port==PORT"),
    ("udp.port==8473,nosuch", "unknown protocol 'nosuch'"),
    ("tcp.port==8473,vxlan", "tunnels are decoded on UDP only"),
])
def test_bad_entries_say_what_is_wrong(entry: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DecodeConfig(decode_as=[entry])


def test_defaults_come_from_each_tunnels_own_registration() -> None:
    """A tunnel's ports are declared only in its module: the config's table has them,
    and ``decode_as`` accepts its name, without anything else knowing the tunnel."""
    tables = DecodeConfig().tables
    for spec in registered().values():
        for port in spec.udp_ports:
            assert tables["udp"][port] == spec.code, (spec.name, port)
        if spec.udp_ports:
            assert DecodeConfig(decode_as=[f"udp.port==9999,{spec.name}"]).tables["udp"][9999] \
                == spec.code
    assert tables["udp"][53] == tables["tcp"][53] == DNS_CODE
    assert DecodeConfig().ports_of("udp", "vxlan") == {4789, 8472}


def test_an_entry_adds_to_the_defaults_and_none_turns_one_off() -> None:
    config = DecodeConfig(decode_as=["udp.port==8473,vxlan", "udp.port==4789,none"])
    assert config.ports_of("udp", "vxlan") == {8472, 8473}
    moved = DecodeConfig(decode_as=["udp.port==8472,geneve"])
    assert moved.ports_of("udp", "geneve") == {6081, 8472}
    assert moved.ports_of("udp", "vxlan") == {4789}


def _spec(name: str, code: int, *ports: int) -> EncapSpec:
    return dataclasses.replace(registered()["vxlan"], name=name, code=code,
                               udp_ports=frozenset(ports))


def test_a_port_two_tunnels_register_raises_until_decode_as_says_which() -> None:
    specs = [_spec("alpha", 1, 7000, 7001), _spec("beta", 2, 7001)]
    with pytest.raises(ValueError, match="UDP port 7001 is registered by alpha and beta"):
        port_tables(specs, ())
    for protocol, code in (("alpha", 1), ("beta", 2), ("none", 0)):
        tables = port_tables(specs, [DecodeAs("udp", 7001, protocol)])
        assert tables["udp"][7001] == code and tables["udp"][7000] == 1


def test_an_ip_protocol_has_one_tunnel() -> None:
    with pytest.raises(ValueError, match="IP protocol 47 registered by gre and rogue"):
        register_encap("rogue", ip_protocols=(47,))(lambda *a: None)
    assert "rogue" not in registered()


def test_the_lower_port_decides_then_the_higher() -> None:
    """As Wireshark's UDP dissector: the lower port first, the higher one when the
    lower means nothing (whichever of source and destination each is)."""
    udp = DecodeConfig().tables["udp"]
    sport = np.array([4789, 6081, 40000, 53, 6081, 1000], np.uint16)
    dport = np.array([6081, 4789, 4789, 40000, 8472, 2000], np.uint16)
    vxlan, geneve = registered()["vxlan"].code, registered()["geneve"].code
    assert protocol_codes(udp, sport, dport).tolist() == [vxlan, vxlan, vxlan, DNS_CODE,
                                                          geneve, 0]


def test_the_port_rule_holds_for_any_pair_of_ports() -> None:
    udp = DecodeConfig(decode_as=["udp.port==53,vxlan", "udp.port==5353,dns"]).tables["udp"]
    mapped = np.flatnonzero(udp).astype(np.uint16)
    rng = np.random.default_rng(7)
    ports = [np.where(rng.random(5000) < 0.6, rng.choice(mapped, 5000),
                      rng.integers(0, 65536, 5000)).astype(np.uint16) for _ in range(2)]
    low, high = np.minimum(*ports), np.maximum(*ports)
    expected = np.where(udp[low] != 0, udp[low], udp[high])
    np.testing.assert_array_equal(protocol_codes(udp, *ports), expected)


def _write(path: Path, packets: list) -> Path:
    wrpcap(str(path), packets)
    return path


def test_decoding_follows_the_lower_port(tmp_path: Path) -> None:
    inner = Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / ICMP()
    capture = _write(tmp_path / "cross.pcap", [
        Ether() / IP(src="192.168.0.1", dst="192.168.0.2") / UDP(sport=4789, dport=6081)
        / VXLAN(vni=5) / inner,
        Ether() / IP(src="192.168.0.1", dst="192.168.0.2") / UDP(sport=8472, dport=6081)
        / GENEVE(vni=6, proto=0x6558) / inner,
    ])
    packets = pcapkit.decode_file(capture).packets
    assert packets["encap"].tolist() == ["vxlan", "geneve"]
    assert packets["vni"].tolist() == [5, 6] and packets["src"].tolist() == ["10.0.0.1"] * 2


def test_dns_ports_are_decode_as_entries_too(tmp_path: Path) -> None:
    query = DNS(id=7, rd=1, qd=DNSQR(qname="web.shop.svc.cluster.local"))
    capture = _write(tmp_path / "dns.pcap", [
        Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=40000, dport=53) / query,
        Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=40001, dport=5300) / query,
        Ether() / IP(src="10.0.0.1", dst="10.0.0.2")
        / TCP(sport=40002, dport=5300, flags="PA") / (b"\x00" + bytes([len(query)]) + bytes(query)),
    ])
    assert pcapkit.decode_file(capture).dns["frame"].tolist() == [1]
    assert pcapkit.decode_file(capture, decode_as=["udp.port==5300,dns"]).dns["frame"].tolist() \
        == [1, 2]
    both = pcapkit.decode_file(capture, decode_as=["udp.port==5300,dns", "tcp.port==5300,dns",
                                                   "udp.port==53,none"]).dns
    assert both["frame"].tolist() == [2, 3] and both["transport"].tolist() == ["udp", "tcp"]
    assert set(both["qname"]) == {"web.shop.svc.cluster.local"}


def _encaps_by_entry_point(entry_point: str, tmp_path: Path) -> set[str]:
    """The encap values a decode entry point gives the VXLAN sample with 8472 off."""
    if entry_point == "decode_file":
        frame = pcapkit.decode_file(VXLAN_8472, decode_as=[VXLAN_OFF]).packets
    elif entry_point == "decode_files":
        frame = pcapkit.decode_files([VXLAN_8472], decode_as=[VXLAN_OFF]).packets
    elif entry_point == "iter_decode":
        frame = pd.concat([d.packets for d in pcapkit.iter_decode(VXLAN_8472,
                                                                  decode_as=[VXLAN_OFF])])
    elif entry_point == "write_packets_parquet":
        write_packets_parquet([VXLAN_8472], tmp_path / "p.parquet", decode_as=[VXLAN_OFF])
        frame = pd.read_parquet(tmp_path / "p.parquet")
    elif entry_point == "write_packets_dataset":
        write_packets_dataset([VXLAN_8472], tmp_path / "parts", decode_as=[VXLAN_OFF],
                              workers=1)
        frame = pd.read_parquet(tmp_path / "parts")
    else:
        config = DecodeConfig(decode_as=[VXLAN_OFF])
        frame = pcapkit.open([VXLAN_8472], config=config).decoded.packets
    return set(frame["encap"].astype(str))


@pytest.mark.parametrize("entry_point", ["decode_file", "decode_files", "iter_decode",
                                         "write_packets_parquet", "write_packets_dataset",
                                         "open"])
def test_every_entry_point_takes_the_same_setting(entry_point: str, tmp_path: Path) -> None:
    assert pcapkit.decode_file(VXLAN_8472).packets["encap"].astype(str).unique().tolist() == \
        ["vxlan"]
    assert _encaps_by_entry_point(entry_point, tmp_path) == {"none"}


def test_keyword_entries_come_after_the_configs() -> None:
    config = DecodeConfig(decode_as=["udp.port==8472,none"], dns=False)
    merged = DecodeConfig.of(config, ["udp.port==8472,geneve", "udp.port==9,vxlan"])
    assert merged.dns is False
    assert merged.decode_as == (DecodeAs("udp", 9, "vxlan"), DecodeAs("udp", 8472, "geneve"))
    assert DecodeConfig.of(None, None, dns=False) == DecodeConfig(dns=False)
