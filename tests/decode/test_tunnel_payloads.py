"""What tunnels carry besides IP and Ethernet (ERSPAN, PPP, MPLS), GRE-in-UDP, and
what the decoder says about what it does not decode (fixtures/crafted, made by
scenarios_tunnel_payloads.py; tshark agrees frame by frame in test_tshark_oracle)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from scapy.contrib.mpls import MPLS
from scapy.layers.inet import GRE, IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

import pcapkit
from pcapkit.decode.config import DecodeConfig
from pcapkit.decode.errors import error_name, register_error, with_value

CRAFTED = Path(__file__).resolve().parents[2] / "fixtures" / "crafted"
PODS = {"10.244.1.10", "10.244.2.10"}


def packets(name: str, **kwargs: object) -> pd.DataFrame:
    path = CRAFTED / name
    assert path.is_file(), f"committed fixture {path} is missing"
    return pcapkit.decode_file(path, **kwargs).packets


def values(column: pd.Series) -> list[object]:
    return [None if pd.isna(v) else v for v in column]


@pytest.mark.parametrize("name,vni", [("erspan-type1-gre.pcap", None),
                                      ("erspan-type2-gre.pcap", 100),
                                      ("erspan-type3-gre.pcap", 200)])
def test_erspan_mirrored_frame_is_the_innermost(name: str, vni: int | None) -> None:
    p = packets(name)
    assert set(p["encap"]) == {"gre+erspan"} and values(p["vni"]) == [vni] * len(p)
    assert set(p["outer_src"].astype(str)) == {"192.168.100.1"}
    assert set(p["src"].astype(str)) | set(p["dst"].astype(str)) >= {"10.244.1.10"}
    assert p["inner_src_mac"].notna().all() and p["decode_error"].isna().all()


def test_erspan_type3_platform_subheader_is_skipped() -> None:
    p = packets("erspan-type3-gre.pcap")
    assert p["dport"].tolist() == [53, 53] and p["payload_head"].nunique() == 1


def test_gre_in_udp() -> None:
    p = packets("gre-in-udp-4754.pcap")
    assert set(p["encap"]) == {"gre"} and set(p["outer_proto"]) == {17}
    assert set(p["outer_dport"]) == {4754} and set(p["src"].astype(str)) == PODS


def test_pptp_enhanced_gre_carries_ppp() -> None:
    p = packets("gre-pptp-ppp.pcap")
    assert p["encap"].tolist() == ["gre+ppp", "gre+ppp", "gre+ppp", "gre", "gre+ppp"]
    assert p["vni"].tolist() == [7, 8, 7, 8, 7]  # call ids
    assert p["ip_version"].tolist()[:3] == [4, 4, 6] and p["proto"].tolist()[:3] == [1, 1, 58]
    assert values(p["decode_error"]) == [None, None, None, None,
                                         "PPP protocol 0xc021 not decoded"]
    # the acknowledgement carries nothing and the LCP packet no IP: the outer header stays
    assert (p.loc[3:, "src"].astype(str) == p.loc[3:, "outer_src"].astype(str)).all()


def test_mpls_label_stacks() -> None:
    on_link = packets("mpls-ethernet.pcap")
    assert set(on_link["encap"]) == {"mpls"} and on_link["vni"].tolist() == [24005, 24006]
    assert on_link["outer_src"].isna().all() and on_link["ip_version"].tolist() == [4, 6]
    assert on_link.loc[0, "tcp_flags"] == 0x02 and on_link.loc[0, "dport"] == 8080
    carried = packets("mpls-in-gre-and-udp.pcap")
    assert carried["encap"].tolist() == ["gre+mpls", "mpls"]
    assert carried["vni"].tolist() == [3001, 3002] and values(carried["outer_dport"]) == [None, 6635]
    assert set(carried["src"].astype(str)) == PODS


def test_mpls_pseudowire_control_word_then_ethernet() -> None:
    p = packets("mpls-pseudowire-cw.pcap")
    assert set(p["encap"]) == {"mpls"} and set(p["src"].astype(str)) == PODS
    assert set(p["inner_src_mac"].astype(str)) == {"0a:58:0a:f4:01:0a", "0a:58:0a:f4:02:0a"}


def test_a_gre_protocol_not_decoded_says_so() -> None:
    p = packets("gre-unknown-protocol.pcap")
    assert p["decode_error"].tolist() == ["GRE protocol 0x8909 not decoded",
                                          "GRE protocol 0x88b6 not decoded"]
    assert p["ethertype"].tolist() == [0x8909, 0x88B6] and set(p["encap"]) == {"gre"}


def test_ipv6_extension_chain_is_walked_to_its_end() -> None:
    p = packets("ipv6-long-extension-chain.pcap")
    assert (p.loc[0, "proto"], p.loc[0, "dport"]) == (17, 9090)
    assert p["decode_error"].isna().all()


def test_geneve_cut_inside_its_inner_ethernet_header() -> None:
    p = packets("geneve-cut-inner-ethernet.pcap")
    assert p["truncated"].all() and set(p["encap"]) == {"geneve"} and set(p["vni"]) == {0x77}
    assert set(p["decode_error"]) == {"Ethernet header inside the tunnel cut short"}
    assert p["ethertype"].isna().all()


def test_an_802_3_length_field_is_not_an_ethertype() -> None:
    p = packets("ether-802.3-llc.pcap")
    assert p["ethertype"].isna().all() and p["decode_error"].isna().all()


def _one_row(tmp_path: Path, frame: object, **kwargs: object) -> dict[str, object]:
    path = tmp_path / "one.pcap"
    wrpcap(str(path), [frame])
    row = pcapkit.decode_file(path, **kwargs).packets.iloc[0]
    return {k: (None if pd.isna(v) else v) for k, v in row.items()}


OUTER = Ether() / IP(src="192.168.0.1", dst="192.168.0.2")
OUTER_GRE = Ether() / IP(src="192.168.0.1", dst="192.168.0.2", proto=47)
INNER = IP(src="10.1.0.1", dst="10.1.0.2") / UDP(sport=1000, dport=2000)


@pytest.mark.parametrize("frame,encap,error", [
    # GRE version 2 and a source route are understood as GRE, not decoded further
    (OUTER_GRE / Raw(bytes.fromhex("00020800")) / INNER, "gre", "GRE version 2 not decoded"),
    (OUTER_GRE / Raw(bytes.fromhex("40000800") + bytes(4)) / INNER, "gre",
     "GRE source route (RFC 1701) not decoded"),
    (OUTER / UDP(sport=5000, dport=6081) / Raw(bytes.fromhex("4000655800000100"))
     / Ether() / INNER, "geneve", "Geneve version 1 not decoded"),
    (Ether(type=0x8847) / MPLS(label=99, s=1) / Raw(b"\x55" * 24), "mpls",
     "MPLS payload with first nibble 5 not decoded"),
    (Ether(type=0x8847) / MPLS(label=13, s=1) / Raw(b"\x10" * 24), "mpls",
     "MPLS associated channel not decoded"),
])
def test_what_is_not_decoded_is_named(tmp_path: Path, frame: object, encap: str,
                                      error: str) -> None:
    row = _one_row(tmp_path, frame)
    assert (row["encap"], row["decode_error"]) == (encap, error)


def test_a_gre_version_2_header_is_not_called_cut_short(tmp_path: Path) -> None:
    frame = OUTER / GRE(version=2, proto=0x0800) / INNER
    row = _one_row(tmp_path, frame)
    assert row["decode_error"] == "GRE version 2 not decoded"
    assert (row["src"], row["outer_src"]) == ("192.168.0.1", "192.168.0.1")


def test_payload_tunnels_count_towards_the_depth_limit(tmp_path: Path) -> None:
    frame = OUTER / GRE(proto=0x8847) / MPLS(label=7, s=1) / INNER
    assert _one_row(tmp_path, frame)["encap"] == "gre+mpls"
    row = _one_row(tmp_path, frame, config=DecodeConfig(max_tunnel_depth=1))
    assert (row["encap"], row["decode_error"]) == ("gre", "too many nested tunnels")


def test_error_messages_with_a_number() -> None:
    code = register_error("frobnicator 0x{:04x} not decoded")
    assert register_error("frobnicator 0x{:04x} not decoded") == code
    assert error_name(int(with_value(code, pd.Series([0x8909]).to_numpy())[0])) == \
        "frobnicator 0x8909 not decoded"
    assert error_name(register_error("transport header cut short")) == \
        "transport header cut short"
