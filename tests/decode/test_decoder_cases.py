"""Decoder results on the crafted and kernel fixtures, case by case (see fixtures/README.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import pcapkit
from pcapkit.decode.config import DecodeConfig

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CRAFTED = FIXTURES / "crafted"


def packets(name: str, **kwargs: object) -> pd.DataFrame:
    return pcapkit.decode_file(CRAFTED / name, **kwargs).packets


def test_crafted_fixtures_match_their_generator() -> None:
    result = subprocess.run([sys.executable, str(CRAFTED / "make_crafted.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_geneve_options_are_skipped_to_the_inner_frame() -> None:
    p = packets("geneve-options-eth.pcap")
    assert set(p["encap"]) == {"geneve"} and set(p["vni"]) == {0x000A0B}
    assert set(p["proto"]) == {6} and p["inner_src_mac"].notna().all()


@pytest.mark.parametrize("name,version", [("geneve-inner-ipv4.pcap", 4),
                                          ("geneve-inner-ipv6.pcap", 6)])
def test_geneve_protocol_type_is_honoured(name: str, version: int) -> None:
    p = packets(name)
    assert set(p["encap"]) == {"geneve"} and set(p["ip_version"]) == {version}
    assert p["inner_src_mac"].isna().all()  # no inner Ethernet


def test_nonstandard_geneve_port_is_configurable() -> None:
    assert set(packets("geneve-port6082-nonstandard.pcap")["encap"]) == {"none"}
    p = packets("geneve-port6082-nonstandard.pcap", decode_as=["udp.port==6082,geneve"])
    assert set(p["encap"]) == {"geneve"} and set(p["proto"]) == {1}
    cfg = DecodeConfig(decode_as={"udp.port==6082": "geneve"})
    assert set(pcapkit.decode_file(CRAFTED / "geneve-port6082-nonstandard.pcap",
                                   config=cfg).packets["encap"]) == {"geneve"}


def test_nested_geneve_vxlan_keeps_outermost_and_innermost() -> None:
    p = packets("geneve-vxlan-nested.pcap")
    assert set(p["encap"]) == {"geneve+vxlan"}
    assert set(p["vni"]) == {42}  # the innermost tunnel's VNI
    assert set(p["outer_dport"]) == {6081}
    assert set(p["proto"]) == {1}


def test_calico_ipip_tcp_conversation() -> None:
    p = packets("ipip-calico-tcp.pcap")
    assert set(p["encap"]) == {"ipip"} and set(p["outer_proto"]) == {4}
    assert set(p["outer_src"].astype(str)) == {"192.168.100.11", "192.168.100.12"}
    assert p.loc[0, "tcp_flags"] == 0x02 and p.loc[0, "dport"] == 8080
    assert p["vni"].isna().all()


@pytest.mark.parametrize("name,key,count", [("gre-plain.pcap", None, 2),
                                            ("gre-key.pcap", 0x1234, 2),
                                            ("gre-key-seq.pcap", 0xABCD, 3),
                                            ("gre-csum-key-seq.pcap", 42, 2)])
def test_gre_flags_and_key(name: str, key: int | None, count: int) -> None:
    p = packets(name)
    assert len(p) == count and set(p["encap"]) == {"gre"}
    assert (p["vni"].isna().all() if key is None else set(p["vni"]) == {key})
    assert p["src"].notna().all() and p["proto"].notna().all()


def test_ipv6_extension_headers_reach_the_upper_layer() -> None:
    p = packets("ipv6-hbh-routing-dstopt-tcp.pcap")
    assert p.loc[0, "proto"] == 6 and p.loc[0, "tcp_flags"] == 0x02
    q = packets("ipv6-dstopt-ah-udp.pcap")
    assert q.loc[0, "proto"] == 17 and q.loc[0, "dport"] == 53


def test_fragments() -> None:
    v6 = packets("ipv6-fragments-udp.pcap")
    first, later = v6.iloc[1], v6.iloc[2]
    assert first["more_fragments"] and first["frag_offset"] == 0 and first["sport"] == 53
    assert not later["more_fragments"] and later["frag_offset"] == 154 * 8
    assert pd.isna(later["sport"]) and later["proto"] == 17
    assert first["ip_id"] == later["ip_id"] == 0x0C0FFEE0
    v4 = packets("ipv4-fragments-udp.pcap")
    assert v4["frag_offset"].tolist()[1:] == [0, 178 * 8, 356 * 8]
    assert v4["more_fragments"].tolist()[1:] == [True, True, False]


def test_icmp_error_for_an_outer_vxlan_packet_names_the_underlay_flow() -> None:
    p = packets("icmp-frag-needed-vxlan-outer.pcap")
    errors = p[p["icmp_type"] == 3]
    assert len(errors) == 2 and set(errors["icmp_mtu"]) == {1400}
    assert set(errors["icmp_orig_dport"]) == {8472}
    assert set(errors["icmp_orig_src"].astype(str)) == {"192.168.100.11"}


def test_snaplen_cut_inside_the_tunnel() -> None:
    p = packets("vxlan-snaplen90-inner-tcp-cut.pcap")
    assert p["truncated"].all() and set(p["encap"]) == {"vxlan"}
    assert p["sport"].notna().all() and p["dport"].notna().all()
    assert p["tcp_flags"].isna().all() and p["tcp_seq"].isna().all()
    assert set(p["decode_error"].astype(str)) == {"transport header cut short"}


def test_link_types() -> None:
    for name in ("linktype-ipv4-228.pcap", "linktype-ipv6-229.pcap", "linktype-raw12.pcap",
                 "linktype-raw14.pcap", "linktype-raw101-mixed.pcap",
                 "linktype-null-host-order.pcap", "linktype-loop-network-order.pcap"):
        p = packets(name)
        assert p["src"].notna().all(), name
    assert set(packets("linktype-null-host-order.pcap")["ip_version"]) == {4, 6}
    sll2 = packets("linktype-sll2-vxlan-dns.pcap")
    assert sll2["if_index"].tolist() == [7, 2, 2, 7]
    assert sll2["encap"].astype(str).tolist() == ["none", "vxlan", "vxlan", "none"]
    assert sll2["pkt_type"].astype(str).tolist() == ["host", "outgoing", "host", "outgoing"]


def test_gadget_pcapng_interfaces_keep_pod_metadata() -> None:
    decoded = pcapkit.decode_file(CRAFTED / "pcapng-three-interfaces-gadget.pcapng")
    interfaces = decoded.interfaces
    assert interfaces["linktype"].tolist() == [1, 276, 101]
    assert interfaces["description"].iloc[0] == "k8s:ns=shop,pod=web-1,container=app"
    assert set(decoded.packets["linktype"]) == {1, 276, 101}
    assert decoded.packets["src"].notna().all()


def test_two_sections_with_different_byte_orders() -> None:
    decoded = pcapkit.decode_file(CRAFTED / "pcapng-two-sections-mixed-endian.pcapng")
    assert len(decoded.packets) == 4 and not decoded.errors
    assert decoded.packets["interface"].astype(str).tolist() == ["eth0", "eth0", "tun0", "tun0"]
    assert decoded.packets["ts"].iloc[2].nanosecond % 1000 == 7


@pytest.mark.parametrize("name,good", [("pcap-truncated-mid-record.pcap", 3),
                                       ("pcap-truncated-mid-header.pcap", 2),
                                       ("pcapng-bad-block-length.pcapng", 3)])
def test_damaged_files_keep_what_came_before(name: str, good: int) -> None:
    decoded = pcapkit.decode_file(CRAFTED / name)
    assert len(decoded.packets) == good
    assert len(decoded.errors) == 1
    error = decoded.errors[0]
    assert error.file.endswith(name) and error.offset is not None and error.offset > 0


def test_gzip_pcapng() -> None:
    p = pcapkit.decode_file(CRAFTED / "pcapng-gzip-vxlan-dns.pcapng.gz")
    assert set(p.packets["encap"]) == {"vxlan"} and len(p.dns) == 2


def test_kernel_any_capture_sees_each_cross_node_packet_on_four_interfaces() -> None:
    p = pcapkit.decode_file(FIXTURES / "kernel" / "node1-any.pcap").packets
    echo = p[(p["icmp_type"] == 8)]
    per_packet = echo.groupby(["src", "dst", "ip_id"], observed=True).size()
    assert (per_packet[per_packet > 0] >= 2).all()
    assert {"vxlan", "none"} <= set(echo["encap"].astype(str))
    tunnelled = echo[echo["encap"] == "vxlan"]
    assert set(tunnelled["outer_dport"]) <= {8472, 4789}


@pytest.mark.parametrize(("linktype", "frame", "expected"), [
    (1, bytes(range(10)), "link-layer header cut short"),            # Ethernet, 10 of 14
    (1, bytes(12) + b"\x81\x00\x00", "link-layer header cut short"),  # VLAN tag cut
    (276, bytes(12), "link-layer header cut short"),                 # SLL2, 12 of 20
    (1, bytes(12) + b"\x08\x00" + b"\x45\x00", "IP header cut short"),
])
def test_a_frame_that_ends_inside_its_link_header_says_so(tmp_path, linktype, frame,
                                                          expected) -> None:
    """A complete but tiny frame must name the header that was cut, never a silent row."""
    import struct

    path = tmp_path / "cut.pcap"
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
                     + struct.pack("<IIII", 1, 0, len(frame), 60) + frame)
    row = pcapkit.decode_file(path).packets.iloc[0]
    assert row["decode_error"] == expected
