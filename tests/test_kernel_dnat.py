"""Real kube-proxy-style Service DNAT from the Linux kernel (fixtures/kernel-dnat).

A client pod on node1 asks the kube-dns Service (10.96.0.10) and fetches from the web
Service (10.96.0.100); node1's nft table rewrites both to backend pods on node2 and
conntrack un-NATs the replies. A Service without endpoints (10.96.0.200) is rejected with
a TCP reset. Two runs are committed: with br_netfilter (the bridge runs the DNAT as it
receives the frame, so cni0 already sees the backend) and without it (node1's own IP
prerouting runs it after cni0, which still sees the Service address). These tests pin what
must hold on such traffic, not the run's timestamps, ports or IP ids.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from oracle import TSHARK, tshark_expectations

import pcapkit
from pcapkit.dnstx import DnsOptions
from pcapkit.flows.build import assemble_flows

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kernel-dnat"
CLUSTER = FIXTURES / "cluster.json"
RUNS = {"br_netfilter": FIXTURES, "no_br_netfilter": FIXTURES / "no-br-netfilter"}
CAPTURES = [run / name for run in RUNS.values() for name in ("node1-any.pcap", "node2-eth0.pcap")]

CLIENT = "10.244.1.10"
DNS_SERVICE, DNS_BACKEND = "10.96.0.10", "10.244.2.20"
WEB_SERVICE, WEB_BACKEND = "10.96.0.100", "10.244.2.10"
NO_ENDPOINTS = "10.96.0.200"
TIMEOUT_NAME = "timeout.shop.svc.cluster.local"
FLANNEL_VNI = 1


def _ifindex(run: Path) -> dict[str, int]:
    """node1's interface name -> SLL2 ifindex, as the script recorded it."""
    pairs = (line.split() for line in (run / "node1-ifindex.txt").read_text().splitlines())
    return {name: int(index) for index, name in pairs}


def _veth(run: Path) -> int:
    (index,) = [i for name, i in _ifindex(run).items() if name.startswith("veth")]
    return index


def _open(run: Path, snapshot: Path | None = CLUSTER) -> pcapkit.Capture:
    return pcapkit.open([run / "node1-any.pcap", run / "node2-eth0.pcap"], snapshot=snapshot)


def _node1_dns(run: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """node1's DNS messages (which carry ``encap``) joined to their packets' if_index, vni
    and outer destination port."""
    decoded = pcapkit.decode_files([run / "node1-any.pcap"])
    packets = decoded.packets[["frame", "if_index", "pkt_type", "vni", "outer_dport"]]
    return decoded.dns.merge(packets, on="frame", how="left"), decoded.packets


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (apt-get install tshark)")
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: str(p.relative_to(FIXTURES.parent)))
def test_decode_files_agrees_with_tshark_on_innermost_addresses(path: Path) -> None:
    expected = tshark_expectations(str(path))
    packets = pcapkit.decode_files([path]).packets.set_index("frame")
    assert len(expected) == len(packets) > 0
    mismatches = []
    for exp in expected:
        row = packets.loc[exp.frame]
        got = tuple(None if pd.isna(row[c]) else row[c]
                    for c in ("src", "dst", "proto", "sport", "dport", "encap", "vni"))
        want = (exp.src, exp.dst, exp.proto, exp.sport, exp.dport, exp.encap, exp.vni)
        if exp.proto is None:   # ARP and other non-IP frames: tshark names no transport
            got, want = got[:2] + got[5:], want[:2] + want[5:]
        if got != want:
            mismatches.append(f"frame {exp.frame} [{exp.protocols}]: pcapkit={got} tshark={want}")
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("run", RUNS.values(), ids=RUNS.keys())
def test_query_to_service_on_veth_and_to_backend_inside_vxlan(run: Path) -> None:
    dns, _ = _node1_dns(run)
    veth, flannel, eth0 = _veth(run), _ifindex(run)["flannel.1"], _ifindex(run)["eth0"]
    queries = dns[~dns["qr"].astype(bool)]
    to_service = queries[queries["dst"] == DNS_SERVICE]
    to_backend = queries[queries["dst"] == DNS_BACKEND]
    # Every query leaves the pod to the Service address (seen on the veth) ...
    assert set(to_service.loc[to_service["if_index"] == veth, "dns_id"]) == set(queries["dns_id"])
    # ... never crosses the tunnel or the NIC with it ...
    assert set(to_service["if_index"]) <= {veth, _ifindex(run)["cni0"]}
    assert (to_service["encap"] == "none").all()
    # ... and crosses them rewritten to the CoreDNS pod: plain on flannel.1, VXLAN on eth0.
    assert set(to_backend.loc[to_backend["if_index"] == flannel, "dns_id"]) == \
        set(queries["dns_id"])
    tunnelled = to_backend[to_backend["if_index"] == eth0]
    assert set(tunnelled["dns_id"]) == set(queries["dns_id"])
    assert (tunnelled["encap"] == "vxlan").all() and (tunnelled["vni"] == FLANNEL_VNI).all()
    assert (tunnelled["outer_dport"] == 8472).all()
    assert not (to_backend["if_index"] == veth).any()
    # Replies: from the CoreDNS pod in the tunnel, un-NATed to the Service on the veth.
    responses = dns[dns["qr"].astype(bool)]
    assert set(responses.loc[responses["if_index"] == veth, "src"]) == {DNS_SERVICE}
    assert set(responses.loc[responses["if_index"] == eth0, "src"]) == {DNS_BACKEND}


@pytest.mark.parametrize(("run", "cni0_sees"), [(RUNS["br_netfilter"], DNS_BACKEND),
                                                (RUNS["no_br_netfilter"], DNS_SERVICE)],
                         ids=RUNS.keys())
def test_where_the_rewrite_happens_relative_to_cni0(run: Path, cni0_sees: str) -> None:
    """br_netfilter runs the DNAT on the bridge port, before cni0's capture tap; without it
    the node's IP prerouting runs it after."""
    dns, _ = _node1_dns(run)
    inbound = dns[(~dns["qr"].astype(bool)) & (dns["if_index"] == _ifindex(run)["cni0"])]
    assert len(inbound) > 0 and set(inbound["dst"]) == {cni0_sees}


def _lookups_at_client(run: Path) -> pd.DataFrame:
    """The queries as the client sent them: on its veth, to the Service address."""
    dns, _ = _node1_dns(run)
    sent = dns[(~dns["qr"].astype(bool)) & (dns["if_index"] == _veth(run))]
    assert set(sent["dst"]) == {DNS_SERVICE}
    return sent


@pytest.mark.parametrize("run", RUNS.values(), ids=RUNS.keys())
def test_one_transaction_per_lookup_merged_across_the_dnat(run: Path) -> None:
    capture = _open(run)
    tx = capture.dns
    sent = _lookups_at_client(run)
    assert len(tx) == len(sent)
    assert sorted(tx["dns_id"]) == sorted(sent["dns_id"])
    assert (tx["nat"] == "dnat").all()
    assert (tx["orig_h"] == CLIENT).all()
    assert (tx["resp_h"] == DNS_SERVICE).all() and (tx["resp_p"] == 53).all()
    assert (tx["backend_ip"] == DNS_BACKEND).all()
    assert (tx["backend_port"] == 53).all()
    assert (tx["resp_service"] == "kube-system/kube-dns").all()
    coredns = capture.cluster.resolve(DNS_BACKEND)
    assert (tx["backend_pod"] == coredns.name).all()
    # The transaction's query is the client-side sighting, on the veth.
    veth_frames = set(sent["frame"])
    assert tx["query_frame"].isin(veth_frames).all()
    assert set(tx["nodes"]) == {"node1,node2"}
    answered = tx[tx["response_ts"].notna()]
    assert set(answered["nat_reply_seen"]) == {"both"}
    web = answered[answered["qname"] == "web.shop.svc.cluster.local"]
    assert set(web["status"]) == {"answered"}
    assert sorted(a for addrs in web["answer_addrs"] for a in addrs) == \
        ["10.244.2.10", "fd00:10:244:2::10"]
    assert set(answered.loc[answered["qname"].str.startswith("nosuch."), "status"]) == \
        {"nxdomain"}


@pytest.mark.parametrize("run", RUNS.values(), ids=RUNS.keys())
def test_timed_out_lookup_is_unanswered_and_retried(run: Path) -> None:
    capture = _open(run)
    tx = capture.dns
    lost = tx[tx["qname"] == TIMEOUT_NAME].sort_values(["qtype", "attempt"])
    assert len(lost) == 4 and set(lost["qtype"]) == {"A", "AAAA"}
    assert lost["response_ts"].isna().all()
    capture_end = capture.packets["ts_corrected"].max()
    for _, chain in lost.groupby("qtype"):
        first, second = chain.iloc[0], chain.iloc[1]
        assert (first["attempt"], second["attempt"]) == (1, 2)
        assert first["status"] == "unanswered"   # the client asked again
        timeout = DnsOptions().timeout
        ended_early = (capture_end - second["query_ts"]).total_seconds() < timeout
        assert second["status"] == ("unanswered_at_capture_end" if ended_early
                                    else "unanswered")
        assert second["retry_of"] == first["tx_id"] and first["retry_of"] == first["tx_id"]
        assert (chain["retries"] == 1).all() and (chain["retry_pattern"] == "resend").all()
        assert 0.9 < second["retry_delay_s"] < 1.5   # the client's 1 s timeout


@pytest.mark.parametrize("run", RUNS.values(), ids=RUNS.keys())
def test_without_a_cluster_the_dnat_is_still_merged(run: Path) -> None:
    tx = _open(run, snapshot=None).dns
    assert len(tx) == len(_lookups_at_client(run))
    assert (tx["nat"] == "dnat").all() and (tx["resp_h"] == DNS_SERVICE).all()
    assert (tx["backend_ip"] == DNS_BACKEND).all()
    assert tx["backend_pod"].isna().all()


def test_cluster_export_loads_cleanly_and_resolves_the_services() -> None:
    cluster = pcapkit.load_snapshot(CLUSTER)
    assert cluster.problems == []
    dns = cluster.resolve(DNS_SERVICE)
    assert (dns.kind, dns.service) == ("service", "kube-system/kube-dns")
    assert cluster.resolve(WEB_SERVICE).service == "shop/web"
    assert cluster.resolve(DNS_BACKEND).kind == "pod"
    endpoints = cluster.endpoints
    kube_dns = endpoints[endpoints["service"] == "kube-dns"]
    assert len(kube_dns) == 2   # the UDP and the TCP port
    services = cluster.services.set_index("name")
    assert services.loc["checkout", "backends"] == 0


def _flows(run: Path, with_cluster: bool) -> pd.DataFrame:
    capture = _open(run)
    cluster = capture.cluster if with_cluster else None
    return assemble_flows(capture.distinct, capture.sightings, cluster=cluster)[0]


@pytest.mark.parametrize("run", RUNS.values(), ids=RUNS.keys())
def test_http_through_the_service_is_one_linked_connection(run: Path) -> None:
    flows = _open(run).flows
    service = flows[flows["resp_h"] == WEB_SERVICE]
    backend = flows[flows["resp_h"] == WEB_BACKEND]
    assert len(service) == len(backend) == 1
    service, backend = service.iloc[0], backend.iloc[0]
    assert (service["orig_h"], service["orig_p"]) == (backend["orig_h"], backend["orig_p"])
    assert (service["resp_p"], backend["resp_p"]) == (80, 8080)
    assert service["conn_state"] == backend["conn_state"] == "SF"
    assert "F" in service["history"] and "f" in service["history"]
    assert service["orig_bytes"] == backend["orig_bytes"] > 0
    assert service["resp_bytes"] == backend["resp_bytes"] > 0
    assert (service["nat"], service["nat_side"], service["nat_peer_flow_id"]) == \
        ("dnat", "service", backend["flow_id"])
    assert (backend["service_ip"], backend["backend_ip"], backend["backend_port"]) == \
        (WEB_SERVICE, WEB_BACKEND, 8080)
    assert service["orig_nodes"] == "node1" and backend["orig_nodes"] == "node1,node2"


@pytest.mark.parametrize("run", RUNS.values(), ids=RUNS.keys())
def test_service_without_endpoints_is_rejected_on_node1(run: Path) -> None:
    flows = _open(run).flows
    (rejected,) = flows[flows["resp_h"] == NO_ENDPOINTS].itertuples()
    assert rejected.conn_state == "REJ" and rejected.history == "Sr"
    assert rejected.resp_nodes == "node1" and rejected.orig_nodes == "node1"
    assert pd.isna(rejected.nat)
    # the pod's veth, named from node1-ifindex.txt beside the capture
    veth = {i: name for name, i in _ifindex(run).items()}[_veth(run)]
    assert f"node1:{veth}" in rejected.resp_interfaces.split(",")
    node2 = pcapkit.decode_files([run / "node2-eth0.pcap"]).packets
    assert not node2["dst"].eq(NO_ENDPOINTS).any() and not node2["src"].eq(NO_ENDPOINTS).any()


@pytest.mark.parametrize("run", RUNS.values(), ids=RUNS.keys())
def test_dns_flows_linked_across_the_dnat_with_the_cluster(run: Path) -> None:
    flows = _flows(run, with_cluster=True)
    (service,) = flows[flows["resp_h"] == DNS_SERVICE].itertuples()
    (backend,) = flows[flows["resp_h"] == DNS_BACKEND].itertuples()
    assert (service.nat, service.nat_side, service.nat_peer_flow_id) == \
        ("dnat", "service", backend.flow_id)
    assert (backend.service_ip, backend.backend_ip, backend.backend_port) == \
        (DNS_SERVICE, DNS_BACKEND, 53)


@pytest.mark.parametrize("run", RUNS.values(), ids=RUNS.keys())
def test_capture_flows_use_the_snapshot_to_link_udp_dnat(run: Path) -> None:
    flows = _open(run).flows
    (service,) = flows[flows["resp_h"] == DNS_SERVICE].itertuples()
    assert service.nat == "dnat" and service.backend_ip == DNS_BACKEND
