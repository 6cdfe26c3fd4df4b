"""Flows on public captures, checked against tshark: the same conversations with the same
packet and IP byte counts per direction, and the same TCP data retransmissions."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from flows_helpers import PUBLIC, flows_of

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

CAPTURES = ["arkime-wireshark-retrans.pcap", "zeek-tcp-retransmit-fast009.pcap",
            "tcpdump-bgp-bgpsec-docker-refused.pcap", "zeek-wikipedia.pcap",
            "zeek-nmap-vsn.pcap", "zeek-http-iso-download.pcap.gz"]


def _tshark(path: Path) -> pd.DataFrame:
    fields = ["ip.src", "ip.dst", "ip.proto", "tcp.srcport", "tcp.dstport", "udp.srcport",
              "udp.dstport", "ip.len", "tcp.len", "tcp.analysis.retransmission"]
    cmd = ["tshark", "-n", "-r", str(path), "-Y", "ip && !icmp && (tcp || udp)",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=l"]
    for field in fields:
        cmd += ["-e", field]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines() if line]
    df = pd.DataFrame(rows, columns=fields)
    df["sport"] = pd.to_numeric(df["tcp.srcport"].where(df["tcp.srcport"] != "",
                                                        df["udp.srcport"]))
    df["dport"] = pd.to_numeric(df["tcp.dstport"].where(df["tcp.dstport"] != "",
                                                        df["udp.dstport"]))
    df["ip_len"] = pd.to_numeric(df["ip.len"])
    df["retrans"] = (df["tcp.analysis.retransmission"] != "") & (
        pd.to_numeric(df["tcp.len"], errors="coerce").fillna(0) > 0)
    return df


def _per_direction(flows: pd.DataFrame) -> dict[tuple, tuple[int, int, int]]:
    out = {}
    for f in flows.itertuples():
        out[(f.orig_h, f.orig_p, f.resp_h, f.resp_p)] = (f.orig_pkts, f.orig_ip_bytes,
                                                         f.orig_retrans)
        out[(f.resp_h, f.resp_p, f.orig_h, f.orig_p)] = (f.resp_pkts, f.resp_ip_bytes,
                                                         f.resp_retrans)
    return out


@pytest.mark.parametrize("name", CAPTURES)
def test_counts_match_tshark(name: str):
    path = PUBLIC / name
    flows = flows_of(path)
    ipv4 = flows["orig_h"].astype(str).str.contains(".", regex=False)
    flows = flows[flows["proto"].isin(["tcp", "udp"]) & ipv4]     # the tshark filter is IPv4
    packets = _tshark(path)
    expected = packets.groupby(["ip.src", "sport", "ip.dst", "dport"]).agg(
        pkts=("ip_len", "size"), ip_bytes=("ip_len", "sum"), retrans=("retrans", "sum"))
    ours = _per_direction(flows)
    assert len(flows) == len({tuple(sorted([(a, b), (c, d)]))
                              for a, b, c, d in expected.index})
    for (src, sport, dst, dport), row in expected.iterrows():
        got = ours[(src, sport, dst, dport)]
        assert got[:2] == (row["pkts"], row["ip_bytes"]), (src, sport, dst, dport)
        if name.startswith(("arkime-wireshark-retrans", "zeek-tcp-retransmit")):
            assert got[2] == row["retrans"], (src, sport, dst, dport)


def test_refused_bgp_connections_are_rej():
    flows = flows_of(PUBLIC / "tcpdump-bgp-bgpsec-docker-refused.pcap")
    assert (flows["conn_state"] == "REJ").sum() == 3
    assert set(flows.loc[flows["conn_state"] == "REJ", "history"]) == {"Sr"}
    assert (flows["resp_p"] == 179).all()


def test_nmap_scan_states():
    flows = flows_of(PUBLIC / "zeek-nmap-vsn.pcap")
    tcp = flows[flows["proto"] == "tcp"]
    states = tcp.groupby("history")["conn_state"].agg(set).to_dict()
    assert states["S"] == {"S0"}       # no answer
    assert states["Sr"] == {"REJ"}     # refused
    assert states["ShAR"] == {"RSTO"}  # accepted, then the scanner resets


def test_retransmission_capture_totals():
    flow = flows_of(PUBLIC / "arkime-wireshark-retrans.pcap").iloc[0]
    assert (flow["orig_retrans"], flow["resp_retrans"], flow["syn_retrans"]) == (24, 12, 3)
    assert flow["conn_state"] == "SF"
