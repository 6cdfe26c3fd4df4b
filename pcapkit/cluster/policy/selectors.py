"""Label selectors: parse a Kubernetes ``LabelSelector`` once, match it against many label sets.

Semantics are those of ``metav1.LabelSelector`` (apimachinery ``LabelSelectorAsSelector``):

* ``matchLabels`` and every ``matchExpressions`` entry are ANDed;
* ``In`` needs the key present with one of the values, ``NotIn`` matches when the key is absent
  or its value is not listed, ``Exists`` / ``DoesNotExist`` test presence only;
* an empty selector ``{}`` matches everything. A *null* selector (field absent) is not a
  selector at all; callers decide what absence means (:func:`parse_optional_selector`).

A selector the API server would reject (unknown operator, ``In`` without values, ``Exists``
with values, non-string values, a key that is not a qualified name) raises
:class:`SelectorError` with the field path, so the caller can skip the object that holds it.

Two helpers estimate, without evaluating policy rules, which pods the selectors of CNI
policy objects pcapkit does not evaluate (Cilium, Calico) would select; they answer ``None``
when the selector uses syntax they do not understand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pcapkit.errors import PcapkitError

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_EQUALS = "="  # internal operator for matchLabels entries, described as key=value

_NAME_PART = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class SelectorError(PcapkitError):
    """A label selector that Kubernetes would reject."""


@dataclass(frozen=True)
class Requirement:
    """One ANDed condition of a selector: ``key`` ``operator`` ``values``."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when ``labels`` satisfy this condition."""
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        if self.operator == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        # "=" and "In"
        return self.key in labels and labels[self.key] in self.values

    def describe(self) -> str:
        """kubectl-style text: ``app=web``, ``tier in (a,b)``, ``!debug``."""
        if self.operator == _EQUALS:
            return f"{self.key}={self.values[0]}"
        if self.operator == "Exists":
            return self.key
        if self.operator == "DoesNotExist":
            return f"!{self.key}"
        word = "in" if self.operator == "In" else "notin"
        return f"{self.key} {word} ({','.join(self.values)})"


@dataclass(frozen=True)
class LabelSelector:
    """A parsed, validated label selector; ``requirements`` are ANDed."""

    requirements: tuple[Requirement, ...] = ()

    @property
    def selects_everything(self) -> bool:
        """True for the empty selector ``{}``."""
        return not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """True when every requirement holds for ``labels`` (``None`` means no labels)."""
        present = labels or {}
        return all(req.matches(present) for req in self.requirements)

    def describe(self) -> str:
        """kubectl-style text of the selector; ``{}`` for the empty selector."""
        if not self.requirements:
            return "{}"
        return ",".join(req.describe() for req in self.requirements)


def _check_key(key: object, where: str, strict: bool) -> str:
    if not isinstance(key, str) or not key:
        raise SelectorError(f"{where}: label key must be a non-empty string, got {key!r}")
    if not strict:
        return key
    prefix, _, name = key.rpartition("/")
    if "/" in prefix or (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))):
        raise SelectorError(f"{where}: {key!r} is not a valid label key (bad prefix)")
    if len(name) > 63 or not _NAME_PART.match(name):
        raise SelectorError(f"{where}: {key!r} is not a valid label key")
    return key


def _check_value(value: object, where: str, strict: bool) -> str:
    if not isinstance(value, str):
        raise SelectorError(f"{where}: label value must be a string, got {value!r}")
    if strict and value and (len(value) > 63 or not _NAME_PART.match(value)):
        raise SelectorError(f"{where}: {value!r} is not a valid label value")
    return value


def parse_label_selector(raw: object, where: str = "selector", strict: bool = True) -> LabelSelector:
    """Parse and validate a ``LabelSelector`` dict; ``where`` names it in error messages.

    ``strict`` also checks label key/value syntax as the API server does; CNI selectors
    (Cilium's ``k8s:``-prefixed keys after stripping) are parsed with ``strict=False``.
    Raises :class:`SelectorError` for anything Kubernetes would reject.
    """
    if not isinstance(raw, Mapping):
        raise SelectorError(f"{where}: a label selector must be a mapping, got {type(raw).__name__}")
    unknown = set(raw) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise SelectorError(f"{where}: unknown selector field(s) {', '.join(sorted(unknown))}")
    requirements: list[Requirement] = []
    match_labels = raw.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        raise SelectorError(f"{where}.matchLabels: must be a mapping of label to value")
    for key, value in match_labels.items():
        k = _check_key(key, f"{where}.matchLabels", strict)
        v = _check_value(value, f"{where}.matchLabels[{k}]", strict)
        requirements.append(Requirement(k, _EQUALS, (v,)))
    expressions = raw.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise SelectorError(f"{where}.matchExpressions: must be a list")
    for index, expr in enumerate(expressions):
        requirements.append(_parse_expression(expr, f"{where}.matchExpressions[{index}]", strict))
    return LabelSelector(tuple(requirements))


def _parse_expression(expr: object, where: str, strict: bool) -> Requirement:
    if not isinstance(expr, Mapping):
        raise SelectorError(f"{where}: must be a mapping with key, operator and values")
    key = _check_key(expr.get("key"), where, strict)
    operator = expr.get("operator")
    if operator not in OPERATORS:
        raise SelectorError(
            f"{where}: operator {operator!r} is not one of {', '.join(OPERATORS)}"
        )
    values = expr.get("values") or []
    if not isinstance(values, list):
        raise SelectorError(f"{where}.values: must be a list")
    checked = tuple(_check_value(v, f"{where}.values", strict) for v in values)
    if operator in ("In", "NotIn") and not checked:
        raise SelectorError(f"{where}: operator {operator} needs at least one value")
    if operator in ("Exists", "DoesNotExist") and checked:
        raise SelectorError(f"{where}: operator {operator} must not have values")
    return Requirement(key, operator, checked)


def parse_optional_selector(raw: object, where: str = "selector") -> LabelSelector | None:
    """Parse a selector field that may be absent: ``None`` stays ``None`` ("not set")."""
    if raw is None:
        return None
    return parse_label_selector(raw, where)


# --- CNI policy selectors (estimation only, never rule evaluation) -------------------------

_CILIUM_SOURCES = ("k8s:", "any:")
CILIUM_NAMESPACE_KEY = "io.kubernetes.pod.namespace"
CILIUM_NAMESPACE_LABEL_PREFIX = "io.cilium.k8s.namespace.labels."
CILIUM_SERVICE_ACCOUNT_KEY = "io.cilium.k8s.policy.serviceaccount"


def cilium_identity_labels(
    labels: Mapping[str, str], namespace: str, namespace_labels: Mapping[str, str],
    service_account: str | None,
) -> dict[str, str]:
    """The labels Cilium derives for a pod's security identity (without source prefixes)."""
    identity = dict(labels)
    identity[CILIUM_NAMESPACE_KEY] = namespace
    for key, value in namespace_labels.items():
        identity[CILIUM_NAMESPACE_LABEL_PREFIX + key] = value
    if service_account:
        identity[CILIUM_SERVICE_ACCOUNT_KEY] = service_account
    return identity


def cilium_selector_matches(raw: object, identity_labels: Mapping[str, str]) -> bool | None:
    """Does a Cilium ``endpointSelector`` select a pod with these identity labels?

    ``k8s:`` and ``any:`` key prefixes are dropped; ``None`` means "cannot tell" (reserved
    or other label sources, malformed selector).
    """
    if not isinstance(raw, Mapping):
        return None
    stripped: dict[str, object] = {}
    labels_in = raw.get("matchLabels") or {}
    exprs_in = raw.get("matchExpressions") or []
    if not isinstance(labels_in, Mapping) or not isinstance(exprs_in, list):
        return None
    try:
        stripped["matchLabels"] = {_strip_cilium_source(k): v for k, v in labels_in.items()}
        stripped["matchExpressions"] = [
            {**e, "key": _strip_cilium_source(e.get("key"))} for e in exprs_in
            if isinstance(e, Mapping)
        ]
        return parse_label_selector(stripped, strict=False).matches(identity_labels)
    except (SelectorError, ValueError):
        return None


def _strip_cilium_source(key: object) -> str:
    if not isinstance(key, str):
        raise ValueError("non-string key")
    for source in _CILIUM_SOURCES:
        if key.startswith(source):
            return key[len(source):]
    if ":" in key.split("/")[0]:
        raise ValueError(f"label source of {key!r} is not a pod label")
    return key


_CALICO_TERM = re.compile(
    r"""^\s*(?:
        (?P<all>all\(\s*\))
      | (?P<neg>!\s*)?has\(\s*(?P<has>[^\s()]+)\s*\)
      | (?P<key>[A-Za-z0-9_./-]+)\s*(?P<op>==|!=)\s*(?P<q>['"])(?P<val>[^'"]*)(?P=q)
      | (?P<setkey>[A-Za-z0-9_./-]+)\s+(?P<setop>in|not\s+in)\s*\{(?P<set>[^{}]*)\}
    )\s*$""",
    re.VERBOSE,
)


def calico_selector_matches(expression: object, labels: Mapping[str, str]) -> bool | None:
    """Evaluate a simple Calico selector expression against ``labels``.

    Understands ``all()``, ``has(k)``, ``!has(k)``, ``k == 'v'``, ``k != 'v'``,
    ``k in {'a','b'}``, ``k not in {...}`` joined by ``&&``; an empty expression selects
    everything. Anything else (``||``, parentheses, functions) answers ``None``.
    """
    if expression is None:
        return True
    if not isinstance(expression, str):
        return None
    if not expression.strip():
        return True
    if "||" in expression or "(" in expression.replace("all()", "").replace("has(", ""):
        return None
    result = True
    for term in expression.split("&&"):
        verdict = _calico_term(term, labels)
        if verdict is None:
            return None
        result = result and verdict
    return result


def _calico_term(term: str, labels: Mapping[str, str]) -> bool | None:
    found = _CALICO_TERM.match(term)
    if found is None:
        return None
    if found.group("all"):
        return True
    if found.group("has"):
        present = found.group("has") in labels
        return not present if found.group("neg") else present
    if found.group("key"):
        equal = labels.get(found.group("key")) == found.group("val")
        return equal if found.group("op") == "==" else not equal
    members = {m.strip().strip("'\"") for m in found.group("set").split(",") if m.strip()}
    inside = labels.get(found.group("setkey")) in members
    return inside if found.group("setop") == "in" else not inside
