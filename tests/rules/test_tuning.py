"""Site tuning: disable a rule, change its level, exclude namespaces, workloads, networks."""

from __future__ import annotations

from pathlib import Path

import pytest

import pcapkit
from pcapkit.errors import PcapkitError
from pcapkit.rules import load_rules, load_tuning, run_rules

ROOT = Path(__file__).resolve().parents[2]
RULE_ID = "0b9d7c5e-3f8a-4d0e-9c61-2a7f1e4b5d10"   # core: DNS queries never answered


@pytest.fixture(scope="module")
def lost() -> pcapkit.Capture:
    return pcapkit.open([ROOT / "fixtures" / "dnstx" / "unanswered-mid.pcap"])


def tuned(tmp_path: Path, text: str):
    path = tmp_path / "tuning.yml"
    path.write_text(text)
    return load_tuning(path)


def test_untuned_the_rule_fires(lost) -> None:
    assert len(run_rules(lost, load_rules().rules)) == 1


@pytest.mark.parametrize(("text", "count", "level"), [
    (f"disable: [{RULE_ID}]", 0, None),
    (f"level: {{{RULE_ID}: low}}", 1, "low"),
    ("exclude: {cidrs: [10.244.1.0/24]}", 0, None),
    ("exclude: {cidrs: [10.96.0.10/32]}", 0, None),          # either end
    ("exclude: {cidrs: ['fd00::/8']}", 1, "high"),
    (f"exclude: {{rules: {{{RULE_ID}: {{cidrs: [10.0.0.0/8]}}}}}}", 0, None),
    ("exclude: {rules: {another-rule: {cidrs: [10.0.0.0/8]}}}", 1, "high"),
    ("exclude: {namespaces: [shop]}", 1, "high"),             # no cluster: no namespaces
])
def test_tuning_changes_what_is_reported(tmp_path, lost, text, count, level) -> None:
    found = run_rules(lost, load_rules().rules, tuned(tmp_path, text))
    assert len(found) == count
    if level:
        assert found[0].severity == level


def test_exclusions_by_namespace_and_workload_use_the_cluster(tmp_path) -> None:
    dnat = ROOT / "fixtures" / "kernel-dnat"
    capture = pcapkit.open([dnat / "node1-any.pcap", dnat / "node2-eth0.pcap"],
                           snapshot=dnat / "cluster.json")
    rules = load_rules().rules
    baseline = run_rules(capture, rules)
    assert baseline and all(f.src["namespace"] for f in baseline)
    namespace = baseline[0].src["namespace"]
    workload = baseline[0].src["workload"]
    assert run_rules(capture, rules, tuned(tmp_path, f"exclude: {{namespaces: [{namespace}]}}")) \
        == [f for f in baseline if f.src["namespace"] != namespace]
    pattern = workload.split("/")[0] + "/*"
    assert not [f for f in run_rules(capture, rules, tuned(
        tmp_path, f"exclude: {{workloads: ['{pattern}']}}")) if f.src["workload"] == workload]


@pytest.mark.parametrize(("text", "message"), [
    ("disabel: [x]", "unknown keys"),
    ("level: {x: severe}", "level maps rule ids"),
    ("exclude: {cidrs: [not-a-net]}", "cidrs"),
    ("exclude: {pods: [x]}", "expected keys"),
    ("- a list", "a mapping"),
])
def test_bad_tuning_files_are_clear_errors(tmp_path, text, message) -> None:
    with pytest.raises(PcapkitError, match=message):
        tuned(tmp_path, text)
