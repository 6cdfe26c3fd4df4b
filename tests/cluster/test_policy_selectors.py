"""Label selector parsing and matching (metav1.LabelSelector), plus CNI selector estimates."""

from __future__ import annotations

import pytest

from pcapkit.cluster.policy.selectors import (
    SelectorError,
    calico_selector_matches,
    cilium_identity_labels,
    cilium_selector_matches,
    parse_label_selector,
    parse_optional_selector,
)

LABELS = {"app": "web", "tier": "front", "env": "prod"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({}, True),
        ({"matchLabels": {"app": "web"}}, True),
        ({"matchLabels": {"app": "db"}}, False),
        ({"matchLabels": {"app": "web", "tier": "back"}}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "x"]}]},
         True),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["back"]}]}, False),
        ({"matchExpressions": [{"key": "missing", "operator": "In", "values": ["a"]}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["back"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]},
         False),
        # NotIn also matches when the key is absent
        ({"matchExpressions": [{"key": "missing", "operator": "NotIn", "values": ["a"]}]}, True),
        ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "missing", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "missing", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, False),
        # matchLabels and matchExpressions are ANDed
        ({"matchLabels": {"app": "web"},
          "matchExpressions": [{"key": "env", "operator": "In", "values": ["dev"]}]}, False),
        ({"matchLabels": {"app": "web"},
          "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}, True),
    ],
)
def test_selector_matching(selector: dict, expected: bool) -> None:
    assert parse_label_selector(selector).matches(LABELS) is expected


def test_empty_selector_matches_pods_without_labels() -> None:
    assert parse_label_selector({}).matches(None)
    assert parse_label_selector({}).selects_everything
    assert not parse_label_selector({"matchLabels": {"a": "b"}}).matches(None)


def test_absent_optional_selector_is_not_set() -> None:
    assert parse_optional_selector(None) is None
    assert parse_optional_selector({}).selects_everything


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]},
         "operator 'Equals'"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
         "needs at least one value"),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn"}]}, "needs at least one value"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
         "must not have values"),
        ({"matchLabels": {"a": 1}}, "must be a string"),
        ({"matchLabels": {"bad key!": "x"}}, "not a valid label key"),
        ({"matchLabels": "app=web"}, "must be a mapping"),
        ({"matchLables": {"a": "b"}}, "unknown selector field"),
        ("app=web", "must be a mapping"),
    ],
)
def test_malformed_selectors_are_rejected(selector: object, message: str) -> None:
    with pytest.raises(SelectorError, match=message):
        parse_label_selector(selector, "spec.podSelector")


def test_error_names_the_field() -> None:
    with pytest.raises(SelectorError, match=r"spec\.podSelector\.matchExpressions\[0\]"):
        parse_label_selector({"matchExpressions": [{"key": "a", "operator": "in",
                                                    "values": ["b"]}]}, "spec.podSelector")


def test_describe_is_kubectl_like() -> None:
    selector = parse_label_selector({
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                             {"key": "debug", "operator": "DoesNotExist"}],
    })
    assert selector.describe() == "app=web,tier in (a,b),!debug"
    assert parse_label_selector({}).describe() == "{}"


def test_prefixed_label_keys_are_valid() -> None:
    selector = parse_label_selector({"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}})
    assert selector.matches({"kubernetes.io/metadata.name": "kube-system"})


def test_cilium_endpoint_selector_with_source_prefixes() -> None:
    identity = cilium_identity_labels({"app": "web"}, "shop", {"team": "a"}, "web-sa")
    assert cilium_selector_matches({"matchLabels": {"k8s:app": "web"}}, identity) is True
    assert cilium_selector_matches({"matchLabels": {"any:app": "db"}}, identity) is False
    assert cilium_selector_matches(
        {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "shop"}}, identity) is True
    assert cilium_selector_matches(
        {"matchLabels": {"k8s:io.cilium.k8s.namespace.labels.team": "b"}}, identity) is False
    assert cilium_selector_matches({}, identity) is True
    assert cilium_selector_matches({"matchLabels": {"reserved:host": ""}}, identity) is None


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("", True),
        ("all()", True),
        ("app == 'web'", True),
        ('app == "db"', False),
        ("app != 'db'", True),
        ("has(tier)", True),
        ("!has(tier)", False),
        ("app in {'web', 'api'}", True),
        ("app not in {'web'}", False),
        ("app == 'web' && tier == 'back'", False),
        ("app == 'web' && has(env)", True),
        ("app == 'web' || tier == 'x'", None),
        ("(app == 'web')", None),
        ("global()", None),
    ],
)
def test_calico_selector_subset(expression: str, expected: bool | None) -> None:
    assert calico_selector_matches(expression, LABELS) is expected
