"""The decoder's tables on real captures: DNS, fragments, ICMP errors, interfaces."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import pcapkit

PUBLIC = Path(__file__).resolve().parents[2] / "fixtures" / "public"


def test_dns_columns_survive_files_without_dns() -> None:
    decoded = pcapkit.decode_files([PUBLIC / "tcpdump-vxlan.pcap",
                                    PUBLIC / "arkime-dns-wiresharkrepo.pcap"])
    assert {"qname", "rcode_name", "answers"} <= set(decoded.dns.columns)
    assert len(decoded.dns) == 38


def test_first_fragment_of_a_dns_message_is_incomplete_not_malformed() -> None:
    dns = pcapkit.decode_file(PUBLIC / "ndpi-dns_fragmented.pcap").dns
    first_fragments = dns[dns["frame"].isin([2, 5, 8, 11, 16, 38, 41])]
    assert len(first_fragments) == 7
    assert first_fragments["incomplete"].all() and not first_fragments["malformed"].any()
    assert first_fragments["error"].str.contains("fragment").all()
    assert first_fragments["qname"].notna().all()  # the question is in the first fragment


def test_icmp_frag_needed_names_the_flow_and_mtu() -> None:
    packets = pcapkit.decode_file(PUBLIC / "zeek-smtp-icmp-frag-needed.pcap").packets
    errors = packets[(packets["icmp_type"] == 3) & (packets["icmp_code"] == 4)]
    assert len(errors) > 0
    assert set(errors["icmp_mtu"]) == {1492}
    assert set(errors["icmp_orig_proto"]) == {6}
    assert set(errors["icmp_orig_dport"]) | set(errors["icmp_orig_sport"]) >= {25}


def test_icmpv6_packet_too_big() -> None:
    packets = pcapkit.decode_file(PUBLIC / "zeek-icmp6-toobig.pcap").packets
    row = packets.iloc[0]
    assert row["icmp_type"] == 2 and row["ip_version"] == 6 and row["proto"] == 58
    assert row["icmp_mtu"] > 0 and row["icmp_orig_proto"] == 17


def test_snaplen_truncation_is_marked_and_decodes_as_far_as_bytes_go() -> None:
    packets = pcapkit.decode_file(PUBLIC / "zeek-tcp-truncated-snaplen68.pcap").packets
    assert packets["truncated"].all()
    assert packets["sport"].notna().all() and packets["tcp_flags"].notna().all()


def test_bad_ipv4_header_length_is_a_decode_error() -> None:
    packets = pcapkit.decode_file(PUBLIC / "tcpdump-ipv4_invalid_hdr_length.pcap").packets
    assert packets["decode_error"].iloc[0] == "bad IPv4 header length"
    assert pd.isna(packets["sport"].iloc[0])


def test_sll2_keeps_interface_index_and_packet_type() -> None:
    packets = pcapkit.decode_file(PUBLIC / "suricata-verify-sll2-http.pcap").packets
    assert packets["if_index"].notna().all()
    assert set(packets["pkt_type"].astype(str)) <= {"host", "outgoing", "broadcast",
                                                   "multicast", "otherhost"}


def test_pcapng_interfaces_and_names() -> None:
    decoded = pcapkit.decode_file(PUBLIC / "zeek-pcapng-multi-interface.pcapng")
    assert len(decoded.interfaces) == 2
    assert set(decoded.packets["interface"].astype(str)) <= set(
        decoded.interfaces["name"].fillna(decoded.interfaces["interface_id"].astype(str)))


def test_iter_decode_matches_decode_file() -> None:
    path = PUBLIC / "ndpi-vxlan-in-vlan.pcap"
    whole = pcapkit.decode_file(path).packets
    parts = [d.packets for d in pcapkit.iter_decode(path, batch_size=10)]
    assert sum(len(p) for p in parts) == len(whole)
    joined = pd.concat([p.astype({c: object for c in p.select_dtypes("category")}) for p in parts],
                       ignore_index=True)
    assert joined["frame"].tolist() == whole["frame"].tolist()
    assert joined["src"].tolist() == whole["src"].astype(object).tolist()


def test_dns_table_is_built_on_first_use_and_kept() -> None:
    decoded = pcapkit.decode_file(PUBLIC / "arkime-dns-wiresharkrepo.pcap")
    assert decoded.pending_dns()  # nothing parsed yet: packets alone cost no DNS parsing
    first = decoded.dns
    assert len(first) == 38 and decoded.dns is first and decoded.pending_dns() is None
    assert "38 packets" in repr(decoded)


def test_dns_of_several_files_is_each_file_dns_in_order() -> None:
    """decode_files rebases each file's DNS payloads onto the combined packet table
    (instead of keeping every per-file table alive): the result must be the files'
    own DNS tables one after the other, with keys that match the packet rows."""
    files = [PUBLIC / "arkime-dns-wiresharkrepo.pcap", PUBLIC / "ndpi-bad-dns-traffic.pcap"]
    combined = pcapkit.decode_files(files)
    alone = [pcapkit.decode_file(f).dns for f in files]
    expected = pd.concat([frame.astype({c: object for c in frame.select_dtypes("category")})
                          for frame in alone], ignore_index=True)
    got = combined.dns.astype({c: object for c in combined.dns.select_dtypes("category")})
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    keyed = combined.packets.set_index(["file", "frame"])
    rows = keyed.loc[list(zip(combined.dns["file"], combined.dns["frame"], strict=True))]
    assert (rows["dport"].to_numpy() == combined.dns["dport"].to_numpy()).all()
