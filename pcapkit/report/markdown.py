"""The report as Markdown, for an incident ticket: an overview table, then every finding
(by severity and category) with its ends, evidence sightings and Wireshark filters, then
the failing edges of the workload graph. Text from captures and the cluster is escaped, so
a hostile name renders as text in GitLab/GitHub, never as HTML."""

from __future__ import annotations

from typing import Any

from pcapkit.report.common import (
    endpoint_label,
    file_filters,
    grouped,
    input_problems,
    snapshot_line,
    wireshark_command,
)


def render_markdown(report: dict[str, Any]) -> str:
    """The Markdown report."""
    summary = report["summary"]
    lines = ["# pcapkit report", "",
             f"{summary['files']} file(s), {summary['packets']:,} packets, "
             f"{summary['flows']:,} flows, {summary['dns_transactions']:,} DNS transactions, "
             f"{summary['findings']} finding(s) (pcapkit {report['pcapkit_version']}).", ""]
    if summary.get("note"):
        lines += [f"> {_md(summary['note'])}", ""]
    if snapshot_line(report):
        lines += [_md(str(snapshot_line(report))), ""]
    groups = grouped(report["findings"])
    if groups:
        lines += ["| severity | category | finding | from | to | first seen | id |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {f['severity']} | {_cell(f['category'])} | {_cell(f['summary'])} | "
                  f"{_cell(endpoint_label(f['src']))} | {_cell(endpoint_label(f['dst']))} | "
                  f"{f['first_seen'] or '-'} | `{f['id']}` |"
                  for _, _, group in groups for f in group]
    else:
        lines.append("No findings.")
    for _, _, group in groups:
        for f in group:
            lines += _finding(f)
    failing = [e for e in (report.get("graph") or {}).get("edges", []) if e["failing"]]
    if failing:
        lines += ["", "## Failing conversations", "",
                  "| from | to | flows | failed attempts | ports | findings |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {_cell(e['src'])} | {_cell(e['dst'])} | {e['flows']} | {e['failed']} | "
                  f"{', '.join(map(str, e['ports'])) or '-'} | {len(e['findings'])} |"
                  for e in failing]
    problems = input_problems(report)
    if problems:
        lines += ["", "## Input problems", ""] + [f"- {_cell(p)}" for p in problems]
    return "\n".join(lines) + "\n"


def _finding(f: dict[str, Any]) -> list[str]:
    lines = ["", f"## {_md(f['title'])} ({f['severity']}, {_md(f['category'])})", "",
             f"`{f['id']}` · rule `{f['rule']}` · {f['count']} row(s) · "
             f"{f['first_seen'] or 'undated'} .. {f['last_seen'] or ''}", "",
             _md(f["summary"]), "",
             f"- from: {_md(endpoint_label(f['src']))}",
             f"- to: {_md(endpoint_label(f['dst']))}"]
    filters = file_filters(f)
    if filters:
        lines += [""] + [f"Evidence in `{_code(file)}`: `{_code(wireshark_command(file, flt))}`"
                         for file, flt in filters.items()]
    if f["evidence"]:
        total = f["details"].get("evidence_total", len(f["evidence"]))
        lines += ["", f"Sightings ({len(f['evidence'])} of {total}):", "",
                  "| file | frame | time | node | interface |", "|---|---|---|---|---|"]
        lines += [f"| {_cell(e['file'])} | {e['frame']} | {e['time']} | {_cell(e['node'])} | "
                  f"{_cell(e['interface'])} |" for e in f["evidence"]]
    host = f["details"].get("host") or []  # pcapkit.ingest.corroborate
    if host:
        lines += ["", "What the nodes' host files say:", ""]
        lines += [f"- {_md(n['node'])}: {_md(n['seen'])} ({_md(n['why'])}; "
                  f"`{_code(n['source'])}`)" for n in host]
    if f["remediation"]:
        lines += ["", f"**What to do:** {_md(f['remediation'])}"]
    if f["references"]:
        lines += ["", "References: " + ", ".join(f"<{r}>" if _is_web(r) else _md(r)
                                                  for r in f["references"])]
    return lines


def _md(text: Any) -> str:
    """Prose: ``&`` and ``<`` as entities, so nothing in it is read as HTML."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;")


def _cell(text: Any) -> str:
    """A table cell: escaped prose on one line, pipes escaped."""
    return _md("-" if text is None else text).replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    """Inside a code span: a backtick would end it."""
    return str(text).replace("`", "'")


def _is_web(reference: str) -> bool:
    return reference.startswith(("https://", "http://")) and not any(
        c in reference for c in "<> \n")
