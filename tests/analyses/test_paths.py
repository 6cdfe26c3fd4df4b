"""flow_paths: each fixture's rows, with the exact reasons and texts, and the traps that
must stay symmetric."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import pcapkit
from pcapkit.schema.convert import mismatches
from pcapkit.schema.paths import FLOW_PATHS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
ASYM = FIXTURES / "asymmetric"
SNAPSHOT = ASYM / "cluster.json"
CALICO = FIXTURES / "cluster" / "calico" / "cluster.json"


def open_capture(*names: str, snapshot: Path | None = None) -> pcapkit.Capture:
    paths = [FIXTURES / name for name in names]
    missing = [p for p in paths if not p.exists()]
    assert not missing, f"committed fixture missing: {missing}"
    return pcapkit.open(paths, snapshot=snapshot)


def paths_of(*names: str, snapshot: Path | None = None) -> pd.DataFrame:
    table = open_capture(*names, snapshot=snapshot).table("flow_paths")
    assert mismatches(table, FLOW_PATHS) == []
    return table


def row(table: pd.DataFrame, **where) -> pd.Series:
    mask = pd.Series(True, index=table.index)
    for column, value in where.items():
        mask &= table[column].astype(object) == value
    assert mask.sum() == 1, f"{mask.sum()} rows match {where}"
    return table[mask].iloc[0]


def tcp_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["proto"] == "tcp"].sort_values("ts").reset_index(drop=True)


AROUND = ("asymmetric/around-tunnel/node1-any.pcap", "asymmetric/around-tunnel/node2-any.pcap")
HEALTHY = ("asymmetric/healthy/node1-any.pcap", "asymmetric/healthy/node2-any.pcap")
# ifindexes (node1-ifindex.txt, node2-ifindex.txt): 2 eth0, 3 cni0, 4 flannel.1, 5 eth1,
# 6 the pod's veth


def test_replies_around_the_tunnel_kernel_capture():
    table = paths_of(*AROUND, snapshot=SNAPSHOT)
    assert len(table) == 3 and table["asymmetric"].all()
    ping = row(table, proto="icmp")
    assert ping["reason"] == "encap_one_way"
    assert ping["detail"] == "node1: orig tunnelled, resp never; node2: orig tunnelled, resp never"
    assert not ping["failed"]
    worked, dropped = (tcp_rows(table).iloc[i] for i in (0, 1))
    for flow in (worked, dropped):
        # each node saw the SYN (veth, flannel.1), so its points judge it, not split routing
        assert flow["reason"] == "encap_one_way,one_direction_at_point"
        assert flow["detail"].startswith("node1: orig tunnelled, resp never; node2: orig "
                                         "tunnelled, resp never; one direction only at ")
        assert flow["orig_pod"] == "client-6c9f7b8d4-k2x7q" and flow["resp_node"] == "node2"
    # Requests through flannel.1 and eth0 (VXLAN), replies bare on eth1, on both nodes.
    assert worked["one_way_points"] == (
        "node1:eth0 (orig),node1:eth1 (resp),node1:flannel.1 (orig),"
        "node2:eth0 (orig),node2:eth1 (resp),node2:flannel.1 (orig)")
    assert worked["conn_state"] == "SF" and not worked["failed"] and worked["failure"] == ""
    assert worked["points_both"] == 4  # both veths and both cni0
    # Strict rp_filter on node1: the SYN-ACKs reach node1's eth1 and never its cni0 or the
    # client's veth, so those saw the SYNs only.
    assert dropped["failed"]
    assert "SYN sent" in dropped["failure"] and "SYN-ACK sent" in dropped["failure"]
    assert {"node1:cni0 (orig)", "node1:veth1a2b3c4d (orig)", "node1:eth1 (resp)"} <= \
        set(dropped["one_way_points"].split(","))


def test_healthy_twin_is_symmetric():
    table = paths_of(*HEALTHY, snapshot=SNAPSHOT)
    assert not table["asymmetric"].any()
    assert (table["reason"] == "").all() and (table["detail"] == "").all()
    tcp = tcp_rows(table)
    assert len(tcp) == 2 and (tcp["points_both"] == 8).all() and not tcp["failed"].any()


def test_calico_ipip_reply_bare():
    flow = row(paths_of("asymmetric/calico-ipip-reply-bare/cal-node1-eth0.pcap",
                        snapshot=CALICO), proto="tcp")
    assert flow["asymmetric"] and flow["reason"] == "encap_one_way"
    assert flow["detail"] == "cal-node1: orig tunnelled, resp never"
    assert flow["orig_pod"] == "api-64c9f7d8b6-7kq4x" and flow["resp_pod"] == "worker-0"


def test_calico_ipip_both_ways_is_symmetric():
    flow = row(paths_of("asymmetric/calico-ipip-healthy/cal-node1-eth0.pcap",
                        snapshot=CALICO), proto="tcp")
    assert not flow["asymmetric"] and flow["points_both"] == 1


def test_reply_reencapsulated_by_a_transit_node():
    flow = row(paths_of("asymmetric/vxlan-reply-via-node3.pcap", snapshot=SNAPSHOT),
               proto="tcp")
    assert flow["reason"] == "underlay_pair_differs,next_hop_mac_differs"
    underlay, macs = flow["detail"].split("; ")
    assert underlay == ("orig underlay 192.168.100.11>192.168.100.12, resp "
                        "192.168.100.13>192.168.100.11, resp left node3, its pod runs on node2")
    # the point is named by the vantage stage (the file's node); the MACs are node2's (the
    # requests' VTEP) and node3's, which re-encapsulated the replies
    assert macs.startswith("at ") and macs.endswith(
        ":0 requests went to 02:00:c0:a8:64:0c, replies came from 02:00:c0:a8:64:0d")


def test_transit_node_without_a_snapshot():
    flow = row(paths_of("flows/vxlan-asymmetric-underlay.pcap"), proto="tcp")
    assert flow["reason"] == "underlay_pair_differs"
    assert flow["detail"] == ("orig underlay 192.168.100.11>192.168.100.12, resp "
                              "192.168.100.13>192.168.100.11")


def test_split_routing():
    table = paths_of("asymmetric/split-routing.pcap")
    flow = row(table, proto="tcp")
    assert flow["asymmetric"] and flow["reason"] == "split_routing"
    assert flow["detail"] == "SYN-ACK without its SYN on split-routing"
    assert flow["conn_state"] == "SHR" and not flow["failed"]
    assert not row(table, proto="icmp")["asymmetric"]


def test_split_routing_traps():
    """A capture that starts between SYN and SYN-ACK, one-way syslog, a one-sided stream
    already running: nothing to judge."""
    table = paths_of("asymmetric/split-routing-capture-start.pcap")
    assert len(table) == 3 and not table["asymmetric"].any()
    assert set(table["conn_state"].astype(str)) == {"SF", "S0", "SHR"}


def test_split_routing_is_not_a_resent_synack():
    """A SYN-ACK the server re-sends for a SYN sent before the capture began: alone 2.7 s
    in, or answered by the client at this point, is no split routing; a lone SYN-ACK 40 s
    in (later than any re-sending) is."""
    table = paths_of("asymmetric/split-routing-synack-resent.pcap")
    assert not row(table, proto="tcp", orig_p=40010)["asymmetric"]
    answered = row(table, proto="tcp", orig_p=40011)
    assert answered["conn_state"] == "SF" and not answered["asymmetric"]
    late = row(table, proto="tcp", orig_p=40012)
    assert late["asymmetric"] and late["reason"] == "split_routing"


def test_a_lone_synack_in_a_real_trace_is_no_finding():
    """Zeek's wikipedia trace: one SYN-ACK 2.7 s in, nothing else of its connection."""
    capture = open_capture("public/zeek-wikipedia.pcap")
    flow = row(capture.table("flow_paths"), proto="tcp", orig_p=6705)
    assert flow["history"] == "^h" and not flow["asymmetric"]
    assert "asymmetric-route" not in set(capture.findings.frame["category"])


def test_ttl_detour():
    flow = row(paths_of("asymmetric/ttl-detour/node1-eth0.pcap",
                        "asymmetric/ttl-detour/node2-eth0.pcap"), proto="tcp")
    assert flow["reason"] == "ttl_differs"
    assert flow["detail"] == "orig+resp TTL 125 at node1:0,126 at node2:0"


def test_ttl_direct_is_symmetric():
    flow = row(paths_of("asymmetric/ttl-direct/node1-eth0.pcap",
                        "asymmetric/ttl-direct/node2-eth0.pcap"), proto="tcp")
    assert not flow["asymmetric"] and flow["points_both"] == 2


def test_captures_that_ran_for_part_of_a_flow():
    capture = open_capture(*(f"asymmetric/partial-captures/node{nr}-eth0.pcap"
                             for nr in (1, 2, 3)))
    flows = capture.flows[capture.flows["proto"] == "udp"].sort_values("ts")
    # the trap is real: node2 saw only the first query, node3 only the second answer
    assert [("node2" in o, "node2" in r) for o, r in
            zip(flows["orig_nodes"], flows["resp_nodes"], strict=True)][0] == (True, False)
    assert [("node3" in o, "node3" in r) for o, r in
            zip(flows["orig_nodes"], flows["resp_nodes"], strict=True)][1] == (False, True)
    table = capture.table("flow_paths")
    assert not table["asymmetric"].any()


def test_bond_members_see_one_direction_each():
    """eth0 (ifindex 2) sends, eth1 (3) receives, bond0 (4) sees both: the SYN-ACK arrives
    on eth1 whose SYN left on eth0, and none of it is another path."""
    capture = open_capture("asymmetric/bond-members.pcap")
    for proto in ("tcp", "icmp"):
        flow = row(capture.flows, proto=proto)
        assert "if2" in flow["orig_interfaces"] and "if2" not in flow["resp_interfaces"]
        assert "if3" in flow["resp_interfaces"] and "if3" not in flow["orig_interfaces"]
    table = capture.table("flow_paths")
    assert not table["asymmetric"].any()
    assert row(table, proto="tcp")["points_both"] == 4  # bond0, flannel.1, cni0, the veth


def test_cilium_host_routing_bypasses_the_pods_lxc():
    """Each lxc device sees only its own pod's packets (the others are redirected straight
    into the pod); eth0 and cilium_vxlan see both on each node: no route differs."""
    capture = open_capture("asymmetric/cilium-bpf-host-routing/node1-any.pcap",
                           "asymmetric/cilium-bpf-host-routing/node2-any.pcap")
    flow = row(capture.flows, proto="tcp")
    assert "node1:if7" in flow["orig_interfaces"] and "node1:if7" not in flow["resp_interfaces"]
    assert "node2:if7" in flow["resp_interfaces"] and "node2:if7" not in flow["orig_interfaces"]
    paths = row(capture.table("flow_paths"), proto="tcp")
    assert not paths["asymmetric"] and paths["points_both"] == 4


def test_istio_ports_are_exempt():
    flow = row(paths_of("asymmetric/istio-sidecar.pcap"), proto="tcp")
    assert flow["resp_p"] == 15006
    assert flow["exempt"] == "istio" and not flow["asymmetric"] and flow["one_way_points"] == ""


@pytest.mark.parametrize("names, snapshot", [
    (("kernel/node1-any.pcap", "kernel/node2-eth0.pcap"), None),
    (("kernel/node1-multi.pcapng", "kernel/node2-eth0.pcap"), None),
    (("kernel-dnat/node1-any.pcap", "kernel-dnat/node2-eth0.pcap"),
     FIXTURES / "kernel-dnat" / "cluster.json"),
    (("kernel-dnat/node1-any.pcap", "kernel-dnat/node2-eth0.pcap"), None),
    (("kernel-dnat/no-br-netfilter/node1-any.pcap", "kernel-dnat/no-br-netfilter/node2-eth0.pcap"),
     None),
    (("flows/service-dnat-any.pcap",), None),
], ids=["kernel", "kernel-pcapng", "dnat-snapshot", "dnat-no-snapshot", "dnat-no-br-netfilter",
        "dnat-crafted"])
def test_symmetric_traffic_stays_symmetric(names, snapshot):
    """Service DNAT (cni0 sees the request after the rewrite and the reply before it with
    br_netfilter), ICMP errors counted on a flow, multi-interface pcapng: no asymmetry."""
    table = paths_of(*names, snapshot=snapshot)
    assert len(table) and not table["asymmetric"].any(), table[table["asymmetric"]]


def test_icmp_error_is_not_a_reply():
    table = paths_of("kernel/node1-any.pcap", "kernel/node2-eth0.pcap")
    rejected = row(table, proto="tcp", resp_p=8443)
    assert rejected["conn_state"] == "S0" and rejected["points_both"] == 0
    assert rejected["failed"] and rejected["failure"] == "conn_state S0; ICMP errors 3/13"


def test_committed_fixtures_match_the_generator(tmp_path):
    subprocess.run([sys.executable, str(ASYM / "make_crafted.py"), str(tmp_path)], check=True,
                   capture_output=True)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.pcap"))
    committed = sorted(p.relative_to(ASYM) for p in ASYM.rglob("*.pcap")
                       if p.parent.name not in ("around-tunnel", "healthy"))
    assert made == committed
    for relative in made:
        assert filecmp.cmp(tmp_path / relative, ASYM / relative, shallow=False), relative
    check = subprocess.run([sys.executable, str(ASYM / "make_cluster_json.py"), "--check"])
    assert check.returncode == 0


RTR_A_LAN, RTR_B_LAN = "02:00:c0:a8:6e:01", "02:00:c0:a8:6e:02"
RTR_A_WAN, RTR_B_WAN = "02:00:c0:a8:78:01", "02:00:c0:a8:78:02"
TWO_ROUTERS = ("paths/two-routers/node1-eth0.pcap", "paths/two-routers/server-eth0.pcap")
ONE_ROUTER = ("paths/one-router/node1-eth0.pcap", "paths/one-router/server-eth0.pcap")


def test_replies_through_a_second_router_kernel_capture():
    """The server routes the replies via rtr-b while node1 sends to rtr-a: at node1 the
    replies come from another MAC than the requests went to, at the server they go to
    another than the requests came from. Nothing else differs (one hop each way)."""
    table = paths_of(*TWO_ROUTERS)
    conversations = table[table["proto"].isin(["tcp", "icmp"])]
    assert len(conversations) == 4 and conversations["asymmetric"].all()
    assert set(conversations["reason"]) == {"next_hop_mac_differs"}
    assert set(conversations["detail"]) == {
        f"at node1:0 requests went to {RTR_A_LAN}, replies came from {RTR_B_LAN}; "
        f"at server:0 requests came from {RTR_A_WAN}, replies went to {RTR_B_WAN}"}
    assert (conversations["points_both"] == 2).all() and not conversations["failed"].any()
    alone = paths_of(TWO_ROUTERS[0])
    assert set(alone.loc[alone["proto"] == "tcp", "detail"]) == {
        f"at node1:0 requests went to {RTR_A_LAN}, replies came from {RTR_B_LAN}"}


def test_one_router_both_ways_and_mac_traps_are_symmetric():
    assert not paths_of(*ONE_ROUTER)["asymmetric"].any()
    # a VRRP virtual MAC the requests go to, the master's own address on the replies
    assert not paths_of("paths/vrrp-gateway.pcap")["asymmetric"].any()
    # every frame with the same two MACs either way: the link addresses name no direction
    assert not paths_of("paths/constant-macs.pcap")["asymmetric"].any()
    # SLL2 (tcpdump -i any) keeps no MACs: the demo's flows are judged without them
    demo = paths_of("demo/node1-any.pcap", "demo/node2-any.pcap")
    assert not demo["reason"].str.contains("next_hop_mac_differs").any()


def test_mac_trap_fixtures_match_their_generator():
    done = subprocess.run([sys.executable, str(FIXTURES / "paths" / "make_crafted_macs.py"),
                           "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_router_both_ways_seen_from_its_inputs_is_symmetric():
    """Zeek's 126-interface pcapng: an LDAP conversation routed between two IPv6 subnets
    by one router, the capture seeing each direction on its way into that router (requests
    from the client to it, replies from the server to it). Both directions framed to one
    MAC are not a second next hop; the failed connection is no asymmetric route."""
    table = paths_of("public/zeek-pcapng-126-idbs-mixed-linktypes.pcapng")
    ldap = row(table, proto="tcp", resp_p=389)
    assert ldap["conn_state"] == "RSTR" and ldap["points_both"] == 1
    assert not ldap["asymmetric"], ldap["detail"]


def test_a_conversation_mirrored_into_one_tunnel_is_symmetric():
    """Zeek's Geneve sample (an AWS Gateway Load Balancer style capture): both directions
    arrive tunnelled from the same sender to the same collector (192.168.33.179 >
    192.168.179.33), which is a mirror, not a reply re-encapsulated by another node."""
    table = paths_of("public/zeek-geneve-many-options.pcap")
    web = row(table, proto="tcp", resp_p=80)
    assert web["conn_state"] == "SF" and not web["asymmetric"], web["detail"]
