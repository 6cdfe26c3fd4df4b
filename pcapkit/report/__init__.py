"""Reports of one analysis: the JSON document every format is rendered from.

``build_report(capture, findings)`` gathers what was read (inputs, snapshot), a summary and
the findings into one dict, the JSON contract (``docs/report.schema.json``); ``render``
turns it into text (a terminal), json or markdown (an incident ticket). Every format is
rendered from the same document, so none can lose a finding.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from pcapkit._version import __version__
from pcapkit.findings import SEVERITIES, Finding

if TYPE_CHECKING:
    from pcapkit.capture import Capture

FORMATS = ("text", "json", "markdown")


def build_report(capture: Capture, findings: list[Finding], *, rules: int = 0,
                 seconds: float | None = None) -> dict[str, Any]:
    """The report document of ``capture`` and its ``findings``."""
    decoded = capture.decoded
    packets = decoded.packets
    per_file = packets.groupby("file", observed=True).size() if len(packets) else {}
    nodes = dict(zip(capture.points["file"].astype(str), capture.points["node"].astype(str),
                     strict=True))
    linktypes = decoded.interfaces.groupby("file", observed=True)["linktype"].first() \
        if len(decoded.interfaces) else {}
    errors: dict[str, list[str]] = {}
    for error in decoded.errors:
        errors.setdefault(str(error.file), []).append(str(error))
    files = sorted(set(nodes) | set(errors))
    inputs = [{"file": file, "node": nodes.get(file),
               "packets": int(per_file.get(file, 0)) if len(per_file) else 0,
               "linktype": int(linktypes[file]) if file in linktypes else None,
               "errors": errors.get(file, [])} for file in files]
    cluster = capture.cluster
    snapshot = {"loaded": cluster is not None}
    if cluster is not None:
        snapshot.update(pods=len(cluster.pods), services=len(cluster.services),
                        nodes=len(cluster.nodes), network_policies=len(cluster.policies))
    by_severity = Counter(f.severity for f in findings)
    times = packets["ts"].dropna() if len(packets) else packets.get("ts")
    summary = {
        "files": len(files), "packets": int(len(packets)),
        "flows": int(len(capture.flows)), "dns_transactions": int(len(capture.dns)),
        "rules": rules, "findings": len(findings),
        "by_severity": {s: by_severity.get(s, 0) for s in SEVERITIES},
        "first_packet": _iso(times.min()) if times is not None and len(times) else None,
        "last_packet": _iso(times.max()) if times is not None and len(times) else None,
        "seconds": None if seconds is None else round(seconds, 3),
    }
    if cluster is None:
        summary["note"] = "no cluster snapshot: endpoints are addresses only"
    return {"pcapkit_version": __version__, "inputs": inputs, "snapshot": snapshot,
            "summary": summary, "findings": [f.to_dict() for f in findings]}


def _iso(stamp: Any) -> str:
    return stamp.isoformat().replace("+00:00", "Z")


def render(report: dict[str, Any], fmt: str, *, color: bool = False) -> str:
    """The report as ``fmt`` (text, json or markdown)."""
    if fmt == "json":
        return json.dumps(report, indent=2) + "\n"
    if fmt == "markdown":
        return _markdown(report)
    return _text(report, color)


_COLORS = {"critical": "bright_red", "high": "red", "medium": "yellow", "low": "cyan",
           "informational": "white"}


def _endpoint(end: dict[str, Any]) -> str:
    who = end.get("workload") or (f"{end['namespace']}/{end['name']}" if end.get("name")
                                  else None)
    where = end.get("ip") or "?"
    if end.get("port") is not None:
        where += f":{end['port']}"
    return f"{who} ({where})" if who else where


def _text(report: dict[str, Any], color: bool) -> str:
    import click

    summary = report["summary"]
    lines = [f"pcapkit {report['pcapkit_version']}: {summary['files']} file(s), "
             f"{summary['packets']:,} packets, {summary['flows']:,} flows, "
             f"{summary['dns_transactions']:,} DNS transactions, {summary['findings']} "
             "finding(s)"]
    if summary.get("note"):
        lines.append(f"note: {summary['note']}")
    for item in report["inputs"]:
        for error in item["errors"]:
            lines.append(f"input problem: {error}")
    for severity in SEVERITIES:
        group = [f for f in report["findings"] if f["severity"] == severity]
        if not group:
            continue
        heading = f"\n{severity.upper()} ({len(group)})"
        lines.append(click.style(heading, fg=_COLORS[severity], bold=True) if color
                     else heading)
        for finding in sorted(group, key=lambda f: (f["category"], f["first_seen"] or "")):
            lines.append(f"  [{finding['category']}] {finding['title']}")
            lines.append(f"    {finding['summary']}")
            lines.append(f"    {_endpoint(finding['src'])} -> {_endpoint(finding['dst'])}"
                         f"  {finding['protocol'] or ''}  {finding['first_seen']} .. "
                         f"{finding['last_seen']}")
            if finding["evidence"]:
                first = finding["evidence"][0]
                lines.append(f"    evidence: {first['file']} frame {first['frame']} "
                             f"({finding['details'].get('evidence_total', 0)} sighting(s)); "
                             f"wireshark -r {first['file']} -Y "
                             f"'{finding['display_filter']}'")
            lines.append(f"    what to do: {finding['remediation']}")
    if not report["findings"]:
        lines.append("\nno findings")
    return "\n".join(lines) + "\n"


def _markdown(report: dict[str, Any]) -> str:
    summary = report["summary"]
    lines = ["# pcapkit report", "",
             f"{summary['files']} file(s), {summary['packets']:,} packets, "
             f"{summary['flows']:,} flows, {summary['dns_transactions']:,} DNS transactions, "
             f"{summary['findings']} finding(s) (pcapkit {report['pcapkit_version']}).", ""]
    if summary.get("note"):
        lines += [f"> {summary['note']}", ""]
    lines += ["| severity | category | finding | from | to | first seen |", "|---|---|---|---|---|---|"]
    for f in report["findings"]:
        lines.append(f"| {f['severity']} | {f['category']} | {_cell(f['summary'])} | "
                     f"{_cell(_endpoint(f['src']))} | {_cell(_endpoint(f['dst']))} | "
                     f"{f['first_seen']} |")
    for f in report["findings"]:
        lines += ["", f"## {f['title']} ({f['severity']})", "", f["summary"], ""]
        if f["evidence"]:
            lines.append(f"Evidence: `{f['evidence'][0]['file']}`, Wireshark filter "
                         f"`{f['display_filter']}`")
            lines += ["", "| file | frame | time | node | interface |", "|---|---|---|---|---|"]
            lines += [f"| {_cell(e['file'])} | {e['frame']} | {e['time']} | {e['node']} | "
                      f"{e['interface']} |" for e in f["evidence"]]
            lines.append("")
        lines.append(f"**What to do:** {f['remediation']}")
    problems = [e for item in report["inputs"] for e in item["errors"]]
    if problems:
        lines += ["", "## Input problems", ""] + [f"- {_cell(p)}" for p in problems]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
