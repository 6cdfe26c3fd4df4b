"""mtu_events: stuck segments, ICMP too-big errors linked to their flows, overlay overhead."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pandas as pd

import pcapkit
from pcapkit.schema.convert import mismatches
from pcapkit.schema.mtu import MTU_EVENTS, VERDICTS

ROOT = Path(__file__).resolve().parents[2]
MTU = ROOT / "fixtures" / "mtu"
CRAFTED = ROOT / "fixtures" / "crafted"


def events(*paths: Path) -> pd.DataFrame:
    table = pcapkit.open(list(paths)).table("mtu_events")
    assert mismatches(table, MTU_EVENTS) == []
    assert set(table["verdict"].astype(str)) <= set(VERDICTS)
    return table


def test_kernel_underlay_mismatch_is_a_blackhole_of_the_full_size_segments():
    capture = pcapkit.open(MTU / "blackhole")
    [row] = capture.table("mtu_events").itertuples()
    assert (row.verdict, row.sender, row.encap) == ("blackhole", "orig", "vxlan")
    assert (row.stuck_len, row.encap_overhead, row.outer_len) == (1450, 50, 1500)
    assert row.stuck_retrans >= 2 and pd.isna(row.max_acked_len) and not row.smaller_after
    # the receiving node's capture never saw a frame that size: it was dropped between them
    node2 = capture.packets[capture.packets["node"] == "node2"]
    assert node2["wirelen"].max() <= 1400
    flow = capture.flows.set_index("flow_id").loc[row.flow_id]
    assert flow["resp_p"] == 5201 and flow["orig_retrans"] >= 2


def test_tso_frames_larger_than_any_mtu_that_were_acknowledged_are_no_event():
    capture = pcapkit.open(MTU / "healthy")
    assert capture.packets["ip_len"].max() > 4000  # GSO "packets" on the sender's NIC
    assert events(MTU / "healthy").empty


def test_ignored_icmp_frag_needed_is_still_a_blackhole_and_says_so():
    [row] = events(MTU / "icmp-ignored.pcap").itertuples()
    assert (row.verdict, row.icmp_mtu, row.icmp_from) == ("blackhole", 1400, "10.244.1.1")
    assert row.stuck_sends == 5 and row.stuck_retrans == 4
    assert "ICMP said MTU 1400" in row.reason


def test_pmtud_that_worked_and_a_dead_peer():
    [row] = events(MTU / "pmtud-recovered.pcap").itertuples()
    assert (row.verdict, row.smaller_after, row.smaller_delivered) == ("pmtud_working", True,
                                                                       True)
    assert events(MTU / "peer-gone.pcap").empty  # 1450 bytes were acknowledged before


def test_underlay_icmp_links_through_the_outer_header_to_the_inner_flow():
    [row] = events(CRAFTED / "icmp-frag-needed-vxlan-outer.pcap").itertuples()
    assert (row.underlay_mtu, row.outer_len, row.encap) == (1400, 1500, "vxlan")
    assert pd.isna(row.icmp_mtu) and row.orig_p == 40260


def test_icmpv6_packet_too_big_links_to_its_flow():
    [row] = events(CRAFTED / "icmpv6-packet-too-big-tcp.pcap").itertuples()
    assert (row.verdict, row.icmp_mtu, row.max_len) == ("too_big_reported", 1280, 1450)


def test_no_events_on_healthy_or_empty_input():
    assert events(ROOT / "fixtures" / "kernel").empty
    assert events().empty


def test_committed_fixtures_match_the_generator(tmp_path):
    subprocess.run([sys.executable, str(MTU / "make_mtu_fixtures.py"), str(tmp_path)],
                   check=True)
    made = sorted(p.name for p in tmp_path.glob("*.pcap"))
    assert made == sorted(p.name for p in MTU.glob("*.pcap"))
    for name in made:
        assert filecmp.cmp(tmp_path / name, MTU / name, shallow=False), name
