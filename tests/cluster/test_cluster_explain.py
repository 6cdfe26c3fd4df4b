"""Cluster.explain and ``pcapkit policy explain``: endpoints, services, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pcapkit.cli import main
from pcapkit.cli.policy import policy
from pcapkit.cluster import load_snapshot
from pcapkit.cluster.policy.explain import parse_port_spec
from pcapkit.errors import PcapkitError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cluster"
FLANNEL = FIXTURES / "flannel"
SNAPSHOTS = [FLANNEL / "snapshot-t1.json", FLANNEL / "snapshot-t2.json"]


@pytest.fixture(scope="module")
def cluster():
    return load_snapshot(SNAPSHOTS)


def test_pod_to_pod_allowed_and_denied(cluster):
    allowed = cluster.explain("shop/web-7d9f8c6b5d-abcde", "shop/db-0", 5432)
    assert allowed.allowed
    assert allowed.ingress.matched[0].policy == "shop/allow-db-from-web"
    denied = cluster.explain("client", "shop/db-0", "5432/TCP")
    assert not denied.allowed
    assert "shop/default-deny" in denied.ingress.policies


def test_ip_endpoints_are_resolved_to_pods(cluster):
    verdict = cluster.explain("10.244.1.10", "10.244.2.30", 5432)
    assert (verdict.src, verdict.dst) == ("shop/client", "shop/db-0")
    assert not verdict.allowed


def test_reused_ip_is_the_pod_of_that_time(cluster):
    early = cluster.explain("10.244.1.50", "shop/db-0", 5432, at="2024-05-01T09:00:30Z")
    assert early.src == "shop/report-28579560-x7k2p" and not early.allowed
    assert not any("phase Succeeded" in note for note in early.notes)
    late = cluster.explain("10.244.1.50", "shop/db-0", 5432, at="2024-05-01T10:45:00Z")
    assert late.src == "shop/web-7d9f8c6b5d-kl3mn" and late.allowed


def test_service_ip_is_evaluated_against_its_backends(cluster):
    verdict = cluster.explain("shop/client", "10.96.10.10", "80/TCP")
    assert verdict.allowed
    assert verdict.port == 8080  # the target port after DNAT
    assert any("service shop/web" in n and "3 backend(s)" in n for n in verdict.notes)
    db = cluster.explain("shop/client", "shop/db", 5432)  # headless service by name
    assert not db.allowed and db.dst == "shop/db-0"


def test_service_port_without_backends_is_noted(cluster):
    verdict = cluster.explain("shop/client", "10.96.10.10", 81)
    assert any("no backend pod for TCP 81" in n for n in verdict.notes)


def test_other_cni_policies_are_counted():
    calico = load_snapshot(FIXTURES / "calico" / "cluster.json")
    verdict = calico.explain("app/worker-0", "app/api-64c9f7d8b6-7kq4x", 8000)
    assert verdict.allowed
    text = " ".join(verdict.notes)
    assert "GlobalNetworkPolicy" in text and "does not evaluate" in text
    cilium = load_snapshot(FIXTURES / "cilium" / "cluster.json")
    verdict = cilium.explain("default/frontend-5b7f6c8d9-abcde", "default/backend-0", "grpc")
    assert verdict.allowed and verdict.port == 9000
    assert "CiliumNetworkPolic" in " ".join(verdict.notes)


def test_secondary_network_is_noted():
    mesh = load_snapshot(FIXTURES / "multus-istio" / "cluster.yaml")
    verdict = mesh.explain("10.244.0.21", "192.168.50.21", 2152, "UDP")
    assert any("Multus" in n and "does not apply" in n for n in verdict.notes)


def test_networkpolicy_is_not_applied_on_a_secondary_network(tmp_path):
    """A deny-all isolating the CNF denies its pod-network address, not its Multus one."""
    import yaml

    export = yaml.safe_load((FIXTURES / "multus-istio" / "cluster.yaml").read_text())
    export["items"].append({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "deny-all", "namespace": "telco"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}})
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(export))
    mesh = load_snapshot(path)
    assert not mesh.explain("10.244.0.21", "10.244.0.15", 2152, "UDP").allowed
    secondary = mesh.explain("10.244.0.21", "192.168.50.21", 2152, "UDP")
    assert secondary.allowed
    assert not secondary.ingress.applicable
    assert "does not apply on secondary networks" in secondary.ingress.reason


@pytest.mark.parametrize("src, message", [
    ("shop/nope", "unknown pod 'shop/nope'"),
    ("", "empty source"),
])
def test_unknown_endpoints_raise(cluster, src, message):
    with pytest.raises(PcapkitError, match=message):
        cluster.explain(src, "shop/db-0", 5432)


@pytest.mark.parametrize("text, expected", [
    ("5432/TCP", (5432, "TCP")), ("53/udp", (53, "UDP")), ("5432", (5432, "TCP")),
    ("http/TCP", ("http", "TCP")), (8080, (8080, "TCP")),
])
def test_parse_port_spec(text, expected):
    assert parse_port_spec(text) == expected


@pytest.mark.parametrize("text", ["5432/ICMP", "0/TCP", "70000", "54 32", "/TCP", ""])
def test_bad_port_specs(text):
    with pytest.raises(PcapkitError, match="bad p"):
        parse_port_spec(text)


def _run(*args):
    snapshot_args = [a for path in SNAPSHOTS for a in ("--snapshot", str(path))]
    return CliRunner().invoke(main, ["policy", "explain", *snapshot_args, *args])


def test_cli_text_output():
    result = _run("--from", "shop/client", "--to", "shop/db-0", "--port", "5432/TCP")
    assert result.exit_code == 1, result.output      # denied, as `kubectl auth can-i` says no
    assert result.output.startswith("denied: ingress to shop/db-0")


DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo" / "cluster.json"


def _demo(*args):
    return CliRunner().invoke(main, ["policy", "explain", "--snapshot", str(DEMO), *args])


def test_cli_a_workload_is_answered_for_each_of_its_pods():
    denied = _demo("--from", "deploy/shop/frontend", "--to", "deployment/shop/db",
                   "--port", "5432/TCP", "--format", "json")
    assert denied.exit_code == 1, denied.output
    assert json.loads(denied.output)["allowed"] is False
    allowed = _demo("--from", "deploy/shop/checkout", "--to", "deploy/shop/db",
                    "--port", "5432/TCP")
    assert allowed.exit_code == 0, allowed.output
    assert "admitted by shop/db-ingress" in allowed.output


def test_cli_an_unknown_workload_lists_the_known_ones():
    result = _demo("--from", "deploy/shop/nope", "--to", "deploy/shop/db", "--port", "5432")
    assert result.exit_code == 2
    assert "unknown workload Deployment/shop/nope" in result.output
    assert "Deployment/checkout" in result.output


def test_cli_a_time_before_every_snapshot_says_so():
    result = _run("--from", "shop/client", "--to", "shop/db-0", "--port", "5432/TCP",
                  "--at", "2001-01-01T00:00:00Z", "--format", "json")
    assert result.exit_code in (0, 1), result.output
    assert any("before the first snapshot" in n for n in json.loads(result.output)["notes"])
    text = _run("--from", "shop/client", "--to", "shop/db-0", "--port", "5432/TCP",
                "--at", "2001-01-01T00:00:00Z")
    assert text.output.startswith("note: asked at 2001-01-01T00:00:00Z, before the first")


def test_cli_json_output():
    result = _run("--from", "10.244.1.10", "--to", "10.96.10.10", "--port", "80/TCP",
                  "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["allowed"] is True
    assert data["ingress"]["matched"][0]["policy"] == "shop/allow-web"
    assert data["egress"]["isolated"] is False
    assert data["resolved"]["to"].startswith("service shop/web")
    assert len(data["backends"]) == 3


def test_cli_at_option_picks_the_pod_of_that_time():
    result = _run("--from", "10.244.1.50", "--to", "shop/db-0", "--port", "5432",
                  "--at", "2024-05-01T10:45:00Z")
    assert result.exit_code == 0 and result.output.startswith("allowed:")


@pytest.mark.parametrize("args, message", [
    (("--from", "shop/ghost", "--to", "shop/db-0", "--port", "5432/TCP"), "unknown pod"),
    (("--from", "shop/client", "--to", "shop/db-0", "--port", "5432/XYZ"), "bad protocol"),
    (("--from", "shop/client", "--to", "shop/db-0", "--port", "abc/def/x"), "bad port"),
    (("--from", "shop/client", "--to", "shop/db-0", "--port", "5432", "--at", "soon"),
     "not a time"),
])
def test_cli_bad_input_exits_2_with_one_line(args, message):
    result = _run(*args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pcapkit: error: ") and message in lines[0]
    assert "Traceback" not in result.output


def test_cli_unreadable_snapshot_exits_2(tmp_path):
    for path in (FIXTURES / "bad" / "not-kubernetes.json", tmp_path / "absent.json"):
        result = CliRunner().invoke(main, ["policy", "explain", "--snapshot", str(path),
                                           "--from", "a/b", "--to", "c/d", "--port", "80"])
        assert result.exit_code == 2
        assert result.output.startswith("pcapkit: error: ") and str(path) in result.output


def test_cli_show_problems():
    result = CliRunner().invoke(policy, [
        "explain", "--snapshot", str(FIXTURES / "bad" / "malformed-objects.json"),
        "--from", "shop/good-pod", "--to", "shop/bad-network-status", "--port", "80",
        "--show-problems"])
    assert result.exit_code == 0, result.output
    assert "snapshot problem:" in result.output and "bad-operator" in result.output
