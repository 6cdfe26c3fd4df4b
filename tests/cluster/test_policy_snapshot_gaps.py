"""What a verdict says when the snapshot cannot decide: no NetworkPolicy exported at all,
and near misses that show the peer's own label beside the selector that missed it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pcapkit.cli import main
from pcapkit.cluster import load_snapshot
from pcapkit.cluster.policy.explain import explain_connection, policy_engine
from pcapkit.cluster.policy.verdict import NO_POLICIES

POLICY = Path(__file__).resolve().parents[2] / "fixtures" / "policy"
CLIENT, WEB = "10.244.1.10", "10.244.2.10"


def _explain(*args: str) -> CliRunner:
    return CliRunner().invoke(main, ["policy", "explain", *args])


def test_a_snapshot_without_policies_gives_no_plain_allowed() -> None:
    snapshot = POLICY / "cluster-no-policies.json"
    assert snapshot.exists()
    verdict = load_snapshot(snapshot).explain(CLIENT, WEB, "8080/TCP")
    assert verdict.no_policies and verdict.allowed
    assert verdict.explain().startswith(f"no verdict: {NO_POLICIES} (shop/client-")
    assert NO_POLICIES in verdict.notes
    result = _explain("--snapshot", str(snapshot), "--from", CLIENT, "--to", WEB,
                      "--port", "8080/TCP")
    assert result.exit_code == 0 and result.output.startswith("no verdict: no NetworkPolicies")
    data = json.loads(_explain("--snapshot", str(snapshot), "--from", CLIENT, "--to", WEB,
                               "--port", "8080/TCP", "--format", "json").output)
    assert data["no_policies"] is True and data["notes"][0] == NO_POLICIES


def test_a_snapshot_with_policies_keeps_its_verdicts() -> None:
    verdict = load_snapshot(POLICY / "cluster.json").explain("10.244.1.11", WEB, "8080/TCP")
    assert verdict.allowed and not verdict.no_policies
    assert verdict.explain().startswith("allowed: shop/tools-")
    assert NO_POLICIES not in verdict.notes


def test_near_miss_shows_the_peer_label_beside_the_selector() -> None:
    verdict = load_snapshot(POLICY / "cluster.json").explain(CLIENT, WEB, "8080/TCP")
    assert not verdict.allowed and not verdict.ingress.allowed and verdict.egress.allowed
    assert verdict.ingress.near_misses == [
        "shop/web-ingress rule 0 admits TCP 8080 but only from pods app=front-end in shop; "
        "shop/client-6c9f7b8d4-k2x7q has app=frontend"]


def test_one_engine_serves_many_questions() -> None:
    cluster = load_snapshot(POLICY / "cluster.json")
    engine = policy_engine(cluster, None)
    for dst, port, allowed in ((WEB, 8080, False), ("10.244.2.40", 9000, True)):
        shared = explain_connection(cluster, CLIENT, dst, port, "TCP", None, engine)
        alone = explain_connection(cluster, CLIENT, dst, port, "TCP", None)
        assert shared.verdict.to_dict() == alone.verdict.to_dict()
        assert shared.verdict.allowed is allowed
