"""The snat-port-reuse rules on the kernel SNAT captures: one finding per kind and
destination naming the pods, the node's conntrack counters quoted, the healthy twin quiet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pcapkit.cli import main

SNAT = Path(__file__).resolve().parents[2] / "fixtures" / "snat"
PODS = ("shop/billing-exporter-59c7d8f6b4-t3v8w", "shop/orders-worker-6d8f7c9b5-k2m4p",
        "shop/orders-worker-6d8f7c9b5-x7q9r")


def findings(*args: str) -> list[dict]:
    result = CliRunner().invoke(main, ["analyze", *args, "--format", "json"])
    assert result.exit_code in (0, 1), result.stderr
    return [f for f in json.loads(result.stdout)["findings"]
            if f["category"] == "snat-port-reuse"]


@pytest.fixture(scope="module")
def reuse() -> dict[str, dict]:
    capture, cluster = SNAT / "reuse" / "node1-any.pcap", SNAT / "cluster.json"
    assert capture.is_file() and cluster.is_file()
    return {f["title"]: f for f in findings(str(capture), "--snapshot", str(cluster))}


def test_held_syns_are_one_high_finding_naming_the_pods(reuse) -> None:
    held = reuse["Connections held at the node for a source NAT port"]
    assert held["severity"] == "high" and held["count"] == 5
    assert (held["dst"]["ip"], held["dst"]["port"]) == ("192.168.100.50", 9000)
    assert held["src"]["ip"] == "192.168.100.11"  # the node's masquerade address
    assert all(pod in held["summary"] for pod in PODS)
    assert "waited for a source NAT port of 192.168.100.11" in held["summary"]
    assert "--random-fully" in held["remediation"]


def test_stale_tuples_are_one_medium_finding_with_the_counters_quoted(reuse) -> None:
    stale = reuse["New connections reused a source tuple the server still held"]
    assert stale["severity"] == "medium" and stale["count"] == 5
    assert stale["dst"]["port"] == 8080
    assert "SYN, ACK, reset, SYN again" in stale["summary"]
    seen = [note["seen"] for note in stale["details"]["host"]]
    assert "conntrack insert_failed 5 (summed over CPUs)" in seen  # the node's own counter
    frames = {e["frame"] for e in stale["evidence"]}
    assert len(frames) == len(stale["evidence"]) > 0


def test_uplink_alone_names_the_address_only() -> None:
    [stale] = findings(str(SNAT / "reuse" / "node1-eth0.pcap"))
    assert stale["title"] == "New connections reused a source tuple the server still held"
    assert "192.168.100.11" in stale["summary"] and "shop/" not in stale["summary"]


@pytest.mark.parametrize("name", ["node1-any.pcap", "node1-eth0.pcap"])
def test_healthy_masquerade_makes_no_finding(name) -> None:
    assert findings(str(SNAT / "healthy" / name), "--snapshot", str(SNAT / "cluster.json")) \
        == []
