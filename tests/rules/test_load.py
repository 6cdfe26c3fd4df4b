"""Loading rule packs: Sigma parsed by pySigma, checked against the registry, never run."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcapkit.rules import load_rules
from pcapkit.rules.load import core_rules_dir

GOOD = """
title: Slow answers
id: 5d3c1a8e-0000-4000-8000-000000000001
status: test
logsource: {product: pcapkit, category: dns}
detection:
  slow: {latency_s|gt: 0.5}
  condition: slow
level: medium
pcapkit:
  category: dns-latency
  group_by: [orig_h, qname]
  summary: "{count} slow answers for {qname} to {orig_h}"
  remediation: Look at the DNS server's load.
"""


def write(tmp_path: Path, text: str, name: str = "rule.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    pack = load_rules([write(tmp_path, text)], core=False)
    return [str(p) for p in pack.problems]


def test_a_good_rule_loads_with_its_metadata(tmp_path) -> None:
    pack = load_rules([write(tmp_path, GOOD)], core=False)
    assert pack.problems == []
    (rule,) = pack.rules
    assert (rule.table, rule.level, rule.category) == ("dns", "medium", "dns-latency")
    assert rule.group_by == ("orig_h", "qname")
    assert rule.evidence == ("query_packet_id", "response_packet_id", "nat_query_packet_id",
                             "nat_response_packet_id")


@pytest.mark.parametrize(("change", "message"), [
    (("category: dns}", "category: dnss}"), "logsource.category 'dnss' is no pcapkit table"),
    (("product: pcapkit", "product: windows"), "not 'pcapkit'"),
    (("latency_s|gt", "latencys|gt"), "did you mean latency_s"),
    (("latency_s|gt: 0.5", "qname|gt: 0.5"), "comparisons need an integer, float or time column"),
    (("latency_s|gt: 0.5", "qname|re: '(a)\\1'"), "invalid"),
    (("group_by: [orig_h, qname]", "group_by: [orig_host]"), "did you mean orig_h"),
    (("{count} slow", "{count.__class__} slow"), "plain column name"),
    (("{count} slow", "{nope} slow"), "has no column 'nope'"),
    (("  remediation: Look at the DNS server's load.\n", ""), "remediation must be"),
    (("level: medium", "level: severe"), "not a valid Sigma rule"),
    (("  category: dns-latency", "  category: dns-latency\n  evidence: [qname]"),
     "evidence columns are flow_id"),
    (("  category: dns-latency", "  category: dns-latency\n  run: os.system"), "unknown pcapkit keys"),
    (("  category: dns-latency", "  category: dns-latency\n  count: retry_off"),
     "did you mean retry_of"),
    (("  category: dns-latency", "  category: dns-latency\n  count: [retry_of]"),
     "pcapkit.count must be one column name"),
])
def test_problems_name_the_file_rule_and_field(tmp_path, change, message) -> None:
    old, new = change
    assert old in GOOD
    found = problems(tmp_path, GOOD.replace(old, new))
    assert len(found) >= 1 and any(message in p for p in found), found
    assert all(str(tmp_path / "rule.yml") in p for p in found)


def test_a_bad_regex_is_reported_in_text_not_bytes(tmp_path) -> None:
    (found,) = problems(tmp_path, GOOD.replace("latency_s|gt: 0.5", "qname|re: 'svc(\\.'"))
    assert found.endswith("Slow answers: Regular expression 'svc(\\.' is invalid: "
                          "missing ): svc(\\."), found
    assert "b'" not in found


def test_yaml_cannot_build_python_objects(tmp_path) -> None:
    hostile = GOOD.replace("title: Slow answers", "title: !!python/object/apply:os.system [id]")
    found = problems(tmp_path, hostile)
    assert found and "not readable YAML" in found[0]


def test_duplicate_ids_and_missing_paths_are_reported(tmp_path) -> None:
    write(tmp_path, GOOD, "a.yml")
    write(tmp_path, GOOD, "b.yml")
    pack = load_rules([tmp_path, tmp_path / "missing"], core=False)
    assert len(pack.rules) == 1
    assert any("already used" in str(p) for p in pack.problems)
    assert any("no such rule file" in str(p) for p in pack.problems)


def test_correlation_rules_load(tmp_path) -> None:
    text = GOOD.replace("title: Slow answers", "title: Slow answers\nname: slow_answers") + """
---
title: Bursts of slow answers
id: 5d3c1a8e-0000-4000-8000-000000000002
status: test
correlation:
  type: event_count
  rules: [slow_answers]
  group-by: [orig_h]
  timespan: 1m
  condition: {gte: 3}
level: high
pcapkit:
  category: dns-latency
  summary: "{count} slow answers to {orig_h} within a minute"
  remediation: Look at the DNS server's load.
"""
    pack = load_rules([write(tmp_path, text)], core=False)
    assert pack.problems == []
    (rule,) = pack.rules
    assert rule.title == "Bursts of slow answers" and rule.level == "high"
    assert rule.correlation.type == "event_count" and rule.correlation.timespan_s == 60
    assert rule.correlation.count == 3 and rule.group_by == ("orig_h",)


def test_the_core_pack_ships_as_package_data_and_lints_clean() -> None:
    assert core_rules_dir().is_dir()
    pack = load_rules()
    assert pack.problems == [] and pack.rules
    assert all(rule.tests for rule in pack.rules), "every core rule has regression cases"


def test_libyaml_reads_every_pack_file_as_pyyaml_does() -> None:
    """The C parser (when installed) gives the same documents as ``yaml.safe_load_all``."""
    import yaml

    from pcapkit.rules.load import _yaml_documents

    files = sorted(core_rules_dir().glob("*.yml"))
    assert len(files) > 20
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert _yaml_documents(text) == [d for d in yaml.safe_load_all(text) if d is not None]


def test_broken_yaml_reports_pyyaml_message_with_the_line(tmp_path) -> None:
    import yaml

    broken = GOOD.replace("slow: {latency_s|gt: 0.5}", "slow: {latency_s|gt: 0.5")
    try:
        yaml.safe_load(broken)
    except yaml.YAMLError as exc:
        expected = str(exc)
    (found,) = problems(tmp_path, broken)
    assert found == f"{tmp_path / 'rule.yml'}: -: not readable YAML: {expected}"
    assert "^" in found  # the offending line is quoted, as PyYAML's own parser does
