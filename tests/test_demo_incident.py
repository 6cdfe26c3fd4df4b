"""The demo incident (fixtures/demo): three real failures among healthy kernel traffic.

make_demo_incident.sh captured a two-node Flannel-style overlay in which CoreDNS never
answers names under legacy.svc.cluster.local, node2 drops the frontend's TCP 5432 to db
(the NetworkPolicy db-ingress of cluster.json denies it), and node2 sends the payments
pod's replies around the tunnel, bare on eth1, where node1's strict rp_filter drops them.
``pcapkit analyze`` must report exactly those three problems with the right pods, and
nothing from the healthy pings, HTTP, DNS and checkout -> db traffic beside them; the
evidence frames and display filters must point at the packets themselves (tshark).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from oracle import TSHARK

import pcapkit
from pcapkit.cli import main

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "demo"
CLUSTER = DEMO / "cluster.json"
CAPTURES = [DEMO / "node1-any.pcap", DEMO / "node2-any.pcap"]
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())

FRONTEND, CHECKOUT = "Deployment shop/frontend", "Deployment shop/checkout"
LOST_NAME = "inventory.legacy.svc.cluster.local"
#: (category, severity, src workload, dst workload or Service, qtype) of every finding
EXPECTED = Counter([
    ("dns-timeout", "high", FRONTEND, "kube-system/kube-dns", "A"),
    ("dns-timeout", "high", FRONTEND, "kube-system/kube-dns", "AAAA"),
    ("policy-drop", "high", FRONTEND, "Deployment shop/db", None),
    ("asymmetric-route", "high", CHECKOUT, "Deployment shop/payments", None),
])


def analyze(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["analyze", str(DEMO), *args])
    return result.exit_code, result.stdout, result.stderr


def ifindex(node: str) -> dict[str, int]:
    """The node's interface name -> SLL2 ifindex, as the script recorded it."""
    pairs = (line.split() for line in (DEMO / f"{node}-ifindex.txt").read_text().splitlines())
    return {name: int(index) for index, name in pairs}


def key(finding: dict) -> tuple:
    dst = finding["dst"]
    return (finding["category"], finding["severity"], finding["src"]["workload"],
            dst["workload"] or dst["service"], finding["details"].get("qtype"))


def of(findings: list[dict], category: str) -> list[dict]:
    return [f for f in findings if f["category"] == category]


@pytest.fixture(scope="module")
def report() -> dict:
    for path in [*CAPTURES, CLUSTER]:
        assert path.is_file(), f"missing committed fixture {path}"
    code, out, err = analyze("--snapshot", str(CLUSTER), "--format", "json")
    assert code == 1, err  # high findings: --fail-on high by default
    return json.loads(out)


def test_the_report_names_both_nodes_and_the_snapshot(report) -> None:
    jsonschema.validate(report, SCHEMA)
    assert [(i["file"].rsplit("/", 1)[-1], i["node"], i["errors"]) for i in report["inputs"]] \
        == [("node1-any.pcap", "node1", []), ("node2-any.pcap", "node2", [])]
    assert report["snapshot"]["loaded"]
    assert (report["snapshot"]["pods"], report["snapshot"]["network_policies"]) == (6, 1)


def test_exactly_the_three_problems_and_nothing_from_the_healthy_traffic(report) -> None:
    assert Counter(key(f) for f in report["findings"]) == EXPECTED
    assert report["summary"]["by_severity"] == {
        "critical": 0, "high": 4, "medium": 0, "low": 0, "informational": 0}


def test_the_healthy_traffic_is_there_to_stay_quiet() -> None:
    """No finding means something only if the healthy conversations are in the capture."""
    capture = pcapkit.open(CAPTURES, snapshot=CLUSTER)
    flows = capture.flows
    done = flows[flows["conn_state"] == "SF"]
    pairs = Counter(zip(done["orig_identity"], done["resp_identity"], done["resp_p"],
                        strict=True))
    assert pairs[(FRONTEND, "Deployment shop/web", 8080)] == 2
    assert pairs[(CHECKOUT, "Deployment shop/db", 5432)] == 1
    ping = flows[(flows["proto"] == "icmp") & (flows["resp_identity"] == "Deployment shop/web")]
    assert len(ping) == 1 and ping["resp_pkts"].iloc[0] >= 3
    dns = capture.dns
    answered = dns[dns["status"] == "answered"]
    assert Counter(answered["qname"]) == Counter({"web.shop.svc.cluster.local": 2,
                                                  "db.shop.svc.cluster.local": 2})


def test_dns_timeout_names_the_client_the_service_and_its_backend(report) -> None:
    findings = of(report["findings"], "dns-timeout")
    for finding in findings:
        details = finding["details"]
        assert finding["src"]["name"] == "frontend-7c5d8b9f6-q8w2e"
        assert (finding["dst"]["ip"], finding["dst"]["port"]) == ("10.96.0.10", 53)
        assert details["qname"] == LOST_NAME and details["backend_ip"] == "10.244.2.20"
        assert details["retries"] == 1 and details["rows"] == 2  # the query and its retry
        assert finding["count"] == 1  # ... are one lost lookup
        assert details["nodes"] == "node1,node2"  # it reached CoreDNS's node: not lost on the way


def test_policy_drop_names_the_denying_policy_and_where_the_syns_died(report) -> None:
    (finding,) = of(report["findings"], "policy-drop")
    details = finding["details"]
    assert (finding["src"]["name"], finding["dst"]["name"]) == (
        "frontend-7c5d8b9f6-q8w2e", "db-6b8d9c7f5-w2x4z")
    assert (finding["protocol"], finding["port"]) == ("tcp", 5432)
    assert (details["denied_by"], details["policies"], details["attempt"]) == (
        "ingress", "shop/db-ingress", "syn_unanswered")
    assert "app=checkout" in details["near_misses"]
    # node2's forward hook drops them after decapsulation: last seen on flannel.1
    # (named from node2-ifindex.txt beside the capture: SLL2 keeps only the index)
    assert details["last_seen_at"] == "node2:flannel.1" and "flannel.1" in ifindex("node2")
    assert details["reached_resp_node"] is True


def test_asymmetric_route_failed_with_the_replies_on_node1_eth1(report) -> None:
    (finding,) = of(report["findings"], "asymmetric-route")
    details = finding["details"]
    assert (finding["src"]["name"], finding["dst"]["name"]) == (
        "checkout-5b7d9c8f4-t6y3u", "payments-6f8b7d5c9-m3n5p")
    assert finding["rule"] == "a50589f4-bb00-4b32-bccd-a5f19b27c7e7"  # the "failed" rule
    assert "encap_one_way" in details["reason"] and details["conn_state"] == "S1"
    points = details["one_way_points"].split(",")
    for node in ("node1", "node2"):
        assert f"{node}:eth1 (resp)" in points and f"{node}:flannel.1 (orig)" in points


def test_without_the_snapshot_the_db_attempts_are_not_called_a_policy_drop() -> None:
    """The policy verdict comes from cluster.json, not from the captures (the capture
    files named one by one, so the directory's cluster.json is not found)."""
    result = CliRunner().invoke(main, ["analyze", *map(str, CAPTURES), "--format", "json"])
    code, out, err = result.exit_code, result.stdout, result.stderr
    assert not json.loads(out)["snapshot"]["loaded"]
    assert code == 1, err
    categories = Counter(f["category"] for f in json.loads(out)["findings"])
    assert categories["policy-drop"] == 0 and categories["unanswered-connection"] == 1
    assert categories["dns-timeout"] == 2 and categories["asymmetric-route"] == 1


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (apt-get install tshark)")
def test_evidence_frames_and_display_filters_select_the_failing_packets(report) -> None:
    for finding in report["findings"]:
        frames: dict[str, set[int]] = {}
        for item in finding["evidence"]:
            frames.setdefault(item["file"], set()).add(item["frame"])
        filters = finding["details"].get("display_filters") or {
            next(iter(frames)): finding["display_filter"]}
        assert set(filters) == set(frames) == {str(p) for p in CAPTURES}  # both nodes
        for file, display_filter in filters.items():
            rows = _tshark(Path(file), display_filter)
            assert {int(r[0]) for r in rows} == frames[file], (finding["category"], file)
            _check_packets(finding, rows)


def _tshark(path: Path, display_filter: str) -> list[list[str]]:
    fields = ("frame.number", "ip.src", "ip.dst", "tcp.dstport", "tcp.flags", "dns.qry.name")
    result = subprocess.run(
        [TSHARK, "-n", "-r", str(path), "-d", "udp.port==8472,vxlan", "-Y", display_filter,
         "-T", "fields", "-E", "separator=\t", *(x for f in fields for x in ("-e", f))],
        capture_output=True, text=True, check=True, timeout=60)
    return [line.split("\t") for line in result.stdout.splitlines()]


def _check_packets(finding: dict, rows: list[list[str]]) -> None:
    """Every evidence frame is a packet of the failing conversation (innermost header)."""
    ends = {finding["src"]["ip"], finding["details"].get("backend_ip") or finding["dst"]["ip"],
            finding["dst"]["ip"]}
    for _, src, dst, dport, flags, qname in rows:
        inner = (src.split(",")[-1], dst.split(",")[-1])
        assert set(inner) <= ends, (finding["category"], inner)
        if finding["category"] == "dns-timeout":
            assert qname == LOST_NAME
        elif finding["category"] == "policy-drop":
            assert dport.split(",")[-1] == "5432" and int(flags, 16) == 0x002  # bare SYNs


def test_markdown_and_text_reports_hold_the_same_findings(tmp_path, report) -> None:
    for fmt in ("markdown", "text"):
        path = tmp_path / f"report.{fmt}"
        code, _, err = analyze("--snapshot", str(CLUSTER), "--format", fmt, "-o", str(path))
        assert code == 1, err
        text = path.read_text()
        for finding in report["findings"]:
            assert finding["summary"] in text, (fmt, finding["summary"])
        assert text.count("[policy-drop]" if fmt == "text" else "policy-drop") >= 1


def test_cluster_json_is_what_its_generator_makes() -> None:
    result = subprocess.run([sys.executable, str(DEMO / "make_cluster_json.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# pod_traffic.py builds replies with an=None, as the committed fixtures were made; scapy 2.6+
# warns about it.
@pytest.mark.filterwarnings("ignore:The DNS fields:DeprecationWarning")
def test_the_dns_server_ignores_the_listed_domains_and_answers_the_rest() -> None:
    """pod_traffic.py dns-server --ignore: no reply for the domain and names under it; every
    other answer byte for byte what it is without the option (the older fixtures' server)."""
    from scapy.layers.dns import DNS, DNSQR

    spec = importlib.util.spec_from_file_location(
        "pod_traffic", ROOT / "fixtures" / "kernel" / "pod_traffic.py")
    traffic = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(traffic)
    ignore = ("legacy.svc.cluster.local.",)

    def query(name: str) -> bytes:
        return bytes(DNS(id=7, rd=1, qd=DNSQR(qname=name, qtype="A")))

    assert traffic._dns_answer(query(LOST_NAME + "."), ignore) is None
    assert traffic._dns_answer(query("Legacy.svc.cluster.local."), ignore) is None
    for name in ("web.shop.svc.cluster.local.", "xlegacy.svc.cluster.local.",
                 "nosuch.shop.svc.cluster.local."):
        reply = traffic._dns_answer(query(name), ignore)
        assert reply is not None and reply == traffic._dns_answer(query(name))
    assert DNS(traffic._dns_answer(query("web.shop.svc.cluster.local."))).an[0].rdata \
        == "10.244.2.10"


def test_the_readme_shows_the_real_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """README.md's "Analyse an incident" block is this run's text report, shortened at '...'
    (the elapsed time aside): it cannot drift from what pcapkit prints. Run as the README
    shows it, from the checkout, with the snapshot found in the directory."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Analyse an incident", 1)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1]
    assert block.splitlines()[1] == "$ pcapkit analyze fixtures/demo"
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["analyze", "fixtures/demo"])
    code, out, err = result.exit_code, result.stdout, result.stderr
    assert code == 1, err
    shown = [line for line in block.splitlines()[2:] if line.strip()]
    assert len(shown) >= 10
    for line in shown[:-1]:
        for part in line.split("..."):
            assert part.strip() in out, part
    assert shown[-1].split(" (")[0] in err  # the closing line goes to stderr
