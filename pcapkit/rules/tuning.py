"""Site tuning: quiet or re-rate shipped rules without editing them (a small YAML file).

```yaml
disable: [0b9d7c5e-3f8a-4d0e-9c61-2a7f1e4b5d10]     # rule ids
level: {7c2e...: low}                               # rule id -> new level
exclude:                                            # rows about these produce no finding
  namespaces: [monitoring]                          # either end's namespace
  workloads: ["DaemonSet kube-system/*"]            # either end's workload (wildcards)
  cidrs: [192.0.2.0/24]                             # either end's address
  rules:                                            # exclusions for one rule only
    0b9d7c5e-3f8a-4d0e-9c61-2a7f1e4b5d10: {namespaces: [batch]}
```

Like Falco's override hooks: the shipped rule stays as it is, the site file says what is
noise here. Exclusions test both conversation ends (``orig_*``/``resp_*``, or ``src``/``dst``
in packet tables), once per distinct value.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from pcapkit.errors import PcapkitError
from pcapkit.rules.compile import in_network, values_mask
from pcapkit.rules.load import LEVELS, Rule

_EXCLUDE_KEYS = ("namespaces", "workloads", "cidrs")


@dataclass(frozen=True)
class Exclusions:
    """Rows whose either end is in one of these namespaces, workloads or networks."""

    namespaces: tuple[str, ...] = ()
    workloads: tuple[str, ...] = ()
    cidrs: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.namespaces or self.workloads or self.cidrs)

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """True for the rows to drop."""
        drop = np.zeros(len(frame), dtype=bool)
        tests = (("namespace", self.namespaces, _glob), ("workload", self.workloads, _glob),
                 ("h", self.cidrs, _inside))
        for suffix, wanted, matches in tests:
            if not wanted:
                continue
            names = [f"{end}_{suffix}" for end in ("orig", "resp")]
            if suffix == "h":
                names += ["src", "dst"]
            for name in names:
                if name in frame.columns:
                    drop |= values_mask(frame[name], lambda value, w=wanted, m=matches: m(
                        value, w))
        return drop


@dataclass(frozen=True)
class Tuning:
    """A site's changes to the rule pack."""

    disable: frozenset[str] = frozenset()
    levels: dict[str, str] = field(default_factory=dict)
    exclude: Exclusions = Exclusions()
    per_rule: dict[str, Exclusions] = field(default_factory=dict)

    def apply(self, rules: list[Rule]) -> list[Rule]:
        """The rules left enabled, with their levels overridden."""
        return [replace(r, level=self.levels.get(r.id, r.level)) for r in rules
                if r.id not in self.disable]

    def exclusions(self, rule_id: str) -> list[Exclusions]:
        return [e for e in (self.exclude, self.per_rule.get(rule_id, Exclusions())) if e]


def load_tuning(path: str | Path) -> Tuning:
    """Read a tuning file; PcapkitError names the file and the bad entry."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PcapkitError(f"{path}: not a readable tuning file: {exc}") from exc
    if not isinstance(data, dict):
        raise PcapkitError(f"{path}: a tuning file is a mapping (disable, level, exclude)")
    unknown = set(data) - {"disable", "level", "exclude"}
    if unknown:
        raise PcapkitError(f"{path}: unknown keys {sorted(unknown)} (disable, level, exclude)")
    disable = data.get("disable") or []
    if not isinstance(disable, list) or not all(isinstance(d, str) for d in disable):
        raise PcapkitError(f"{path}: disable is a list of rule ids")
    levels = data.get("level") or {}
    if not isinstance(levels, dict) or any(v not in LEVELS for v in levels.values()):
        raise PcapkitError(f"{path}: level maps rule ids to one of {', '.join(LEVELS)}")
    exclude = data.get("exclude") or {}
    if not isinstance(exclude, dict):
        raise PcapkitError(f"{path}: exclude is a mapping")
    per_rule_data = exclude.get("rules") or {}
    if not isinstance(per_rule_data, dict):
        raise PcapkitError(f"{path}: exclude.rules maps rule ids to exclusions")
    per_rule = {str(rule_id): _exclusions(spec, f"{path}: exclude.rules.{rule_id}")
                for rule_id, spec in per_rule_data.items()}
    rest = {k: v for k, v in exclude.items() if k != "rules"}
    return Tuning(frozenset(disable), {str(k): str(v) for k, v in levels.items()},
                  _exclusions(rest, f"{path}: exclude"), per_rule)


def _exclusions(spec: object, where: str) -> Exclusions:
    if not isinstance(spec, dict) or set(spec) - set(_EXCLUDE_KEYS):
        raise PcapkitError(f"{where}: expected keys {', '.join(_EXCLUDE_KEYS)}")
    lists = {}
    for key in _EXCLUDE_KEYS:
        values = spec.get(key) or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise PcapkitError(f"{where}.{key}: a list of strings")
        lists[key] = tuple(values)
    try:
        cidrs = tuple(ipaddress.ip_network(c, strict=False) for c in lists["cidrs"])
    except ValueError as exc:
        raise PcapkitError(f"{where}.cidrs: {exc}") from exc
    return Exclusions(lists["namespaces"], lists["workloads"], cidrs)


def _glob(value: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _inside(value: str, networks: tuple) -> bool:
    return any(in_network(value, network) for network in networks)
