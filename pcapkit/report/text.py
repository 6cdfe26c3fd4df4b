"""The report for a terminal: findings grouped by severity, then category, each with the
ends involved (workload, pod, Service, address), its explanation, where its evidence is and
the Wireshark command that shows it; headings in colour when writing to a terminal. Each
finding's line repeats its ``[category]`` and ends with its ``[id]``, so a grep finds it."""

from __future__ import annotations

from typing import Any

import click

from pcapkit.report.common import (
    endpoint_label,
    file_filters,
    grouped,
    input_problems,
    snapshot_line,
    wireshark_command,
)

COLORS = {"critical": "bright_red", "high": "red", "medium": "yellow", "low": "cyan",
          "informational": "white"}


def render_text(report: dict[str, Any], color: bool = False) -> str:
    """The text report; ``color`` styles the headings with ANSI colours."""
    summary = report["summary"]
    lines = [f"pcapkit {report['pcapkit_version']}: {summary['files']} file(s), "
             f"{summary['packets']:,} packets, {summary['flows']:,} flows, "
             f"{summary['dns_transactions']:,} DNS transactions, {summary['findings']} "
             "finding(s)"]
    if summary.get("note"):
        lines.append(f"note: {summary['note']}")
    if snapshot_line(report):
        lines.append(str(snapshot_line(report)))
    lines += [f"input problem: {problem}" for problem in input_problems(report)]
    severity_seen = None
    for severity, category, group in grouped(report["findings"]):
        if severity != severity_seen:
            severity_seen = severity
            total = sum(1 for f in report["findings"] if f["severity"] == severity)
            heading = f"\n{severity.upper()} ({total})"
            lines.append(click.style(heading, fg=COLORS.get(severity), bold=True) if color
                         else heading)
        lines.append(click.style(f"  {category} ({len(group)})", bold=True) if color
                     else f"  {category} ({len(group)})")
        for finding in group:
            lines += _finding(finding)
    if not report["findings"]:
        lines.append("\nno findings")
    return "\n".join(lines) + "\n"


def _finding(finding: dict[str, Any]) -> list[str]:
    lines = [f"    [{finding['category']}] {finding['title']}  [{finding['id']}]",
             f"      {finding['summary']}"]
    src, dst = endpoint_label(finding["src"]), endpoint_label(finding["dst"])
    if (src, dst) != ("-", "-"):  # snapshot-only findings name no ends
        lines += [f"      from {src}", f"      to   {dst}"]
    when = f"{finding['first_seen']} .. {finding['last_seen']}" if finding["first_seen"] \
        else "not in the captures' time"
    lines.append(f"      {finding['protocol'] or '-'}  {when}  ({finding['count']} row(s))")
    filters = file_filters(finding)
    if filters:
        total = finding["details"].get("evidence_total", len(finding["evidence"]))
        lines.append(f"      evidence ({total} sighting(s)):")
        lines += [f"        {wireshark_command(file, display_filter)}"
                  for file, display_filter in filters.items()]
    for note in finding["details"].get("host") or ():  # pcapkit.ingest.corroborate
        lines.append(f"      host {note['node']}: {note['seen']} ({note['why']}; "
                     f"{note['source']})")
    if finding["remediation"]:
        lines.append(f"      what to do: {finding['remediation']}")
    return lines
