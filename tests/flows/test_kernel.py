"""Flows on the kernel captures (two-node VXLAN overlay), through the vantage stage:
tcpdump -i any on node1 sees each packet up to four times; node2's underlay NIC again."""

from __future__ import annotations

from functools import cache

import pandas as pd
from flows_helpers import KERNEL, ROOT

from pcapkit.vantage import build_sightings, capture_points


@cache
def _kernel():
    from pcapkit.decode import decode_files
    from pcapkit.flows import assemble_flows

    paths = [KERNEL / "node1-any.pcap", KERNEL / "node2-eth0.pcap"]
    assert all(p.exists() for p in paths), f"committed fixtures {paths} are missing"
    decoded = decode_files(paths)
    view = build_sightings(decoded, capture_points(decoded))
    flows, ids = assemble_flows(view.distinct, view.sightings)
    return flows, ids, view


def _flow(flows: pd.DataFrame, proto: str, resp_p: int | None = None,
          resp_h: str | None = None) -> pd.Series:
    rows = flows[flows["proto"] == proto]
    if resp_p is not None:
        rows = rows[rows["resp_p"] == resp_p]
    if resp_h is not None:
        rows = rows[rows["resp_h"] == resp_h]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_each_scenario_is_one_flow_with_zeek_state():
    flows = _kernel()[0]
    assert len(flows) == 7
    http = _flow(flows, "tcp", 8080)
    assert (http["conn_state"], http["history"]) == ("SF", "ShADadfF")
    assert _flow(flows, "tcp", 9)["conn_state"] == "REJ"
    dns = _flow(flows, "udp", 53)
    assert (dns["conn_state"], dns["orig_h"], dns["resp_h"]) == ("SF", "10.244.1.11",
                                                                 "10.244.2.20")
    echo = _flow(flows, "icmp", resp_h="10.244.2.10")
    assert (echo["icmp_family"], echo["orig_pkts"], echo["resp_pkts"]) == ("echo", 3, 3)


def test_counts_are_on_distinct_packets_not_sightings():
    flows = _kernel()[0]
    http = _flow(flows, "tcp", 8080)
    assert (http["orig_pkts"], http["resp_pkts"]) == (5, 5)
    assert http["syn_retrans"] == 0 and http["orig_retrans"] == 0 and http["resp_retrans"] == 0
    assert http["orig_sightings"] > http["orig_pkts"]
    assert (flows["syn_retrans"] == 0).all()
    assert (flows["orig_retrans"] + flows["resp_retrans"] == 0).all()


def test_policy_reject_links_the_icmp_error_to_the_syn_flow():
    flows = _kernel()[0]
    rejected = _flow(flows, "tcp", 8443)
    assert rejected["conn_state"] == "S0"
    assert rejected["icmp_errors"] == 1
    assert rejected["icmp_error_types"] == "3/13"
    assert not (flows["icmp_family"] == "error").any()


def test_path_columns_show_nodes_overlay_and_underlay_pairs():
    flows = _kernel()[0]
    http = _flow(flows, "tcp", 8080)
    assert (http["encap"], http["vni"]) == ("vxlan", 1)
    assert http["orig_nodes"] == "node1,node2" and http["resp_nodes"] == "node1,node2"
    assert http["orig_outer_pairs"] == "192.168.100.11>192.168.100.12"
    assert http["resp_outer_pairs"] == "192.168.100.12>192.168.100.11"
    assert http["orig_encaps"] == "none,vxlan"
    assert http["orig_ttl_max"] == 64 and http["orig_ttl_min"] == 63
    dns = _flow(flows, "udp", 53)
    assert (dns["encap"], dns["vni"]) == ("vxlan", 4096)
    local = _flow(flows, "icmp", resp_h="10.244.1.10")
    assert local["encap"] == "none" and not local["orig_encapsulated"]
    assert local["orig_nodes"] == "node1" and local["orig_outer_pairs"] == ""


def test_flow_ids_cover_every_ip_packet_consistently():
    flows, ids, view = _kernel()
    ip = view.distinct["src"].notna().to_numpy()
    assert ids[ip].notna().all() and ids[~ip].isna().all()
    sizes = ids.value_counts().sort_index()
    expected = (flows["orig_pkts"] + flows["resp_pkts"] + flows["icmp_errors"]).to_numpy()
    assert sizes.to_numpy().tolist() == expected.tolist()


def test_enrich_flows_names_pods_workloads_and_nodes():
    from pcapkit.cluster import load_snapshot
    from pcapkit.flows import enrich_flows

    snapshot = ROOT / "fixtures" / "cluster" / "flannel" / "snapshot-t1.json"
    assert snapshot.exists(), f"committed fixture {snapshot} is missing"
    flows = enrich_flows(_kernel()[0], load_snapshot([snapshot]))
    http = _flow(flows, "tcp", 8080)
    assert (http["orig_namespace"], http["orig_pod"], http["orig_node"]) == (
        "shop", "client", "node1")
    assert http["resp_workload"] is not None and "web" in str(http["resp_workload"])
    assert http["resp_node"] == "node2"
    dns = _flow(flows, "udp", 53)
    assert dns["resp_namespace"] == "kube-system" and "coredns" in str(dns["resp_pod"])
