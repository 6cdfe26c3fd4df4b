"""Retina capture tarballs: node names from the tarball, members named after it, host
files read into host_state and quoted where they corroborate a finding."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

import pcapkit
from pcapkit.cli import main
from pcapkit.ingest.hosts import iptables_counters
from pcapkit.ingest.retina import retina_name, retina_nodes
from pcapkit.schema.convert import mismatches
from pcapkit.schema.hosts import HOST_STATE

ROOT = Path(__file__).resolve().parent.parent
RETINA = ROOT / "fixtures" / "retina"
DEMO = RETINA / "demo" / "shop-incident"
SNAPSHOT = ROOT / "fixtures" / "demo" / "cluster.json"
CONNTRACK = RETINA / "conntrack" / "retina-capture-node1-20231114221300UTC.tar.gz"
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())
STAMP = "20261202210400UTC"


def _analyze(*args: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(main, ["analyze", *args, "--format", "json"])
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_generator_is_current() -> None:
    for script in (RETINA / "make_retina_tarballs.py",
                   ROOT / "fixtures" / "gadget" / "make_gadget_pcapng.py"):
        done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr


def test_tarball_layout_is_retinas() -> None:
    with tarfile.open(DEMO / f"shop-incident-node1-{STAMP}.tar.gz") as tar:
        names = tar.getnames()
    assert names[0] == "." and f"shop-incident-node1-{STAMP}.pcap" in names
    for member in ("ip-resources.txt", "iptables-rules.txt", "socket-stats.txt",
                   "tcpdump.log", "proc-net/stat/nf_conntrack",
                   "proc-sys-net/ipv4/conf/all/rp_filter"):
        assert member in names


def test_demo_tarballs_analyse_as_the_demo_with_host_evidence() -> None:
    code, report, err = _analyze(str(DEMO), "--snapshot", str(SNAPSHOT))
    assert code == 1, err
    jsonschema.validate(report, SCHEMA)
    inputs = {i["node"]: i for i in report["inputs"]}
    assert set(inputs) == {"node1", "node2"}
    for node, item in inputs.items():
        tarball = str(DEMO / f"shop-incident-{node}-{STAMP}.tar.gz")
        assert item["archive"] == tarball
        assert item["file"] == f"{tarball}!shop-incident-{node}-{STAMP}.pcap"
        assert item["packets"] > 200 and item["errors"] == [] and item["size"] > 20_000
    by_category = {}
    for finding in report["findings"]:
        by_category.setdefault(finding["category"], []).append(finding)
    assert sorted(by_category) == ["asymmetric-route", "dns-timeout", "policy-drop"]
    (drop,) = by_category["policy-drop"]
    (note,) = drop["details"]["host"]
    assert note["node"] == "node2" and note["source"].endswith(".tar.gz!iptables-rules.txt")
    assert "DROP tcp" in note["seen"] and "dpt:5432" in note["seen"]
    assert "counted 3 packet(s)" in note["seen"]
    (route,) = by_category["asymmetric-route"]
    (note,) = route["details"]["host"]
    assert note["node"] == "node1" and "net.ipv4.conf.all.rp_filter=1" in note["seen"]
    assert note["source"].endswith("!proc-sys-net/ipv4/conf/all/rp_filter")
    # conntrack nearly empty on both nodes: it does not corroborate the DNS timeouts
    assert all("host" not in f["details"] for f in by_category["dns-timeout"])


def test_a_firewall_rule_for_other_addresses_is_not_quoted() -> None:
    capture = pcapkit.open(DEMO, snapshot=SNAPSHOT)
    state = capture.host_state
    firewall = state[(state["node"] == "node1") & (state["key"] == "filter/KUBE-FIREWALL/DROP")]
    assert firewall["number"].tolist() == [2]  # counted packets, but for 127.0.0.0/8
    from pcapkit.ingest.corroborate import corroborate
    from pcapkit.rules import load_rules, run_rules

    findings = corroborate(run_rules(capture, load_rules(()).rules), state)
    quoted = [n["seen"] for f in findings for n in f.details.get("host", [])]
    assert quoted and not any("KUBE-FIREWALL" in text for text in quoted)


def test_host_state_is_a_declared_table() -> None:
    capture = pcapkit.open(DEMO)
    state = capture.table("host_state")
    assert not mismatches(state, HOST_STATE)
    assert set(state["node"].astype(str)) == {"node1", "node2"}
    assert set(state["kind"].astype(str)) == {"sysctl", "conntrack_stat", "rule",
                                              "chain_policy"}
    row = state[(state["node"] == "node1")
                & (state["key"] == "net.ipv4.conf.eth1.rp_filter")].iloc[0]
    assert row["number"] == 1 and row["source"] == "proc-sys-net/ipv4/conf/eth1/rp_filter"
    entries = state[(state["key"] == "conntrack.entries") & (state["node"] == "node2")]
    assert entries["number"].tolist() == [58]  # the table size, not summed over CPUs
    tcp_rmem = state[state["key"] == "net.ipv4.tcp_rmem"]
    assert tcp_rmem["value"].iloc[0] == "4096 131072 6291456" and tcp_rmem["number"].isna().all()


def test_without_a_snapshot_the_download_directory_names_the_capture() -> None:
    points = pcapkit.open(DEMO).points
    assert points["node"].astype(str).tolist() == ["node1", "node2"]
    assert set(points["node_source"].astype(str)) == {"retina"}
    assert "download directory 'shop-incident'" in points["node_evidence"].iloc[0]


def test_a_conntrack_table_near_full_corroborates_dns_timeouts() -> None:
    code, report, err = _analyze(str(CONNTRACK))
    assert code == 1, err
    assert report["inputs"][0]["node"] == "node1"  # the CLI's default capture name
    timeouts = [f for f in report["findings"] if f["category"] == "dns-timeout"]
    assert len(timeouts) == 2
    for finding in timeouts:
        seen = [n["seen"] for n in finding["details"]["host"]]
        assert seen[0] == ("nf_conntrack_count 262,100 of nf_conntrack_max 262,144 (100%)")
        assert "conntrack insert_failed 41 (summed over CPUs)" in seen
        assert "conntrack drop 29 (summed over CPUs)" in seen
        assert "conntrack early_drop 8 (summed over CPUs)" in seen
    text = CliRunner().invoke(main, ["analyze", str(CONNTRACK)]).stdout
    assert "host node1: nf_conntrack_count 262,100 of nf_conntrack_max 262,144" in text


def test_an_unpacked_retina_directory_reads_the_same(tmp_path) -> None:
    for tarball in sorted(DEMO.glob("*.tar.gz")):
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp_path / tarball.name.removesuffix(".tar.gz"), filter="data")
    capture = pcapkit.open(tmp_path, snapshot=SNAPSHOT)
    assert capture.points["node"].astype(str).tolist() == ["node1", "node2"]
    state = capture.host_state
    assert set(state["archive"]) == {str(tmp_path / f"shop-incident-{n}-{STAMP}")
                                     for n in ("node1", "node2")}
    drops = state[(state["key"] == "filter/NETPOL-SHOP-DB/DROP")]
    assert drops["node"].astype(str).tolist() == ["node2"] and drops["number"].tolist() == [3]


def test_archive_members_can_be_exported_as_evidence(tmp_path) -> None:
    report = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["analyze", str(DEMO), "--snapshot", str(SNAPSHOT),
                                       "--format", "json", "-o", str(report),
                                       "--evidence", str(tmp_path / "evidence")])
    assert result.exit_code == 1, result.stderr
    assert len(list((tmp_path / "evidence").glob("*.pcapng"))) == 4
    finding = json.loads(report.read_text())["findings"][0]
    out = tmp_path / "one.pcapng"
    again = CliRunner().invoke(main, ["export-evidence", str(report), finding["id"],
                                      "-o", str(out)])  # another process would unpack again
    assert again.exit_code == 0, again.stderr
    assert len(pcapkit.decode_file(out).packets) == finding["details"]["evidence_total"]


@pytest.mark.parametrize("names,nodes,expected", [
    # a snapshot node the name ends with decides
    (["prod-capture-aks-np-1-vmss0-20260101000000UTC.tar.gz"], ["aks-np-1-vmss0"],
     ["aks-np-1-vmss0"]),
    # kubectl retina capture download: <output>/<capture>/<capture>-<node>-<start>.tar.gz
    (["dl/my-cap/my-cap-kind-worker2-20260101000000UTC.tar.gz"], [], ["kind-worker2"]),
    # node names share prefixes too: a snapshot tells them apart
    (["a/db-debug-kind-worker-20260101000000UTC.tar.gz",
      "a/db-debug-kind-worker2-20260101000000UTC.tar.gz"], ["kind-worker", "kind-worker2"],
     ["kind-worker", "kind-worker2"]),
    # the CLI's default capture name
    (["retina-capture-ip-10-0-1-5-20260101000000UTC.tar.gz"], [], ["ip-10-0-1-5"]),
    # nothing says where the capture name ends: its first word, and the evidence says so
    (["x/web-trace-node7-20260101000000UTC.tar.gz"], [], ["trace-node7"]),
    # not a Retina name
    (["node1-any.pcap"], [], [None]),
])
def test_where_the_capture_name_ends(names, nodes, expected) -> None:
    decided = retina_nodes([retina_name(n) for n in names], nodes)
    assert [d[0] if d else None for d in decided] == expected
    if expected == ["trace-node7"]:
        assert "capture name taken to be 'web'" in decided[0][1]


def test_iptables_listing_without_retinas_frame() -> None:
    text = ("Chain FORWARD (policy DROP 17 packets, 1428 bytes)\n"
            "    pkts      bytes target     prot opt in     out     source  destination\n"
            "      12      720 REJECT     udp  --  eth0   *       10.0.0.0/8  0.0.0.0/0  "
            "udp dpt:53 reject-with icmp-port-unreachable\n"
            "       4      240            all  --  *      *       0.0.0.0/0   0.0.0.0/0\n")
    assert iptables_counters(text) == [
        ("chain_policy", "filter/FORWARD/DROP", "policy DROP", 17),
        ("rule", "filter/FORWARD/REJECT",
         "REJECT udp eth0 * 10.0.0.0/8 0.0.0.0/0 udp dpt:53 reject-with "
         "icmp-port-unreachable", 12),
        ("rule", "filter/FORWARD/-", "- all * * 0.0.0.0/0 0.0.0.0/0", 4)]


def test_text_and_markdown_show_what_the_hosts_say() -> None:
    for fmt, shown in (("text", "host node2: iptables filter NETPOL-SHOP-DB: DROP tcp"),
                       ("markdown", "- node2: iptables filter NETPOL-SHOP-DB: DROP tcp")):
        result = CliRunner().invoke(main, ["analyze", str(DEMO), "--snapshot", str(SNAPSHOT),
                                           "--format", fmt])
        assert shown in result.stdout, fmt


def test_node_mapping_names_a_member_by_its_tarball() -> None:
    conntrack = pcapkit.open(CONNTRACK, nodes={CONNTRACK.name: "worker-7"})
    point = conntrack.points.iloc[0]
    assert (point["node"], point["node_source"]) == ("worker-7", "user")
    state = conntrack.host_state
    assert set(state["node"].astype(str)) == {"worker-7"}  # host files follow the capture


def test_decode_reads_the_captures_inside_a_tarball() -> None:
    """`pcapkit decode` unpacks a Retina tarball as analyze does: its member's packets,
    named archive!member, the same rows as the capture it holds."""
    tarball = sorted((ROOT / "fixtures" / "retina" / "demo" / "shop-incident").glob(
        "*node1*.tar.gz"))[0]
    result = CliRunner().invoke(main, ["decode", str(tarball), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    plain = pcapkit.decode_files([ROOT / "fixtures" / "demo" / "node1-any.pcap"]).packets
    assert len(rows) == len(plain)
    assert {r["file"] for r in rows} == {f"{tarball}!{tarball.name[:-len('.tar.gz')]}.pcap"}
    assert [r["frame"] for r in rows] == plain["frame"].tolist()
