"""Pod metadata in pcapng interface blocks: which pod (and node) a capture belongs to.

Inspektor Gadget's tcpdump gadget (``kubectl gadget trace tcpdump``, github.com/
inspektor-gadget/inspektor-gadget ``cmd/kubectl-gadget/trace/tcpdump.go``,
``getPodInterface``) writes one pcapng interface per container it captured in: the
interface's name is the container's, its description ``Node: <node>, Namespace: <ns>,
Pod: <pod>``. Besides that form, ``pod=``/``namespace=`` (or ``ns=``)/``container=`` tags in
an interface description or comment are read, as the ``node=`` tag is
(:mod:`pcapkit.vantage.points`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

_GADGET = re.compile(r"^\s*Node:\s*(?P<node>[^,]*?)\s*,\s*Namespace:\s*(?P<namespace>[^,]*?)"
                     r"\s*,\s*Pod:\s*(?P<pod>[^,]*?)\s*$")
_TAG = re.compile(r"(?:^|[\s,;:])(?P<key>pod|namespace|ns|container)\s*=\s*"
                  r"(?P<value>[A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class PodMetadata:
    """What the interfaces of one capture file say about pods (each field: the distinct
    values, comma-separated and sorted; None when none says), and where it was said."""

    pod: str | None
    namespace: str | None
    container: str | None
    evidence: str
    node: str | None = None
    node_evidence: str | None = None


def pod_metadata(interfaces: pd.DataFrame) -> dict[str, PodMetadata]:
    """File -> the pod metadata its interfaces carry (files without any are left out)."""
    if interfaces is None or not len(interfaces) or "file" not in interfaces:
        return {}
    found: dict[str, list[tuple[dict[str, str], str]]] = {}
    for row in interfaces.itertuples(index=False):  # interfaces: a handful per file
        said = _said(getattr(row, "name", None), getattr(row, "description", None),
                     getattr(row, "comment", None))
        if said:
            found.setdefault(str(row.file), []).append(said)
    return {file: _combine(items) for file, items in found.items()}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _said(name: object, description: object, comment: object
          ) -> tuple[dict[str, str], str] | None:
    description, comment, name = _text(description), _text(comment), _text(name)
    if description and (match := _GADGET.match(description)):
        fields = {k: v for k, v in match.groupdict().items() if v}
        if name:
            fields["container"] = name
        return fields, f"Inspektor Gadget interface {name!r} description {description!r}"
    for field, text in (("description", description), ("comment", comment)):
        if not text:
            continue
        fields = {}
        for match in _TAG.finditer(text):
            key = "namespace" if match["key"] == "ns" else match["key"]
            fields.setdefault(key, match["value"])
        if "pod" in fields or "container" in fields:
            return fields, f"interface {field} {text!r}"
    return None


def _joined(items: list[tuple[dict[str, str], str]], key: str) -> str | None:
    values = sorted({fields[key] for fields, _ in items if fields.get(key)})
    return ", ".join(values) if values else None


def _combine(items: list[tuple[dict[str, str], str]]) -> PodMetadata:
    """One file's metadata; its node only when every interface naming one names the same
    (``kubectl gadget trace tcpdump`` over several nodes writes them all into one file)."""
    nodes: dict[str, str] = {}
    for fields, why in items:
        if fields.get("node"):
            nodes.setdefault(fields["node"], why)
    evidence = items[0][1] + (f" (and {len(items) - 1} more interface(s))"
                              if len(items) > 1 else "")
    node, why = next(iter(nodes.items())) if len(nodes) == 1 else (None, None)
    if len(nodes) > 1:
        evidence += f"; its interfaces name nodes {', '.join(sorted(nodes))}"
    return PodMetadata(_joined(items, "pod"), _joined(items, "namespace"),
                       _joined(items, "container"), evidence, node, why)
