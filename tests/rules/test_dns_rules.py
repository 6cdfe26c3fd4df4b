"""The dns-timeout rules: the client label they group by, and the fixtures they run on."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pcapkit
from pcapkit.rules import load_rules
from pcapkit.rules.engine import run_rules

ROOT = Path(__file__).resolve().parents[2]
DNS_FIXTURES = ROOT / "fixtures" / "dns"
DEMO = ROOT / "fixtures" / "demo"
FLANNEL = ROOT / "fixtures" / "cluster" / "flannel" / "snapshot-t1.json"


def _timeout_findings(capture):
    rules = [r for r in load_rules().rules if r.category == "dns-timeout"]
    return run_rules(capture, rules)


def test_orig_identity_is_the_workload_with_a_snapshot_and_the_address_without():
    bare = pcapkit.open(DNS_FIXTURES / "unanswered-two-clients.pcap")
    assert bare.dns["orig_identity"].tolist() == ["10.244.1.10", "10.244.1.11"]
    known = pcapkit.open(ROOT / "fixtures" / "dnstx" / "resolver-chain.pcap", snapshot=FLANNEL)
    assert known.dns["orig_identity"].tolist() == ["Pod shop/client",
                                            "Deployment kube-system/coredns",
                                            "Deployment kube-system/coredns"]


def test_unanswered_queries_of_two_clients_without_a_snapshot_stay_two_findings():
    findings = _timeout_findings(pcapkit.open(DNS_FIXTURES / "unanswered-two-clients.pcap"))
    assert sorted(f.src["ip"] for f in findings) == ["10.244.1.10", "10.244.1.11"]
    assert all(f.severity == "high" for f in findings)


def test_a_reply_lost_after_the_dns_pod_is_a_retried_lookup_naming_the_hop():
    capture = pcapkit.open(ROOT / "fixtures" / "dnstx" / "dnat-any.pcap",
                           snapshot=ROOT / "fixtures" / "kernel-dnat" / "cluster.json")
    [finding] = _timeout_findings(capture)
    assert finding.title == "DNS answered only after a retry"
    assert finding.details["nat_reply_seen"] == "backend_only"
    assert finding.severity == "medium"
    assert "db.shop.svc.cluster.local" in finding.summary


def test_upstream_silence_behind_a_servfail_outranks_a_slow_answer():
    capture = pcapkit.open(ROOT / "fixtures" / "dnstx" / "resolver-chain.pcap", snapshot=FLANNEL)
    titles = {f.title: f for f in _timeout_findings(capture)}
    upstream = titles["DNS SERVFAIL because the upstream resolver did not answer"]
    assert upstream.details["upstream_status"] == "unanswered"
    assert upstream.src["workload"] == "Pod shop/client"
    assert "DNS answers slower than a second" not in titles  # a 4 s SERVFAIL is not "slow"


def test_storm_counts_every_search_suffix_nxdomain_of_one_name():
    capture = pcapkit.open(DNS_FIXTURES / "nxdomain-storm.pcap")
    [finding] = _timeout_findings(capture)
    assert finding.count == 48
    assert finding.details["search_base"] == "api.example.com"
    assert finding.details["evidence_total"] == 96  # each NXDOMAIN's query and response


def test_committed_fixtures_match_the_generator(tmp_path):
    subprocess.run([sys.executable, str(DNS_FIXTURES / "make_dns_fixtures.py"), str(tmp_path)],
                   check=True)
    made = sorted(p.name for p in tmp_path.glob("*.pcap"))
    assert made == sorted(p.name for p in DNS_FIXTURES.glob("*.pcap"))
    for name in made:
        assert filecmp.cmp(tmp_path / name, DNS_FIXTURES / name, shallow=False), name


def test_a_query_and_its_unanswered_retry_are_one_lost_lookup():
    """The demo's client sends the A and the AAAA question twice, never answered: two lost
    lookups (one per type), each with its retry among the evidence, not four timeouts."""
    capture = pcapkit.open(DEMO, snapshot=DEMO / "cluster.json")
    dns = capture.dns
    lost = dns[(dns["status"] == "unanswered") & (dns["final_status"] == "unanswered")]
    assert len(lost) == 4 and lost["retry_of"].nunique() == 2
    findings = [f for f in _timeout_findings(capture)
                if f.title == "DNS queries never answered"]
    assert sorted(f.details["qtype"] for f in findings) == ["A", "AAAA"]
    for finding in findings:
        assert (finding.count, finding.details["rows"], finding.details["retries"]) == (1, 2, 1)
        assert finding.summary.startswith(f"1 {finding.details['qtype']} lookup(s) of ")
        assert "2 queries sent" in finding.summary
        chain = lost[lost["qtype"] == finding.details["qtype"]]
        expected = capture.evidence(dns=chain["tx_id"].astype(int).tolist())
        assert finding.details["evidence_total"] == len(expected) == 16  # both queries


def test_lookups_retried_until_answered_are_no_lost_lookup():
    findings = _timeout_findings(pcapkit.open(ROOT / "fixtures" / "dnstx" / "retries.pcap"))
    assert [f.title for f in findings] == ["DNS answered only after a retry"]
    assert findings[0].count == 1
