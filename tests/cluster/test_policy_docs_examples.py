"""The examples of the Kubernetes NetworkPolicy concept page, evaluated by PolicyEngine.

The first half loads ``fixtures/cluster/policy/docs-test-network-policy.yaml`` (the page's
``test-network-policy`` inside a small cluster); the second half uses the page's default
policies (deny/allow all ingress/egress) and its endPort example.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pcapkit.cluster.policy.engine import PolicyEngine

FIXTURE = (Path(__file__).resolve().parents[2] / "fixtures" / "cluster" / "policy"
           / "docs-test-network-policy.yaml")


def load(path: Path) -> dict[str, list[dict]]:
    objects: dict[str, list[dict]] = {}
    for doc in yaml.safe_load_all(path.read_text()):
        objects.setdefault(doc["kind"], []).append(doc)
    return objects


@pytest.fixture(scope="module")
def docs() -> tuple[PolicyEngine, dict[str, dict]]:
    objects = load(FIXTURE)
    pods = {f"{p['metadata']['namespace']}/{p['metadata']['name']}": p for p in objects["Pod"]}
    return PolicyEngine(objects["Namespace"], objects["Pod"], objects["NetworkPolicy"]), pods


@pytest.mark.parametrize(
    ("src", "dst", "port", "expected", "admitting_peer"),
    [
        ("default/frontend-0", "default/redis-0", 6379, True, 2),     # podSelector role=frontend
        ("myproject/client-0", "default/redis-0", 6379, True, 1),     # namespaceSelector
        ("other/frontend-1", "default/redis-0", 6379, False, None),   # role=frontend, wrong ns
        ("default/backend-0", "default/redis-0", 6379, False, None),  # not a listed peer
        ("172.17.0.5", "default/redis-0", 6379, True, 0),             # ipBlock
        ("172.17.1.5", "default/redis-0", 6379, False, None),         # ipBlock except
        ("default/frontend-0", "default/redis-0", 6380, False, None),  # port not listed
        ("default/frontend-0", "default/redis-0", "redis", True, 2),  # named by the caller
    ],
)
def test_docs_ingress(docs, src: str, dst: str, port, expected: bool,
                      admitting_peer: int | None) -> None:
    engine, _ = docs
    verdict = engine.evaluate(src, dst, port)
    assert verdict.allowed is expected
    assert verdict.ingress.policies == ["default/test-network-policy"]
    if expected:
        assert [m.peer_index for m in verdict.ingress.matched] == [admitting_peer]


@pytest.mark.parametrize(
    ("dst", "port", "expected"),
    [
        ("10.0.0.7", 5978, True),
        ("10.0.0.7", 5979, False),
        ("10.0.1.7", 5978, False),
        ("default/frontend-0", 5978, False),
    ],
)
def test_docs_egress(docs, dst: str, port: int, expected: bool) -> None:
    engine, _ = docs
    verdict = engine.evaluate("default/redis-0", dst, port)
    assert verdict.allowed is expected
    assert verdict.egress.isolated


def test_docs_policy_leaves_unselected_pods_open(docs) -> None:
    engine, _ = docs
    verdict = engine.evaluate("other/frontend-1", "default/backend-0", 80)
    assert verdict.allowed and not verdict.ingress.isolated and not verdict.egress.isolated


def test_docs_namespace_without_labels_matches_by_name(docs) -> None:
    engine, _ = docs
    assert engine.namespace_labels_of("default") == {"kubernetes.io/metadata.name": "default"}


# --- default policies and endPort --------------------------------------------------------

NS = [{"metadata": {"name": "default"}}]


def _pod(name: str, ip: str, role: str) -> dict:
    return {"metadata": {"name": name, "namespace": "default", "labels": {"role": role}},
            "spec": {"nodeName": "node-a", "containers": [{"name": "c"}]},
            "status": {"phase": "Running", "podIP": ip, "hostIP": "192.168.1.10"}}


A = _pod("a", "10.244.0.2", "db")
B = _pod("b", "10.244.0.3", "web")


def _policy(name: str, spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


DEFAULT_DENY_INGRESS = _policy("default-deny-ingress", {"podSelector": {},
                                                        "policyTypes": ["Ingress"]})
ALLOW_ALL_INGRESS = _policy("allow-all-ingress", {"podSelector": {}, "ingress": [{}],
                                                  "policyTypes": ["Ingress"]})
DEFAULT_DENY_EGRESS = _policy("default-deny-egress", {"podSelector": {},
                                                      "policyTypes": ["Egress"]})
ALLOW_ALL_EGRESS = _policy("allow-all-egress", {"podSelector": {}, "egress": [{}],
                                                "policyTypes": ["Egress"]})
DEFAULT_DENY_ALL = _policy("default-deny-all", {"podSelector": {},
                                                "policyTypes": ["Ingress", "Egress"]})
END_PORT = _policy("multi-port-egress", {
    "podSelector": {"matchLabels": {"role": "db"}}, "policyTypes": ["Egress"],
    "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
                "ports": [{"protocol": "TCP", "port": 32000, "endPort": 32768}]}],
})


@pytest.mark.parametrize(
    ("policies", "src", "dst", "port", "expected"),
    [
        ([DEFAULT_DENY_INGRESS], B, A, 80, False),
        ([DEFAULT_DENY_INGRESS], A, "8.8.8.8", 443, True),
        ([DEFAULT_DENY_INGRESS, ALLOW_ALL_INGRESS], B, A, 80, True),
        ([DEFAULT_DENY_EGRESS], A, "8.8.8.8", 443, False),
        ([DEFAULT_DENY_EGRESS], "8.8.8.8", A, 443, True),
        ([DEFAULT_DENY_EGRESS, ALLOW_ALL_EGRESS], A, "8.8.8.8", 443, True),
        ([DEFAULT_DENY_ALL], B, A, 80, False),
        ([DEFAULT_DENY_ALL], "8.8.8.8", A, 80, False),
        ([DEFAULT_DENY_ALL], A, "8.8.8.8", 80, False),
        ([END_PORT], A, "10.0.0.9", 32000, True),
        ([END_PORT], A, "10.0.0.9", 32768, True),
        ([END_PORT], A, "10.0.0.9", 32769, False),
        ([END_PORT], A, "10.0.1.9", 32100, False),
        ([END_PORT], B, "10.0.1.9", 1, True),  # role=web is not selected
    ],
)
def test_docs_default_policies_and_end_port(policies, src, dst, port, expected: bool) -> None:
    engine = PolicyEngine(NS, [A, B], policies)
    assert engine.evaluate(src, dst, port).allowed is expected
