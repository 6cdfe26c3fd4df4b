"""connection_attempts: unanswered and refused attempts, their policy verdict (denying side,
policies, near misses), where their packets were last seen, and the traps that are not
attempts (a SYN cut by the capture end, mid-flow connections, one-way UDP)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

import pcapkit
import pcapkit.analyses.attempts as attempts_module
from pcapkit.analyses import analysis
from pcapkit.analyses.attempts import connection_attempts
from pcapkit.cluster import load_snapshot
from pcapkit.cluster.policy.verdict import NO_POLICIES
from pcapkit.schema import table
from pcapkit.schema.convert import mismatches

FIX = Path(__file__).resolve().parents[2] / "fixtures"
POLICY = FIX / "policy"
KERNEL = POLICY / "kernel"


def _open(*paths: Path, snapshot: Path | None = None) -> pcapkit.Capture:
    for path in [*paths, *([snapshot] if snapshot else [])]:
        assert path.exists(), f"committed fixture {path} is missing"
    return pcapkit.open(list(paths), snapshot=snapshot)


def _by_port(frame: pd.DataFrame) -> dict[int, pd.Series]:
    return {int(row["resp_p"]): row for _, row in frame.iterrows()}


@pytest.fixture(scope="module")
def with_policies() -> pcapkit.Capture:
    return _open(KERNEL, snapshot=POLICY / "cluster.json")


@pytest.fixture(scope="module")
def attempts(with_policies) -> dict[int, pd.Series]:
    frame = with_policies.table("connection_attempts")
    assert mismatches(frame, table("connection_attempts")) == []
    return _by_port(frame)


def test_every_failed_attempt_and_nothing_else(attempts) -> None:
    # the answered HTTP connection (tools -> web:8080 from 10.244.1.11) is no attempt
    assert sorted(attempts) == [514, 5432, 7000, 8080, 9000]
    assert str(attempts[8080]["orig_h"]) == "10.244.1.10"
    assert {p: r["attempt"] for p, r in attempts.items()} == {
        8080: "syn_unanswered", 5432: "icmp_prohibited", 9000: "syn_unanswered",
        7000: "udp_unanswered", 514: "udp_unanswered"}
    assert attempts[8080]["syn_retrans"] >= 1
    assert attempts[5432]["icmp_error_types"] == "3/13"
    assert attempts[5432]["icmp_error_senders"] == "10.244.2.0"


def test_verdicts_and_the_denying_side(attempts) -> None:
    assert {p: r["verdict"] for p, r in attempts.items()} == {
        8080: "denied", 5432: "denied", 7000: "denied", 9000: "allowed", 514: "allowed"}
    assert attempts[8080]["denied_by"] == "ingress"
    assert attempts[8080]["policies"] == "shop/web-ingress"
    assert attempts[5432]["denied_by"] == "ingress"
    assert attempts[5432]["policies"] == "shop/db-ingress"
    assert attempts[7000]["denied_by"] == "egress"
    assert attempts[7000]["policies"] == "shop/client-egress"
    assert attempts[8080]["reason"].startswith(
        "ingress to shop/web-7d9f8c6b5d-abcde isolated by shop/web-ingress; no rule of "
        "shop/web-ingress admits TCP 8080 from shop/client-6c9f7b8d4-k2x7q")
    assert attempts[9000]["reason"].startswith("allowed: egress from shop/client-")
    assert pd.isna(attempts[9000]["denied_by"]) and pd.isna(attempts[9000]["policies"])
    assert attempts[8080]["orig_identity"] == "Deployment shop/client"
    assert attempts[8080]["resp_identity"] == "Deployment shop/web"


def test_near_misses_name_the_rule_and_the_label_that_missed(attempts) -> None:
    assert attempts[8080]["near_misses"] == (
        "shop/web-ingress rule 0 admits TCP 8080 but only from pods app=front-end in shop; "
        "shop/client-6c9f7b8d4-k2x7q has app=frontend")
    assert attempts[7000]["near_misses"] == (
        "shop/client-egress rule 2 matches shop/logs-8c6d7f9b4-h5j7k but admits only "
        "UDP 514, TCP 9000")


def test_where_the_packets_were_last_seen(attempts) -> None:
    # node2 dropped it in its forward hook: seen on eth0 (VXLAN) and flannel.1, never on
    # cni0 or the web pod's veth
    dropped = attempts[8080]
    assert dropped["path"].endswith("node1:eth0 > node2:eth0 > node2:flannel.1")
    assert dropped["last_seen_at"] == "node2:flannel.1"
    assert "node2:cni0" not in dropped["path"] and "vethc0ffee01" not in dropped["path"]
    assert dropped["reached_resp_node"] is True
    # the client's egress was enforced on node1: its pod veth and cni0, never node2
    egress = attempts[7000]
    # (node1's -i any capture named from node1-ifindex.txt, node2's pcapng by itself)
    assert egress["path"] == "node1:veth1a2b3c4d > node1:cni0"
    assert egress["last_seen_at"] == "node1:cni0"
    assert egress["reached_resp_node"] is False
    # the allowed syslog datagrams reached the logs pod's veth
    assert attempts[514]["last_seen_at"] == "node2:veth10600040"


def test_one_way_udp_expects_no_reply(attempts) -> None:
    assert attempts[514]["reply_expected"] is False
    assert pd.isna(attempts[7000]["reply_expected"])      # an unknown UDP port
    assert attempts[8080]["reply_expected"] is True


def test_a_snapshot_without_policies_convicts_nothing() -> None:
    frame = _open(KERNEL, snapshot=POLICY / "cluster-no-policies.json").table(
        "connection_attempts")
    assert set(frame["verdict"]) == {"no_policies"}
    assert set(frame["reason"]) == {NO_POLICIES}
    assert frame["denied_by"].isna().all()


def test_without_a_snapshot_the_attempts_are_still_there() -> None:
    frame = _open(KERNEL).table("connection_attempts")
    assert sorted(_by_port(frame)) == [514, 5432, 7000, 8080, 9000]
    assert set(frame["verdict"]) == {"no_snapshot"}
    assert frame["reached_resp_node"].isna().all()        # no cluster: no responder's node
    assert _by_port(frame)[8080]["last_seen_at"] == "node2:flannel.1"
    assert _by_port(frame)[8080]["orig_identity"] == "10.244.1.10"


@pytest.mark.parametrize("name, expected", [
    ("syn-at-capture-end.pcap", {}),
    ("udp-one-way.pcap", {514: False, 8125: False}),
    ("udp-request-unanswered.pcap", {123: True}),
])
def test_traps(name, expected) -> None:
    frame = _open(POLICY / "traps" / name).table("connection_attempts")
    assert {p: r["reply_expected"] for p, r in _by_port(frame).items()} == expected


def test_icmpv6_administratively_prohibited() -> None:
    frame = _open(POLICY / "traps" / "icmp6-prohibited.pcap").table("connection_attempts")
    assert dict(zip(frame["icmp_error_types"], frame["attempt"], strict=True)) == {
        "1/1": "icmp_prohibited", "1/3": "icmp_unreachable"}


def test_mid_flow_connections_are_no_attempts() -> None:
    frame = _open(FIX / "flows" / "tcp-midflow.pcap").table("connection_attempts")
    assert frame.empty


def _stub(capture: pcapkit.Capture, cluster, ends: list[tuple[str, str, int]]):
    """The capture with its flows replaced by copies of the dropped SYN flow between other
    ends: the policy questions of other clusters over real flow rows."""
    flows = capture.flows
    base = flows[flows["resp_p"] == 8080].tail(1)
    rows = []
    for i, (orig, resp, port) in enumerate(ends):
        row = base.copy()
        row["flow_id"] = pd.array([1000 + i], dtype="Int64")
        row["orig_h"], row["resp_h"] = orig, resp
        row["resp_p"] = pd.array([port], dtype="UInt16")
        rows.append(row)
    stubbed = pd.concat(rows, ignore_index=True)
    for column in ("orig_h", "resp_h"):
        stubbed[column] = stubbed[column].astype(str).astype("category")
    stub = SimpleNamespace(flows=stubbed, sightings=capture.sightings, packets=capture.packets,
                           distinct=capture.distinct, points=capture.points, cluster=cluster,
                           context=capture.context)
    # the analysis's per-share facts of the stand-in, as one share (a Capture's facts())
    made = analysis("connection_attempts")
    stub.facts = lambda name: [made.facts(stub, made.prepare(stub))]
    stub.shared = lambda key, build: build(stub)
    return stub


def test_services_hostnetwork_and_nodes_follow_explain() -> None:
    capture = _open(KERNEL)
    flannel = load_snapshot(FIX / "cluster" / "flannel" / "snapshot-t2.json")
    frame = connection_attempts(_stub(capture, flannel, [
        ("10.244.1.10", "10.96.10.10", 80),        # Service: evaluated on its backends
        ("10.244.1.10", "10.244.2.30", 5432),      # denied by db's ingress
        ("192.168.100.11", "10.244.2.30", 5432),   # from a node (hostNetwork) address
    ]))
    rows = list(frame.itertuples())
    assert "service shop/web" in rows[0].policy_notes and "backend" in rows[0].policy_notes
    assert rows[1].verdict == "denied" and rows[1].denied_by == "ingress"
    assert rows[1].policies == "shop/default-deny,shop/allow-db-from-web"
    assert rows[2].verdict == "denied" and "address of node node1" in rows[2].policy_notes


def test_multus_secondary_networks_are_not_subject_to_policy() -> None:
    multus = load_snapshot(FIX / "cluster" / "multus-istio" / "cluster.yaml")
    frame = connection_attempts(_stub(_open(KERNEL), multus, [
        ("192.168.50.21", "192.168.50.99", 5000)]))
    row = frame.iloc[0]
    assert row["verdict"] == "not_applicable"
    assert "NetworkPolicy does not apply on secondary networks" in row["reason"]


def test_the_policy_engine_is_asked_once_per_group(monkeypatch) -> None:
    capture = _open(KERNEL)
    cluster = load_snapshot(POLICY / "cluster.json")
    calls = []
    real = attempts_module.explain_connection

    def counting(*args, **kwargs):
        calls.append(args[1:5])
        return real(*args, **kwargs)

    monkeypatch.setattr(attempts_module, "explain_connection", counting)
    ends = [("10.244.1.10", "10.244.2.10", 8080)] * 40 + [("10.244.1.10", "10.244.2.30",
                                                           5432)] * 25
    frame = connection_attempts(_stub(capture, cluster, ends))
    assert len(frame) == 65 and len(calls) == 2
    assert (frame["verdict"] == "denied").all()
    assert frame["policies"].tolist() == ["shop/web-ingress"] * 40 + ["shop/db-ingress"] * 25


@pytest.mark.parametrize("script", ["make_cluster_json.py", "make_crafted_attempts.py"])
def test_committed_fixtures_are_what_their_generators_make(script) -> None:
    run = subprocess.run([sys.executable, str(POLICY / script), "--check"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_datagrams_to_a_group_expect_no_reply() -> None:
    """Zeek's wikipedia trace: NetBIOS name queries to the subnet's directed broadcast
    (141.142.220.255, framed to ff:ff:ff:ff:ff:ff) and mDNS to 224.0.0.251 and ff02::fb
    go unanswered by design: attempts, but no reply is expected, so no unanswered-connection finding."""
    capture = _open(FIX / "public" / "zeek-wikipedia.pcap")
    frame = capture.table("connection_attempts")
    assert {(str(h), int(p)) for h, p in zip(frame["resp_h"], frame["resp_p"], strict=True)} == {
        ("141.142.220.255", 137), ("224.0.0.251", 5353), ("ff02::fb", 5353)}
    # the broadcast is told by its link destination alone: the address could be a host's
    assert frame["reply_expected"].eq(False).all()
    assert "unanswered-connection" not in set(capture.findings.frame["category"])
