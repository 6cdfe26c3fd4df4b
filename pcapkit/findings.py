"""Findings: what a rule found, where, why and what to do, in the form every report uses.

A finding is one group of matching rows of one rule (its ``group_by`` values), with the
conversation ends it is about, its time span, its evidence packets (file, frame, time,
node, interface, from every capture point that saw them) and a Wireshark display filter
that shows exactly those frames of a file. Its ``id`` is a hash of the rule id and the
group's values, so the same input gives the same ids on every run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import Any

#: the fields of an endpoint, and the table columns (with prefix orig_/resp_) they come from
ENDPOINT_FIELDS = ("ip", "port", "kind", "namespace", "name", "workload", "node", "service")
_ENDPOINT_COLUMNS = {"ip": "h", "port": "p", "kind": "kind", "namespace": "namespace",
                     "name": "pod", "workload": "workload", "node": "node",
                     "service": "service"}
#: severities, highest first (Sigma levels)
SEVERITIES = ("critical", "high", "medium", "low", "informational")


@dataclass(frozen=True)
class Evidence:
    """One sighting of an evidence packet."""

    file: str
    frame: int
    time: str          # ISO 8601, UTC, nanoseconds kept
    node: str | None
    interface: str | None


@dataclass
class Finding:
    """One finding (the JSON contract of reports: ``to_dict``)."""

    id: str
    rule: str
    category: str
    severity: str
    title: str
    summary: str
    first_seen: str | None
    last_seen: str | None
    count: int
    src: dict[str, Any]
    dst: dict[str, Any]
    protocol: str | None
    port: int | None
    evidence: list[Evidence] = field(default_factory=list)
    display_filter: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    remediation: str = ""
    references: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``dataclasses.asdict`` without its deep copy of every value,
        which cost more than the rules themselves on a large incident)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["evidence"] = [{f.name: getattr(e, f.name) for f in fields(e)}
                           for e in self.evidence]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=False)


def finding_id(rule_id: str, key: dict[str, Any]) -> str:
    """Stable id: the same rule and group values give the same id on every run."""
    text = json.dumps([rule_id, sorted((k, str(v)) for k, v in key.items())])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def endpoint(values: dict[str, Any], end: str) -> dict[str, Any]:
    """The ENDPOINT of one conversation end (``orig`` or ``resp``) from a group's values
    (column -> value, or None where the rows disagree or the table lacks it)."""
    return {name: values.get(f"{end}_{column}") for name, column in _ENDPOINT_COLUMNS.items()}


def display_filter(frames: list[int]) -> str:
    """A Wireshark display filter selecting exactly ``frames`` of one file."""
    ordered = sorted(set(int(f) for f in frames))
    return "frame.number in {" + ",".join(str(f) for f in ordered) + "}"


def severity_rank(severity: str) -> int:
    """0 for critical ... 4 for informational (sort key, highest first)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)
