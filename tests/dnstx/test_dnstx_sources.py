"""Sightings across nodes, public captures against tshark, ICMP errors."""

from __future__ import annotations

import shutil
import subprocess

import pandas as pd
import pytest
from dnstx_helpers import KERNEL, PUBLIC, SCENARIOS, transactions

from pcapkit.decode import decode_files
from pcapkit.dnstx import build_dns_transactions
from pcapkit.vantage import seen_once

TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")


def test_query_seen_on_two_nodes_is_one_transaction():
    tx = transactions(SCENARIOS / "two-nodes")
    assert len(tx) == 1
    row = tx.iloc[0]
    assert row["status"] == "answered"
    assert row["nodes"] == "node1,node2"
    assert row["sightings"] == 6  # query: veth, node1 eth0, node2 eth0; answer: the same
    assert row["node"] == "node1"  # the query's earliest sighting, on corrected clocks
    assert row["query_file"].endswith("node1/any.pcap") and row["query_frame"] == 1
    assert 0 < row["latency_s"] < 0.002


def test_without_vantage_every_sighting_is_its_own_message():
    decoded = decode_files(SCENARIOS / "two-nodes" / "node1" / "any.pcap")
    tx = build_dns_transactions(decoded.dns, seen_once(decoded.packets).packets)
    # The veth copy and the tunnel copy of the query look like a query and its re-send; the
    # answer goes to the later one. This is why the vantage stage comes first.
    assert tx["status"].tolist() == ["unanswered", "answered"]
    assert tx["attempt"].tolist() == [1, 2]
    assert set(tx["node"]) == {"unknown"}
    alone = build_dns_transactions(decoded.dns)
    assert alone["status"].tolist() == tx["status"].tolist()


def _tshark_frames(path, display_filter: str, field: str = "frame.number") -> list[str]:
    result = subprocess.run([TSHARK, "-n", "-2", "-r", str(path), "-Y", display_filter,
                             "-T", "fields", "-e", field], capture_output=True, text=True,
                            check=True)
    return result.stdout.split()


@needs_tshark
def test_unanswered_queries_match_tshark_on_bad_dns_traffic():
    path = PUBLIC / "ndpi-bad-dns-traffic.pcap"
    expected = {int(f) for f in _tshark_frames(
        path, "dns.flags.response==0 && !dns.response_in && udp.port==53")}
    # tshark pairs answers however late they come; three arrive 6.7-7.6 s after the query.
    tx = transactions(path, timeout=10.0)
    ours = set(tx.loc[tx["response_ts"].isna() & tx["query_ts"].notna(), "query_frame"])
    assert ours == expected
    assert len(expected) == 58
    default = transactions(path)
    assert (default["response_ts"].isna() & default["query_ts"].notna()).sum() == 61
    assert (default["status"] == "response_only").sum() == 3


@needs_tshark
@pytest.mark.parametrize("name", ["zeek-wikipedia.pcap", "arkime-dns-wiresharkrepo.pcap"])
def test_rcode_counts_match_tshark(name):
    path = PUBLIC / name
    rcodes = _tshark_frames(path, "dns.flags.response==1 && udp.port==53", "dns.flags.rcode")
    expected = pd.Series(rcodes).value_counts().to_dict()
    tx = transactions(path)
    answered = tx[tx["response_ts"].notna()]
    ours = answered["rcode"].map({"NOERROR": "0", "NXDOMAIN": "3"}).value_counts().to_dict()
    assert ours == expected
    assert (tx["status"] == "answered").sum() == expected.get("0", 0)
    assert (tx["status"] == "nxdomain").sum() == expected.get("3", 0)
    unanswered = _tshark_frames(path, "dns.flags.response==0 && !dns.response_in && udp.port==53")
    assert (tx["response_ts"].isna()).sum() == len(unanswered)


def test_wikipedia_search_list_is_found_from_the_data():
    tx = transactions(PUBLIC / "zeek-wikipedia.pcap")
    tries = tx[tx["search_expansion"]]
    assert len(tries) > 0
    assert set(tries["search_suffix"]) == {"ncsa.uiuc.edu"}
    assert set(tries["status"]) == {"nxdomain"}
    # The resolver asks the bare name first (it has enough dots), then with the suffix.
    assert len(tries) == 4 and set(tries["search_position"]) == {2}
    groups = tx[tx["search_group"].isin(tries["search_group"])]
    assert groups["qtype"].eq("AAAA").all() and set(groups["search_nxdomains"]) == {1}
    assert groups.groupby("search_group").size().tolist() == [2, 2, 2, 2]


def test_query_answered_by_icmp_port_unreachable_and_resent_after_5s():
    tx = transactions(PUBLIC / "zeek-gre-sample.pcap")
    assert len(tx) == 2
    assert tx["qname"].tolist() == ["www.gleeble.org"] * 2
    assert tx["attempt"].tolist() == [1, 2]
    assert tx.loc[1, "retry_delay_s"] == pytest.approx(5.0, abs=0.01)
    assert set(tx["icmp_error"]) == {"port-unreachable"}
    assert set(tx["icmp_error_from"]) == {"172.28.2.3"}
    # The ICMP error settles it: not "at capture end" although the capture ends 4.9 s later.
    assert tx["status"].tolist() == ["unanswered", "unanswered"]


def test_kernel_captures_of_both_nodes_with_the_cluster(flannel_cluster):
    tx = transactions(KERNEL / "node1-any.pcap", KERNEL / "node2-eth0.pcap",
                      cluster=flannel_cluster)
    assert len(tx) == 8  # the same transactions as node1 alone: nothing counted twice
    assert set(tx["nodes"]) == {"node1,node2"}
    assert set(tx["orig_pod"]) == {"tools-6b8f7c9d4f-q2w3e"}
    assert set(tx["orig_node"]) == {"node1"}
    assert set(tx["resp_pod"]) == {"coredns-5d78c9869d-8xk2p"}
    assert set(tx["resolver_role"]) == {"client_query"}
    assert tx["status"].value_counts().to_dict() == {
        "answered": 2, "nxdomain": 2, "unanswered": 2, "unanswered_at_capture_end": 2}
