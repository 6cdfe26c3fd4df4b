"""NetworkPolicy evaluation: every rule of networking.k8s.io/v1 with allow and deny cases."""

from __future__ import annotations

import json
import logging

import pytest

from pcapkit.cluster.policy.engine import PolicyEngine, Verdict
from pcapkit.errors import PcapkitError

# --- builders ------------------------------------------------------------------------------


def namespace(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": dict(labels)}}


def pod(ns: str, name: str, ip: str | list[str] | None, labels: dict | None = None, *,
        ports: tuple = (), node: str = "node-a", host_ip: str = "192.168.1.10",
        host_network: bool = False, phase: str = "Running", annotations: dict | None = None,
        uid: str | None = None) -> dict:
    ips = [ip] if isinstance(ip, str) else list(ip or [])
    status: dict = {"phase": phase, "hostIP": host_ip}
    if ips:
        status["podIP"] = ips[0]
        status["podIPs"] = [{"ip": i} for i in ips]
    container_ports = [{"name": n, "containerPort": num, "protocol": proto}
                       for n, num, proto in ports]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels or {}),
                     "annotations": dict(annotations or {}), "uid": uid or f"uid-{ns}-{name}"},
        "spec": {"nodeName": node, "hostNetwork": host_network,
                 "containers": [{"name": "main", "ports": container_ports}]},
        "status": status,
    }


def netpol(ns: str, name: str, selector: dict | None = None, *, ingress: list | None = None,
           egress: list | None = None, types: list[str] | None = None) -> dict:
    spec: dict = {"podSelector": {} if selector is None else selector}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    if types is not None:
        spec["policyTypes"] = types
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def labels(**values: str) -> dict:
    return {"matchLabels": dict(values)}


WEB = pod("shop", "web-1", "10.244.1.2", {"app": "web"})
API = pod("shop", "api-1", "10.244.1.3", {"app": "api"}, ports=(("http", 8080, "TCP"),))
DB = pod("shop", "db-0", "10.244.2.4", {"app": "db"}, node="node-b", host_ip="192.168.1.11",
         ports=(("postgres", 5432, "TCP"), ("metrics", 9187, "TCP")))
TOOLS = pod("ops", "tools-1", "10.244.2.9", {"app": "tools"}, node="node-b",
            host_ip="192.168.1.11")
NAMESPACES = [namespace("shop", team="shop"), namespace("ops", team="ops")]
PODS = [WEB, API, DB, TOOLS]
DEFAULT_DENY = netpol("shop", "default-deny", types=["Ingress"])


def engine(*policies: dict, pods: list | None = None, namespaces: list | None = None,
           other: list | None = None) -> PolicyEngine:
    return PolicyEngine(NAMESPACES if namespaces is None else namespaces,
                        PODS if pods is None else pods, list(policies), other)


def allowed(eng: PolicyEngine, src, dst, port, protocol: str = "TCP", **kw) -> bool:
    return eng.evaluate(src, dst, port, protocol, **kw).allowed


# --- isolation and policyTypes -------------------------------------------------------------


def test_no_policy_allows_everything_and_isolates_nothing() -> None:
    verdict = engine().evaluate(WEB, DB, 5432)
    assert verdict.allowed
    assert not verdict.ingress.isolated and not verdict.egress.isolated
    assert verdict.ingress.applicable and verdict.egress.applicable


def test_default_deny_isolates_only_its_namespace() -> None:
    eng = engine(DEFAULT_DENY)
    assert not allowed(eng, WEB, DB, 5432)
    assert allowed(eng, WEB, TOOLS, 22)  # ops pods are not selected
    verdict = eng.evaluate(WEB, DB, 5432)
    assert verdict.ingress.policies == ["shop/default-deny"]
    assert not verdict.egress.isolated  # Ingress-only policy leaves egress alone


def test_pod_selector_isolates_only_selected_pods() -> None:
    eng = engine(netpol("shop", "db-only", labels(app="db"), ingress=[]))
    assert not allowed(eng, WEB, DB, 5432)
    assert allowed(eng, DB, API, 8080)


def test_implicit_policy_types_add_egress_when_egress_rules_exist() -> None:
    policy = netpol("shop", "web-egress", labels(app="web"),
                    egress=[{"to": [{"podSelector": labels(app="db")}]}])
    eng = engine(policy)
    verdict = eng.evaluate(WEB, API, 8080)
    assert not verdict.allowed and verdict.egress.isolated
    assert allowed(eng, WEB, DB, 5432)
    # the same policy also isolates ingress of web (Ingress is always implied), with no rule
    assert not allowed(eng, API, WEB, 80)


def test_empty_egress_list_does_not_imply_egress() -> None:
    # apiserver default: Egress only when len(spec.egress) != 0
    eng = engine(netpol("shop", "empty-egress", labels(app="web"), egress=[]))
    verdict = eng.evaluate(WEB, API, 8080)
    assert verdict.allowed and not verdict.egress.isolated


def test_egress_only_policy_type_denies_all_egress_without_rules() -> None:
    eng = engine(netpol("shop", "deny-egress", labels(app="web"), types=["Egress"]))
    verdict = eng.evaluate(WEB, API, 8080)
    assert not verdict.allowed and verdict.egress.isolated
    assert allowed(eng, API, WEB, 80)  # ingress of web is untouched


def test_explicit_ingress_type_ignores_egress_rules() -> None:
    policy = netpol("shop", "ingress-only", labels(app="web"), types=["Ingress"],
                    ingress=[{}], egress=[{"to": [{"podSelector": labels(app="db")}]}])
    assert allowed(engine(policy), WEB, API, 8080)


# --- rules ---------------------------------------------------------------------------------


def test_allow_all_ingress_rule() -> None:
    eng = engine(DEFAULT_DENY, netpol("shop", "allow-all", ingress=[{}]))
    verdict = eng.evaluate(TOOLS, DB, 5432)
    assert verdict.allowed
    assert [(m.policy, m.rule_index, m.peer_index, m.port_index)
            for m in verdict.ingress.matched] == [("shop/allow-all", 0, None, None)]


def test_empty_ingress_list_denies_all() -> None:
    eng = engine(netpol("shop", "deny", ingress=[]))
    assert not allowed(eng, TOOLS, DB, 5432)


def test_rule_without_from_admits_all_sources_on_its_ports() -> None:
    eng = engine(netpol("shop", "pg", labels(app="db"), ingress=[{"ports": [{"port": 5432}]}]))
    assert allowed(eng, TOOLS, DB, 5432)
    assert not allowed(eng, TOOLS, DB, 9187)


def test_rule_without_ports_admits_all_ports_and_protocols() -> None:
    eng = engine(netpol("shop", "from-web", labels(app="db"),
                        ingress=[{"from": [{"podSelector": labels(app="web")}]}]))
    assert allowed(eng, WEB, DB, 1)
    assert allowed(eng, WEB, DB, 53, "UDP")
    assert not allowed(eng, API, DB, 5432)


def test_rules_are_ored_across_policies() -> None:
    eng = engine(
        netpol("shop", "from-web", labels(app="db"),
               ingress=[{"from": [{"podSelector": labels(app="web")}]}]),
        netpol("shop", "from-api", labels(app="db"),
               ingress=[{"from": [{"podSelector": labels(app="api")}]}]),
    )
    assert allowed(eng, WEB, DB, 5432)
    assert allowed(eng, API, DB, 5432)
    assert not allowed(eng, TOOLS, DB, 5432)


# --- peers ---------------------------------------------------------------------------------

ALICE_NS = namespace("alice-ns", user="alice")
BOB_NS = namespace("bob-ns", user="bob")
ALICE_CLIENT = pod("alice-ns", "client", "10.244.3.1", {"role": "client"})
ALICE_OTHER = pod("alice-ns", "other", "10.244.3.2", {"role": "other"})
BOB_CLIENT = pod("bob-ns", "client", "10.244.3.3", {"role": "client"})
SHOP_CLIENT = pod("shop", "client", "10.244.3.4", {"role": "client"})
PEER_PODS = [DB, ALICE_CLIENT, ALICE_OTHER, BOB_CLIENT, SHOP_CLIENT]
PEER_NAMESPACES = [*NAMESPACES, ALICE_NS, BOB_NS]

AND_PEER = [{"namespaceSelector": labels(user="alice"), "podSelector": labels(role="client")}]
OR_PEERS = [{"namespaceSelector": labels(user="alice")}, {"podSelector": labels(role="client")}]


@pytest.mark.parametrize(
    ("peers", "source", "expected"),
    [
        # docs: "namespaceSelector and podSelector" in ONE peer = AND
        (AND_PEER, ALICE_CLIENT, True),
        (AND_PEER, ALICE_OTHER, False),
        (AND_PEER, BOB_CLIENT, False),
        (AND_PEER, SHOP_CLIENT, False),
        # two peers = OR: any pod of alice-ns, or role=client pods of the policy's namespace
        (OR_PEERS, ALICE_CLIENT, True),
        (OR_PEERS, ALICE_OTHER, True),
        (OR_PEERS, SHOP_CLIENT, True),
        (OR_PEERS, BOB_CLIENT, False),
        # podSelector alone: only the policy's namespace
        ([{"podSelector": labels(role="client")}], SHOP_CLIENT, True),
        ([{"podSelector": labels(role="client")}], BOB_CLIENT, False),
        # namespaceSelector {} with a podSelector: that pod label in every namespace
        ([{"namespaceSelector": {}, "podSelector": labels(role="client")}], BOB_CLIENT, True),
        ([{"namespaceSelector": {}, "podSelector": labels(role="client")}], ALICE_OTHER, False),
        # namespaceSelector alone: all pods of matching namespaces
        ([{"namespaceSelector": {"matchExpressions": [
            {"key": "user", "operator": "In", "values": ["bob"]}]}}], BOB_CLIENT, True),
        ([{"namespaceSelector": {"matchExpressions": [
            {"key": "user", "operator": "In", "values": ["bob"]}]}}], ALICE_CLIENT, False),
        ([{"namespaceSelector": {"matchExpressions": [
            {"key": "user", "operator": "Exists"}]}}], SHOP_CLIENT, False),
        ([{"namespaceSelector": {"matchExpressions": [
            {"key": "user", "operator": "DoesNotExist"}]}}], SHOP_CLIENT, True),
        ([{"podSelector": {"matchExpressions": [
            {"key": "role", "operator": "NotIn", "values": ["client"]}]}}], SHOP_CLIENT, False),
    ],
)
def test_peer_semantics(peers: list, source: dict, expected: bool) -> None:
    eng = PolicyEngine(PEER_NAMESPACES, PEER_PODS,
                       [netpol("shop", "p", labels(app="db"), ingress=[{"from": peers}])])
    assert allowed(eng, source, DB, 5432) is expected


def test_namespace_name_label_is_added_when_absent() -> None:
    # the export's namespace has no labels at all; since 1.22 the apiserver adds the name label
    policy = netpol("shop", "from-ops", labels(app="db"), ingress=[{"from": [
        {"namespaceSelector": labels(**{"kubernetes.io/metadata.name": "ops"})}]}])
    eng = PolicyEngine([{"metadata": {"name": "ops"}}, {"metadata": {"name": "shop"}}], PODS,
                       [policy])
    assert allowed(eng, TOOLS, DB, 5432)
    assert not allowed(eng, WEB, DB, 5432)


def test_namespace_missing_from_export_still_has_its_name_label() -> None:
    policy = netpol("shop", "from-ops", labels(app="db"), ingress=[{"from": [
        {"namespaceSelector": labels(**{"kubernetes.io/metadata.name": "ops"})}]}])
    assert allowed(PolicyEngine([], PODS, [policy]), TOOLS, DB, 5432)


def test_ip_block_with_except_from_docs() -> None:
    policy = netpol("shop", "ext", labels(app="db"), ingress=[{"from": [
        {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}}]}])
    eng = engine(policy)
    assert allowed(eng, "172.17.0.5", DB, 5432)
    assert not allowed(eng, "172.17.1.5", DB, 5432)
    assert not allowed(eng, "8.8.8.8", DB, 5432)


def test_ip_block_matches_pod_ips_like_upstream_e2e() -> None:
    policy = netpol("shop", "by-ip", labels(app="db"), ingress=[{"from": [
        {"ipBlock": {"cidr": "10.244.1.2/32"}}]}])
    eng = engine(policy)
    assert allowed(eng, WEB, DB, 5432)
    assert not allowed(eng, API, DB, 5432)


def test_ip_overlapping_cidr_and_except_is_allowed_by_another_peer() -> None:
    # upstream e2e: "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is
    # allowed" - peers are ORed, so another peer admitting the address wins
    policy = netpol("shop", "overlap", labels(app="db"), ingress=[{"from": [
        {"ipBlock": {"cidr": "10.244.0.0/16", "except": ["10.244.1.0/24"]}},
        {"ipBlock": {"cidr": "10.244.1.2/32"}}]}])
    verdict = engine(policy).evaluate(WEB, DB, 5432)
    assert verdict.allowed
    assert [m.peer_index for m in verdict.ingress.matched] == [1]


def test_ip_block_ipv6_and_family_mismatch() -> None:
    dual = pod("shop", "dual", ["10.244.5.5", "fd00:10:244::5"], {"app": "dual"})
    policy = netpol("shop", "v6", labels(app="db"), ingress=[{"from": [
        {"ipBlock": {"cidr": "fd00:10:244::/64"}}]}])
    eng = engine(policy, pods=[*PODS, dual])
    assert allowed(eng, "fd00:10:244::77", DB, 5432)
    assert not allowed(eng, "10.244.5.77", DB, 5432)
    assert allowed(eng, dual, DB, 5432, src_ip="fd00:10:244::5")
    assert not allowed(eng, dual, DB, 5432, src_ip="10.244.5.5")


# --- ports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("port_spec", "port", "protocol", "expected"),
    [
        ({"port": 5432}, 5432, "TCP", True),
        ({"port": 5432}, 5433, "TCP", False),
        ({"port": 5432}, 5432, "UDP", False),  # protocol defaults to TCP
        ({"protocol": "UDP", "port": 53}, 53, "UDP", True),
        ({"protocol": "UDP", "port": 53}, 53, "TCP", False),
        ({"protocol": "SCTP", "port": 3868}, 3868, "SCTP", True),
        ({"protocol": "SCTP", "port": 3868}, 3868, "TCP", False),
        ({"protocol": "UDP"}, 4000, "UDP", True),  # protocol without port: all its ports
        ({"protocol": "UDP"}, 4000, "TCP", False),
        # endPort range from the docs, inclusive at both ends
        ({"port": 32000, "endPort": 32768}, 32000, "TCP", True),
        ({"port": 32000, "endPort": 32768}, 32768, "TCP", True),
        ({"port": 32000, "endPort": 32768}, 31999, "TCP", False),
        ({"port": 32000, "endPort": 32768}, 32769, "TCP", False),
        # named port resolved on the destination pod's containers with the same protocol
        ({"port": "postgres"}, 5432, "TCP", True),
        ({"port": "postgres"}, 9187, "TCP", False),
        ({"protocol": "UDP", "port": "postgres"}, 5432, "UDP", False),
        ({"port": "unknown-name"}, 5432, "TCP", False),
    ],
)
def test_port_semantics(port_spec: dict, port: int, protocol: str, expected: bool) -> None:
    eng = engine(netpol("shop", "ports", labels(app="db"), ingress=[{"ports": [port_spec]}]))
    assert allowed(eng, WEB, DB, port, protocol) is expected


def test_caller_may_name_the_port_of_the_destination() -> None:
    eng = engine(netpol("shop", "pg", labels(app="db"), ingress=[{"ports": [{"port": 5432}]}]))
    verdict = eng.evaluate(WEB, DB, "postgres")
    assert verdict.allowed and verdict.port == 5432 and verdict.port_name == "postgres"
    assert not eng.evaluate(WEB, DB, "metrics").allowed


def test_named_port_in_egress_rule_resolves_on_destination() -> None:
    # web itself has no port called postgres: the name is looked up on the destination
    policy = netpol("shop", "web-out", labels(app="web"), types=["Egress"],
                    egress=[{"ports": [{"port": "postgres"}]}])
    eng = engine(policy)
    assert allowed(eng, WEB, DB, 5432)
    assert not allowed(eng, WEB, API, 5432)  # api has no container port named postgres
    # a non-pod destination can never match a named port
    assert not allowed(eng, WEB, "10.9.9.9", 5432)


def test_named_port_matches_sidecar_init_container_ports() -> None:
    sidecar = pod("shop", "meshed", "10.244.1.50", {"app": "meshed"})
    sidecar["spec"]["initContainers"] = [{"name": "proxy", "restartPolicy": "Always",
                                          "ports": [{"name": "admin", "containerPort": 15000}]}]
    policy = netpol("shop", "admin", labels(app="meshed"), ingress=[{"ports": [{"port": "admin"}]}])
    eng = engine(policy, pods=[*PODS, sidecar])
    assert allowed(eng, WEB, sidecar, 15000)
    assert not allowed(eng, WEB, sidecar, 15001)


# --- both directions -----------------------------------------------------------------------


def test_ingress_and_egress_must_both_allow() -> None:
    ingress_ok = netpol("shop", "db-in", labels(app="db"),
                        ingress=[{"from": [{"podSelector": labels(app="web")}]}])
    egress_block = netpol("shop", "web-out", labels(app="web"), types=["Egress"])
    verdict = engine(ingress_ok, egress_block).evaluate(WEB, DB, 5432)
    assert verdict.ingress.allowed and not verdict.egress.allowed and not verdict.allowed

    egress_ok = netpol("shop", "web-out", labels(app="web"), types=["Egress"],
                       egress=[{"to": [{"podSelector": labels(app="db")}]}])
    ingress_block = netpol("shop", "db-in", labels(app="db"), ingress=[])
    verdict = engine(egress_ok, ingress_block).evaluate(WEB, DB, 5432)
    assert verdict.egress.allowed and not verdict.ingress.allowed and not verdict.allowed

    verdict = engine(ingress_ok, egress_ok).evaluate(WEB, DB, 5432)
    assert verdict.allowed


def test_dns_egress_to_kube_dns() -> None:
    kube_dns = pod("kube-system", "coredns-1", "10.244.0.10", {"k8s-app": "kube-dns"})
    other_system = pod("kube-system", "metrics-server", "10.244.0.11", {"k8s-app": "metrics"})
    policies = [
        netpol("shop", "default-deny-egress", types=["Egress"]),
        netpol("shop", "allow-dns", types=["Egress"], egress=[{
            "to": [{"namespaceSelector": labels(**{"kubernetes.io/metadata.name": "kube-system"}),
                    "podSelector": labels(**{"k8s-app": "kube-dns"})}],
            "ports": [{"protocol": "UDP", "port": 53}],
        }]),
    ]
    eng = PolicyEngine([*NAMESPACES, namespace("kube-system")], [*PODS, kube_dns, other_system],
                       policies)
    verdict = eng.evaluate(WEB, kube_dns, 53, "UDP")
    assert verdict.allowed
    assert verdict.egress.matched[0].policy == "shop/allow-dns"
    assert not allowed(eng, WEB, kube_dns, 53, "TCP")
    assert not allowed(eng, WEB, other_system, 53, "UDP")
    assert not allowed(eng, WEB, "8.8.8.8", 53, "UDP")
    assert allowed(eng, "10.244.1.2", "10.244.0.10", 53, "UDP")  # IPs resolve to the pods


# --- special endpoints ---------------------------------------------------------------------

NODE_AGENT = pod("ops", "node-agent", "192.168.1.11", {"app": "agent"}, node="node-b",
                 host_ip="192.168.1.11", host_network=True)
REMOTE_AGENT = pod("ops", "remote-agent", "192.168.1.12", {"app": "agent"}, node="node-c",
                   host_ip="192.168.1.12", host_network=True)


def test_host_network_destination_is_not_subject_to_policy() -> None:
    eng = engine(netpol("ops", "deny-all", types=["Ingress", "Egress"]),
                 pods=[*PODS, NODE_AGENT])
    verdict = eng.evaluate(WEB, NODE_AGENT, 9100)
    assert verdict.allowed
    assert not verdict.ingress.applicable and "hostNetwork" in verdict.ingress.reason
    assert not allowed(eng, WEB, TOOLS, 22)  # normal ops pods are isolated


def test_host_network_source_is_the_node_for_peers() -> None:
    by_label = netpol("shop", "from-agents", labels(app="db"), ingress=[{"from": [
        {"namespaceSelector": {}, "podSelector": labels(app="agent")}]}])
    eng = engine(by_label, pods=[*PODS, NODE_AGENT, REMOTE_AGENT])
    verdict = eng.evaluate(REMOTE_AGENT, DB, 5432)
    assert not verdict.allowed  # pod selectors never match a hostNetwork pod
    assert not verdict.egress.applicable
    assert any("hostNetwork" in note for note in verdict.notes)

    by_ip = netpol("shop", "from-nodes", labels(app="db"), ingress=[{"from": [
        {"ipBlock": {"cidr": "192.168.1.0/24"}}]}])
    assert allowed(engine(by_ip, pods=[*PODS, REMOTE_AGENT]), REMOTE_AGENT, DB, 5432)


def test_traffic_from_own_node_is_always_allowed() -> None:
    eng = engine(netpol("shop", "deny", labels(app="db"), ingress=[]),
                 pods=[*PODS, NODE_AGENT, REMOTE_AGENT])
    verdict = eng.evaluate("192.168.1.11", DB, 5432)  # db runs on node-b = 192.168.1.11
    assert verdict.allowed and verdict.ingress.isolated
    assert "node" in verdict.ingress.reason
    assert allowed(eng, NODE_AGENT, DB, 5432)  # hostNetwork pod on the same node
    assert not allowed(eng, "192.168.1.12", DB, 5432)  # another node
    assert not allowed(eng, REMOTE_AGENT, DB, 5432)


def test_pod_to_itself_is_always_allowed() -> None:
    eng = engine(netpol("shop", "deny-all", types=["Ingress", "Egress"]))
    verdict = eng.evaluate(DB, DB, 5432)
    assert verdict.allowed and verdict.ingress.isolated and verdict.egress.isolated
    assert "itself" in verdict.ingress.reason
    assert not allowed(eng, WEB, DB, 5432)


def test_ip_reuse_terminated_pod_is_not_the_owner() -> None:
    finished = pod("shop", "job-x", "10.244.7.7", {"app": "db"}, phase="Succeeded")
    current = pod("ops", "newcomer", "10.244.7.7", {"app": "new"})
    eng = engine(netpol("shop", "from-db", labels(app="db"),
                        ingress=[{"from": [{"podSelector": labels(app="db")}]}]),
                 pods=[*PODS, finished, current])
    verdict = eng.evaluate("10.244.7.7", DB, 5432)
    assert verdict.src == "ops/newcomer" and not verdict.allowed
    assert any("is pod ops/newcomer" in note for note in verdict.notes)


def test_terminated_or_ipless_pod_given_directly_gets_a_note() -> None:
    finished = pod("shop", "job-x", None, {"app": "job"}, phase="Succeeded")
    verdict = engine().evaluate(finished, DB, 5432)
    assert any("phase Succeeded" in note for note in verdict.notes)
    assert any("has no IP" in note for note in verdict.notes)


def test_multus_secondary_network_is_not_policed() -> None:
    status = json.dumps([
        {"name": "cbr0", "interface": "eth0", "ips": ["10.244.2.4"], "default": True},
        {"name": "shop/storage-net", "interface": "net1", "ips": ["172.30.0.4"]},
    ])
    db = pod("shop", "db-0", "10.244.2.4", {"app": "db"}, node="node-b",
             host_ip="192.168.1.11",
             annotations={"k8s.v1.cni.cncf.io/network-status": status})
    eng = engine(netpol("shop", "deny", labels(app="db"), ingress=[]),
                 pods=[WEB, API, db, TOOLS])
    assert not allowed(eng, WEB, db, 5432)
    verdict = eng.evaluate(WEB, db, 5432, dst_ip="172.30.0.4")
    assert verdict.allowed and not verdict.ingress.applicable
    assert any("secondary networks" in note for note in verdict.notes)
    assert allowed(eng, "172.30.0.9", "172.30.0.4", 5432)
    assert allowed(eng, WEB, db, 5432, secondary_network=True)


# --- replies -------------------------------------------------------------------------------


def test_reply_of_allowed_connection_is_allowed() -> None:
    eng = engine(
        netpol("shop", "deny-all", types=["Ingress", "Egress"]),
        netpol("shop", "web-to-db", labels(app="web"), types=["Egress"],
               egress=[{"to": [{"podSelector": labels(app="db")}]}]),
        netpol("shop", "db-from-web", labels(app="db"),
               ingress=[{"from": [{"podSelector": labels(app="web")}]}]),
    )
    forward = eng.evaluate(WEB, DB, 5432)
    assert forward.allowed and forward.return_traffic_allowed
    # the reply packet db:5432 -> web would be denied as a new connection...
    assert not eng.evaluate(DB, WEB, 5432).allowed
    # ...but as a reply it is allowed
    reply = eng.evaluate(DB, WEB, 5432, reply=True)
    assert reply.allowed and reply.reply
    assert (reply.src, reply.dst) == ("shop/web-1", "shop/db-0")
    assert any("replies of an allowed connection" in note for note in reply.notes)
    assert reply.explain().startswith("allowed (reply): shop/db-0 -> shop/web-1 answers the "
                                      "allowed connection shop/web-1 -> shop/db-0 TCP 5432")
    assert eng.evaluate(DB, WEB, "postgres", reply=True).port == 5432


def test_reply_of_denied_connection_is_denied() -> None:
    eng = engine(DEFAULT_DENY)
    reply = eng.evaluate(DB, WEB, 5432, reply=True)
    assert not reply.allowed and not reply.return_traffic_allowed
    assert reply.explain().startswith("denied (reply): the connection shop/web-1 -> shop/db-0 "
                                      "TCP 5432 (postgres) is denied: ingress to shop/db-0 "
                                      "isolated by "
                                      "shop/default-deny, which has no ingress rule")


# --- output --------------------------------------------------------------------------------


def test_deny_reason_text() -> None:
    eng = engine(
        netpol("shop", "default-deny", types=["Ingress"]),
        netpol("shop", "allow-web", labels(app="db"), ingress=[{
            "from": [{"podSelector": labels(app="web")}], "ports": [{"port": 8080}]}]),
    )
    verdict = eng.evaluate(WEB, DB, 5432)
    assert verdict.explain().splitlines()[0] == (
        "denied: ingress to shop/db-0 isolated by shop/default-deny and shop/allow-web; "
        "no rule of shop/allow-web admits TCP 5432 from shop/web-1"
    )
    assert verdict.ingress.near_misses == [
        "shop/allow-web rule 0 matches shop/web-1 but admits only TCP 8080"]


def test_allow_reason_names_the_rule() -> None:
    eng = engine(netpol("shop", "allow-web", labels(app="db"), ingress=[{
        "from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}, {"podSelector": labels(app="web")}],
        "ports": [{"port": 80}, {"port": "postgres"}]}]))
    verdict = eng.evaluate(WEB, DB, 5432)
    assert verdict.allowed
    assert [(m.peer_index, m.port_index) for m in verdict.ingress.matched] == [(0, 1), (1, 1)]
    assert "shop/allow-web rule 0 (peer 1: pods app=web in shop; port 1: TCP port 'postgres')" \
        in verdict.ingress.reason
    assert verdict.explain().startswith("allowed: shop/web-1 -> shop/db-0 TCP 5432 (postgres)")


def test_json_shape() -> None:
    verdict = engine(DEFAULT_DENY).evaluate(WEB, DB, 5432)
    assert isinstance(verdict, Verdict)
    data = json.loads(json.dumps(verdict.to_dict()))
    assert data["allowed"] is False
    assert {"allowed", "ingress", "egress", "notes", "src", "dst", "port", "protocol",
            "return_traffic_allowed"} <= set(data)
    for section in ("ingress", "egress"):
        assert {"applicable", "isolated", "policies", "allowed", "matched", "reason"} \
            <= set(data[section])
    assert data["ingress"]["policies"] == ["shop/default-deny"]
    allowed_json = engine(netpol("shop", "all", ingress=[{}])).evaluate(WEB, DB, 5432).to_dict()
    assert allowed_json["ingress"]["matched"] == [{
        "policy": "shop/all", "rule_index": 0, "peer_index": None, "port_index": None,
        "peer": "any", "port": "any"}]


# --- malformed input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_spec", "message"),
    [
        ({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Equals",
                                                "values": ["b"]}]}}, "operator 'Equals'"),
        ({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchExpressions": [
            {"key": "a", "operator": "In", "values": []}]}}]}]}, "needs at least one value"),
        ({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.300/8"}}]}]},
         "not a valid CIDR"),
        ({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {
            "cidr": "10.0.0.0/16", "except": ["10.1.0.0/24"]}}]}]}, "strict subset"),
        ({"podSelector": {}, "ingress": [{"ports": [{"port": "http", "endPort": 90}]}]},
         "endPort needs a numeric port"),
        ({"podSelector": {}, "ingress": [{"ports": [{"port": 90, "endPort": 80}]}]},
         "below port"),
        ({"podSelector": {}, "ingress": [{"ports": [{"protocol": "ICMP"}]}]}, "ICMP"),
        ({"podSelector": {}, "ingress": [{"from": [{}]}]}, "a peer needs"),
        ({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"},
                                                    "podSelector": {}}]}]}, "cannot be combined"),
        ({"podSelector": {}, "policyTypes": ["Inbound"]}, "policyTypes"),
    ],
)
def test_malformed_policy_is_skipped_with_warning(bad_spec: dict, message: str,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    bad = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": "broken", "namespace": "shop"}, "spec": bad_spec}
    with caplog.at_level(logging.WARNING, logger="pcapkit.cluster.policy.engine"):
        eng = engine(bad, netpol("shop", "deny-db", labels(app="db"), ingress=[]))
    assert any("shop/broken" in r.getMessage() and message in r.getMessage()
               for r in caplog.records)
    verdict = eng.evaluate(WEB, DB, 5432)
    assert not verdict.allowed  # the valid policy still applies
    assert verdict.ingress.policies == ["shop/deny-db"]
    assert any("shop/broken" in note and "skipped" in note for note in verdict.notes)


def test_skipped_policy_of_unrelated_namespace_is_not_noted() -> None:
    bad = netpol("elsewhere", "broken", {"matchLabels": {"a": 1}})
    verdict = engine(bad).evaluate(WEB, DB, 5432)
    assert not any("broken" in note for note in verdict.notes)


@pytest.mark.parametrize(
    ("src", "dst", "port", "message"),
    [
        ("not-an-ip", DB, 5432, "neither a pod nor an IP"),
        ("shop/ghost", DB, 5432, "no such pod"),
        (WEB, DB, 70000, "outside 1-65535"),
        (WEB, DB, "nope", "no TCP container port named 'nope'"),
        (WEB, "10.1.1.1", "http", "needs a pod destination"),
        ({"metadata": {}}, DB, 5432, "no metadata.name"),
        (42, DB, 5432, "must be a pod object"),
    ],
)
def test_bad_evaluation_input_raises_clear_error(src, dst, port, message: str) -> None:
    with pytest.raises(PcapkitError, match=message):
        engine().evaluate(src, dst, port)


def test_pod_reference_by_name() -> None:
    eng = engine(DEFAULT_DENY)
    assert eng.evaluate("shop/web-1", "shop/db-0", 5432).ingress.policies == ["shop/default-deny"]


def test_non_l4_protocol_gets_a_note() -> None:
    eng = engine(netpol("shop", "p", labels(app="db"), ingress=[{"ports": [{"port": 80}]}]))
    verdict = eng.evaluate(WEB, DB, 0, "ICMP")
    assert not verdict.allowed
    assert any("behaviour varies" in note for note in verdict.notes)


# --- CNI policies (counted, not evaluated) -------------------------------------------------


def test_cilium_and_calico_policies_are_mentioned_per_selected_pod() -> None:
    other = [
        {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
         "metadata": {"name": "l7-db", "namespace": "shop"},
         "spec": {"endpointSelector": {"matchLabels": {"k8s:app": "db"}}}},
        {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
         "metadata": {"name": "all-shop", "namespace": "shop"},
         "specs": [{"endpointSelector": {}}]},
        {"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
         "metadata": {"name": "ops-only", "namespace": "ops"},
         "spec": {"endpointSelector": {}}},
        {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
         "metadata": {"name": "complex"}, "spec": {"selector": "app == 'db' || app == 'x'"}},
    ]
    verdict = engine(other=other).evaluate(WEB, DB, 5432)
    assert ("shop/db-0 is also subject to 2 CiliumNetworkPolicies (shop/l7-db, shop/all-shop) "
            "that pcapkit does not evaluate") in verdict.notes
    assert ("shop/web-1 is also subject to 1 CiliumNetworkPolicy (shop/all-shop) that pcapkit "
            "does not evaluate") in verdict.notes
    assert any("may also be subject to 1 GlobalNetworkPolicy (complex)" in n
               for n in verdict.notes)
    assert any("also holds 1 CiliumNetworkPolicy" in n for n in verdict.notes)


def test_calico_network_policy_in_policy_list_is_not_evaluated() -> None:
    calico = {"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
              "metadata": {"name": "deny-db", "namespace": "shop"},
              "spec": {"selector": "app == 'db'", "types": ["Ingress"]}}
    verdict = engine(calico).evaluate(WEB, DB, 5432)
    assert verdict.allowed  # not evaluated
    assert any("1 Calico NetworkPolicy (shop/deny-db)" in n for n in verdict.notes)


def test_egress_to_own_node_is_allowed_with_a_note() -> None:
    eng = engine(netpol("shop", "deny-egress", labels(app="db"), types=["Egress"]),
                 pods=[*PODS, NODE_AGENT])
    verdict = eng.evaluate(DB, "192.168.1.11", 10250)  # db's own node (kubelet)
    assert verdict.allowed and verdict.egress.isolated
    assert any("some CNIs" in note for note in verdict.notes)
    assert any("address of node node-b" in note for note in verdict.notes)
    assert not allowed(eng, DB, "192.168.1.10", 10250)  # another node


def test_non_networkpolicy_object_in_policy_list_is_ignored(
        caplog: pytest.LogCaptureFixture) -> None:
    ingress_obj = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                   "metadata": {"name": "web", "namespace": "shop"}, "spec": {}}
    with caplog.at_level(logging.WARNING, logger="pcapkit.cluster.policy.engine"):
        eng = engine(ingress_obj)
    assert allowed(eng, WEB, DB, 5432) and not eng.policies
    assert any("Ingress shop/web" in r.getMessage() for r in caplog.records)
