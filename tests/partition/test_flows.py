"""A partitioned flow run gives the same flows table and packet flow ids as one pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, TCPerror, UDPerror
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

import pcapkit
from pcapkit.flows import FlowOptions, assemble_flows
from pcapkit.partition.flows import assemble_flows_partitioned
from pcapkit.partition.keys import flow_share_of, partition_of

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
# DNAT'd connections whose two sides hash to different shares (kernel-dnat, services),
# tunnels (overlay), several nodes (demo), clocks apart (vantage/skew)
INCIDENTS = ["demo", "kernel", "kernel-dnat", "overlay", "services", "vantage/skew",
             "policy/kernel", "mtu"]


def _same(capture: pcapkit.Capture, shares: int, options: FlowOptions | None) -> None:
    vantage = capture.vantage
    one = assemble_flows(vantage.distinct, vantage.sightings, cluster=capture.cluster,
                         options=options)
    table, ids = assemble_flows_partitioned(vantage.distinct, vantage.sightings, shares,
                                            cluster=capture.cluster, options=options)
    pd.testing.assert_frame_equal(one[0], table)
    pd.testing.assert_series_equal(one[1], ids)


@pytest.mark.parametrize("shares", [1, 3, 8])
@pytest.mark.parametrize("name", INCIDENTS)
def test_same_flows_as_one_pass(name, shares):
    path = FIXTURES / name
    assert path.is_dir(), f"missing committed fixture {path}"
    snapshot = path / "cluster.json"
    capture = pcapkit.open(path, snapshot=snapshot if snapshot.exists() else None)
    _same(capture, shares, None)
    _same(capture, shares, FlowOptions(merge_nat=True))


def _errors_capture(tmp_path: Path) -> pcapkit.Capture:
    """A router's ICMP errors to one host, quoting conversations the capture saw and
    conversations it did not (so they land in several shares), plus one whose quote was
    cut; then the same again after the ICMP idle timeout."""
    frames = []
    t = 1_700_000_000.0

    def add(packet, at):
        frame = Ether() / packet
        frame.time = at
        frames.append(frame)

    host, router = "10.0.0.1", "10.0.0.254"
    for burst in (0.0, 400.0):
        for i in range(12):
            server = f"10.1.{i}.9"
            add(IP(src=host, dst=server) / TCP(sport=40000 + i, dport=443, flags="S",
                                                seq=1000 + i), t + burst + i)
            add(IP(src=router, dst=host) / ICMP(type=3, code=1)
                / IPerror(src=host, dst=server) / TCPerror(sport=40000 + i, dport=443),
                t + burst + i + 0.1)
            unseen = f"10.2.{i}.7"
            add(IP(src=router, dst=host) / ICMP(type=11, code=0)
                / IPerror(src=host, dst=unseen, proto=17) / UDPerror(sport=5000 + i, dport=53),
                t + burst + i + 0.2)
        add(IP(src=router, dst=host) / ICMP(type=3, code=13), t + burst + 20)
        add(IP(src=host, dst="10.3.0.1") / UDP(sport=999, dport=53), t + burst + 21)
    path = tmp_path / "errors.pcap"
    wrpcap(str(path), frames)
    return pcapkit.open(path)


@pytest.mark.parametrize("shares", [2, 5, 16])
def test_errors_that_quote_no_seen_flow_are_keyed_across_shares(tmp_path, shares):
    capture = _errors_capture(tmp_path)
    distinct = capture.vantage.distinct
    share = flow_share_of(distinct, shares)
    quoting = distinct["icmp_orig_src"].notna().to_numpy()
    # the errors to one host spread over several shares, each with the pair it quotes
    assert len(np.unique(share[quoting])) > 1
    assert (share[quoting] != partition_of(distinct, shares)[quoting]).any()
    _same(capture, shares, None)
    flows = assemble_flows_partitioned(distinct, capture.vantage.sightings, shares)[0]
    errors = flows[flows["icmp_family"] == "error"]
    # the unlinked errors of each burst are one flow (router -> host), linked ones are not
    assert len(errors) == 2
    assert errors["orig_pkts"].tolist() == [13, 13]
    linked = flows[flows["proto"] == "tcp"]
    assert linked["icmp_errors"].tolist() == [1] * 24
