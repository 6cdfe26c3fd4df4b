"""policy_conflicts: contradictions and empty selectors of the snapshot's NetworkPolicies,
each with the observed traffic it hit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import pcapkit
from pcapkit.schema import table
from pcapkit.schema.convert import mismatches

POLICY = Path(__file__).resolve().parents[2] / "fixtures" / "policy"


def _conflicts(paths: Path, snapshot: Path | None) -> pd.DataFrame:
    for path in (paths, *([snapshot] if snapshot else [])):
        assert path.exists(), f"committed fixture {path} is missing"
    frame = pcapkit.open([paths], snapshot=snapshot).table("policy_conflicts")
    assert mismatches(frame, table("policy_conflicts")) == []
    return frame


@pytest.fixture(scope="module")
def conflicts() -> dict[tuple, pd.Series]:
    frame = _conflicts(POLICY / "kernel", POLICY / "cluster.json")
    return {(r["problem"], r["policy"], None if pd.isna(r["rule_index"]) else
             int(r["rule_index"])): r for _, r in frame.iterrows()}


def test_every_problem_once(conflicts) -> None:
    assert sorted(conflicts) == sorted([
        ("egress_denied_by_ingress", "shop/client-egress", 0),
        ("egress_denied_by_ingress", "shop/client-egress", 1),
        ("selector_matches_no_pod", "shop/db-ingress", 0),
        ("selector_matches_no_pod", "shop/client-egress", 3),
        ("selector_matches_no_pod", "shop/metrics-ingress", None),
        ("namespace_not_found", "shop/web-ingress", 1),
    ])


def test_egress_admitted_ingress_denied_cites_the_flow(conflicts) -> None:
    row = conflicts[("egress_denied_by_ingress", "shop/client-egress", 0)]
    assert row["detail"].startswith(
        "shop/client-egress egress rule 0 admits TCP 8080 to pods app=web in shop, but "
        "ingress to shop/web-7d9f8c6b5d-abcde denies it from shop/client-6c9f7b8d4-k2x7q")
    assert "app=front-end" in row["hint"] and "has app=frontend" in row["hint"]
    assert row["hit"] is True and row["flows_hit"] == 1
    assert row["resp_p"] == 8080 and str(row["orig_h"]) == "10.244.1.10"
    assert not pd.isna(row["flow_id"]) and not pd.isna(row["ts"])


def test_a_selector_typo_is_ranked_by_the_denied_attempts_it_explains(conflicts) -> None:
    meant = conflicts[("selector_matches_no_pod", "shop/db-ingress", 0)]
    assert meant["detail"] == ("shop/db-ingress ingress rule 0 peer 0 admits pods app=api "
                               "in shop: no pod matches, so the peer admits nothing")
    assert meant["hit"] is True and meant["resp_p"] == 5432
    unused = conflicts[("selector_matches_no_pod", "shop/metrics-ingress", None)]
    assert unused["hit"] is False and unused["flows_hit"] == 0 and pd.isna(unused["flow_id"])
    assert unused["direction"] == "ingress" and pd.isna(unused["ts"])
    assert "app=web" in unused["hint"]


def test_a_missing_namespace_gets_the_closest_name(conflicts) -> None:
    row = conflicts[("namespace_not_found", "shop/web-ingress", 1)]
    assert row["hint"] == "did you mean monitoring?"
    assert row["hit"] is False      # the denied 8080 attempt is not on this rule's port 9090


@pytest.mark.parametrize("snapshot", [None, POLICY / "cluster-no-policies.json"])
def test_no_policies_no_conflicts(snapshot) -> None:
    assert _conflicts(POLICY / "kernel", snapshot).empty
