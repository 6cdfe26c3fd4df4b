"""The report as one self-contained HTML page: opens from disk, fetches nothing.

The page holds the summary, an overview of the findings, the timeline and the workload graph
(inline SVG, :mod:`pcapkit.report.svg`), every finding with its ends, evidence, Wireshark
filters and what to do, and the inputs read. Given the Capture the report was built from,
a finding also shows the ladder diagram of its first evidence flow (the first
``REPORT_LADDERS`` findings with one, ``REPORT_PACKETS`` packets each: about 15 ms a
ladder). Its Content-Security-Policy allows nothing but inline styles and ``data:`` images,
so even a hostile name that slipped through could not load or run anything; and every
value from captures, the cluster or rules is escaped.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pcapkit.report.common import (
    endpoint_label,
    file_filters,
    grouped,
    input_problems,
    severity_counts,
    snapshot_line,
    wireshark_command,
)
from pcapkit.report.svg import (
    KIND_COLORS,
    LADDER_COLORS,
    SEVERITY_COLORS,
    UNKNOWN_KIND,
    e,
    graph_svg,
    ladder_svg,
    timeline_svg,
)

if TYPE_CHECKING:
    from pcapkit.capture import Capture
    from pcapkit.plots.ladders import LadderLayout

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_END_FIELDS = (("workload", "workload"), ("name", "pod"), ("namespace", "namespace"),
               ("ip", "address"), ("port", "port"), ("kind", "kind"), ("node", "node"),
               ("service", "service"))

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;
 max-width:1000px;padding:16px 20px;color:#1d2228;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;
 border-bottom:1px solid #dde1e6;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{border:1px solid #dde1e6;padding:3px 6px;text-align:left;vertical-align:top;
 overflow-wrap:anywhere}
th{background:#f3f5f7;font-weight:600;white-space:nowrap}td.time{white-space:nowrap;font-size:12px}code{font:12px ui-monospace,Menlo,Consolas,monospace;
 background:#f3f5f7;padding:1px 3px;border-radius:3px;overflow-wrap:anywhere}
.stats{display:flex;flex-wrap:wrap;gap:8px;margin:10px 0}
.stat{border:1px solid #dde1e6;border-radius:6px;padding:6px 10px;min-width:80px}
.stat b{display:block;font-size:18px}.note{background:#fff8e1;border-left:4px solid #f5a623;
 padding:6px 10px}.problem{color:#b00020}
.badge{display:inline-block;white-space:nowrap;color:#fff;border-radius:10px;padding:0 8px;font-size:12px;
 font-weight:600;vertical-align:middle}
.finding{border:1px solid #dde1e6;border-left-width:6px;border-radius:4px;padding:8px 12px;
 margin:10px 0}.finding h4{margin:0 0 4px;font-size:15px}.meta{color:#5a6470;font-size:12px}
.finding:target{box-shadow:0 0 0 3px #90caf9}details{margin:6px 0}summary{cursor:pointer}
svg{max-width:100%;height:auto;font:11px system-ui,sans-serif}
svg .axis{fill:#5a6470}svg .grid{stroke:#e6e9ed}svg .row{fill:#1d2228}
svg .sev{fill:#5a6470}svg .panel{fill:#fafbfc;stroke:#dde1e6}
svg .p50{fill:none;stroke:#1f77b4;stroke-width:1.6}svg circle.p50{fill:#1f77b4}
svg .p90{fill:none;stroke:#f57c00;stroke-width:1.2}svg circle.p90{fill:#f57c00}
svg .max{fill:#5a6470}svg .queries{fill:#c5ccd4}svg .failed{fill:#d32f2f}
svg .hover{fill:transparent}svg .hover:hover{fill:rgba(30,120,200,.08)}
svg .node text{fill:#1d2228;paint-order:stroke;stroke:#fff;stroke-width:3px;
 stroke-linejoin:round}.legend span{margin-right:12px;white-space:nowrap}
.legend i{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}
.legend i.line{width:18px;height:3px;border-radius:0;vertical-align:middle}
.legend i.dash{width:18px;height:0;border-radius:0;border-top:2px dashed #5a6470;
 vertical-align:middle}
svg .lane{stroke:#9aa5b1}svg .nat{stroke:#5a6470;stroke-dasharray:4 3}
svg .missed{stroke:#d32f2f;stroke-width:2;fill:none}
svg .packet{font:10px ui-monospace,Menlo,Consolas,monospace;fill:#1d2228;white-space:pre}
"""


def render_html(report: dict[str, Any], *, capture: Capture | None = None) -> str:
    """The HTML page of ``report``; with the ``capture`` it was built from, with the
    ladder diagrams of its findings' flows."""
    findings = report["findings"]
    ladders = _ladders(findings, capture)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>pcapkit report: {len(findings)} finding(s)</title>",
             f"<style>{STYLE}</style></head><body>"]
    parts += _summary(report)
    parts += _overview(findings)
    parts += _timeline(report)
    parts += _graph(report)
    parts += _findings(findings, ladders)
    parts += _inputs(report)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _summary(report: dict[str, Any]) -> list[str]:
    summary, snapshot = report["summary"], report["snapshot"]
    stats = [("files", summary["files"]), ("packets", f"{summary['packets']:,}"),
             ("flows", f"{summary['flows']:,}"),
             ("DNS transactions", f"{summary['dns_transactions']:,}"),
             ("rules", summary["rules"]), ("findings", summary["findings"])]
    stats += [(severity, n) for severity, n in severity_counts(report) if n]
    span = f"{summary.get('first_packet') or '?'} .. {summary.get('last_packet') or '?'}"
    out = ["<header><h1>pcapkit report</h1>",
           f'<div class="meta">pcapkit {e(report["pcapkit_version"])} · packets {e(span)}'
           + (f" · {e(summary['seconds'])} s" if summary.get("seconds") is not None else "")
           + "</div>", '<div class="stats">']
    out += [f'<div class="stat"><b>{e(value)}</b>{e(name)}</div>' for name, value in stats]
    out.append("</div>")
    if snapshot.get("loaded"):
        out.append('<p>Cluster snapshot: ' + ", ".join(
            f"{e(snapshot.get(k, 0))} {e(k.replace('_', ' '))}"
            for k in ("pods", "services", "nodes", "network_policies")) + ".</p>")
    if snapshot_line(report):
        out.append(f"<p>{e(str(snapshot_line(report)))}</p>")
    if summary.get("note"):
        out.append(f'<p class="note">{e(summary["note"])}</p>')
    out += [f'<p class="problem">Input problem: {e(p)}</p>' for p in input_problems(report)]
    out.append("</header>")
    return out


def _overview(findings: list[dict[str, Any]]) -> list[str]:
    out = ['<section id="overview"><h2>Findings</h2>']
    if not findings:
        return out + ["<p>No findings.</p></section>"]
    out.append("<table><thead><tr><th>severity</th><th>category</th><th>finding</th>"
               "<th>from</th><th>to</th><th>first seen</th></tr></thead><tbody>")
    for severity, category, group in grouped(findings):
        for f in group:
            out.append(f"<tr><td>{_badge(severity)}</td><td>{e(category)}</td>"
                       f'<td><a href="#f-{e(f["id"])}">{e(f["title"])}</a></td>'
                       f"<td>{e(endpoint_label(f['src']))}</td>"
                       f"<td>{e(endpoint_label(f['dst']))}</td>"
                       f'<td class="time" title="{e(f["first_seen"] or "")}">'
                       f"{e(short_time(f['first_seen']))}</td></tr>")
    out.append("</tbody></table></section>")
    return out


def _timeline(report: dict[str, Any]) -> list[str]:
    picture = timeline_svg(report)
    timeline = report.get("timeline") or {}
    out = ['<section id="timeline"><h2>Timeline</h2>']
    if not picture:
        return out + ["<p>Nothing in this report has a time.</p></section>"]
    undated = sum(1 for f in report["findings"] if not f["first_seen"])
    out.append('<p class="legend">Findings by severity and category (a bar spans first to '
               "last sighting; click one for the finding)"
               + (f"; {undated} finding(s) have no time of their own (found in the cluster "
                  "snapshot, not in traffic) and are not drawn" if undated else "")
               + ".")
    if timeline.get("dns"):
        out.append(f"<br>DNS per {e(timeline['bucket_seconds'])} s bucket: "
                   '<span><i class="line" style="background:#1f77b4"></i>median latency</span>'
                   '<span><i class="line" style="background:#f57c00"></i>90th percentile</span>'
                   '<span><i style="background:#5a6470"></i>highest</span>'
                   '<span><i style="background:#c5ccd4"></i>queries</span>'
                   '<span><i style="background:#d32f2f"></i>failed (no answer, SERVFAIL, '
                   "REFUSED, other error)</span>.")
    out += ["</p>", picture, "</section>"]
    return out


def _graph(report: dict[str, Any]) -> list[str]:
    graph = report.get("graph") or {}
    titles = {f["id"]: f["title"] for f in report["findings"]}
    picture = graph_svg(graph, titles)
    out = ['<section id="graph"><h2>Who talks to whom</h2>']
    if not picture:
        return out + ["<p>No conversations in the captures.</p></section>"]
    shown, total = len(graph["edges"]), graph.get("edges_total", len(graph["edges"]))
    kinds = sorted({n.get("kind") or "unknown" for n in graph["nodes"]})
    out.append('<p class="legend">'
               + (f"The {shown} most telling of {total} conversation pairs (failing first). "
                  if total > shown else f"{total} conversation pair(s). ")
               + '<span><i class="line" style="background:#d32f2f"></i>failing (a finding or '
               'failed connection attempts; click for the finding)</span>'
               '<span><i class="line" style="background:#9aa5b1"></i>working</span>'
               + "".join(f'<span><i style="background:{KIND_COLORS.get(k, UNKNOWN_KIND)}"></i>'
                         f"{e(k)}</span>" for k in kinds) + "</p>")
    out.append(picture)
    failing = [edge for edge in graph["edges"] if edge["failing"]]
    if failing:
        out.append("<details open><summary>Failing conversations</summary><table><thead><tr>"
                   "<th>from</th><th>to</th><th>flows</th><th>failed attempts</th>"
                   "<th>protocols / ports</th><th>findings</th></tr></thead><tbody>")
        for edge in failing:
            links = ", ".join(f'<a href="#f-{e(i)}">{e(titles.get(i, i))}</a>'
                              for i in edge["findings"])
            out.append(f"<tr><td>{e(edge['src'])}</td><td>{e(edge['dst'])}</td>"
                       f"<td>{e(edge['flows'])}</td><td>{e(edge['failed'])}</td>"
                       f"<td>{e(', '.join(map(str, [*edge['protocols'], *edge['ports']])))}"
                       f"</td><td>{links or '-'}</td></tr>")
        out.append("</tbody></table></details>")
    out.append("</section>")
    return out


def _ladders(findings: list[dict[str, Any]], capture: Capture | None
             ) -> dict[str, tuple[LadderLayout, str]]:
    """Finding id -> (ladder layout, its SVG) for the first findings in page order."""
    if capture is None:
        return {}
    from pcapkit.plots.ladders import report_ladders

    ordered = [f for _, _, group in grouped(findings) for f in group]
    layouts = report_ladders(capture, ordered)
    return {fid: (layout, ladder_svg(layout, f"ladder{i}"))
            for i, (fid, layout) in enumerate(layouts.items())}


def _findings(findings: list[dict[str, Any]],
              ladders: dict[str, tuple[LadderLayout, str]]) -> list[str]:
    out = ['<section id="details"><h2>Findings in detail</h2>']
    from pcapkit.plots.ladders import REPORT_LADDERS

    cited = sum(1 for f in findings if f["evidence"])
    if len(ladders) == REPORT_LADDERS and cited > REPORT_LADDERS:
        out.append(f'<p class="note">Ladder diagrams are drawn for the first {REPORT_LADDERS} '
                   f"findings with evidence packets of {cited}; <code>cap.ladder(flow_id)"
                   "</code> in a notebook draws any flow.</p>")
    severity_seen = None
    for severity, category, group in grouped(findings):
        if severity != severity_seen:
            severity_seen = severity
            out.append(f"<h3>{_badge(severity)} {e(severity)}</h3>")
        out.append(f"<h3>{e(category)} ({len(group)})</h3>")
        out += [finding_card(f, ladders.get(f["id"])) for f in group]
    if not findings:
        out.append("<p>No findings.</p>")
    out.append("</section>")
    return out


def finding_card(f: dict[str, Any], ladder: tuple[LadderLayout, str] | None = None) -> str:
    """One finding (a report's finding dict) as the report's HTML card: severity, title,
    ids, summary, ends, evidence filters and sightings, remediation, and its ladder when
    given (the layout and the SVG). A notebook's finding shows this same card."""
    color = SEVERITY_COLORS.get(f["severity"], UNKNOWN_KIND)
    when = (f"{e(f['first_seen'])} .. {e(f['last_seen'])}" if f["first_seen"]
            else "not in the captures' time")
    parts = [f'<article class="finding" id="f-{e(f["id"])}" style="border-left-color:{color}">',
             f"<h4>{_badge(f['severity'])} {e(f['title'])}</h4>",
             f'<div class="meta">id <code>{e(f["id"])}</code> · rule <code>{e(f["rule"])}'
             f"</code> · {e(f['category'])} · {e(f['count'])} row(s) · {when}"
             + (f" · {e(f['protocol'])}" if f["protocol"] else "")
             + (f" port {e(f['port'])}" if f["port"] is not None else "") + "</div>",
             f"<p>{e(f['summary'])}</p>", _ends_table(f)]
    if ladder is not None:
        parts += _ladder(*ladder)
    filters = file_filters(f)
    total = f["details"].get("evidence_total", len(f["evidence"]))
    if filters:
        parts.append(f"<p>Evidence: {e(total)} sighting(s).</p><ul>")
        parts += [f"<li><code>{e(file)}</code>: filter <code>{e(flt)}</code><br>"
                  f"<code>{e(wireshark_command(file, flt))}</code></li>"
                  for file, flt in filters.items()]
        parts.append("</ul>")
    if f["evidence"]:
        parts.append(f"<details><summary>Sightings ({len(f['evidence'])} of {e(total)})"
                     "</summary><table><thead><tr><th>file</th><th>frame</th><th>time</th>"
                     "<th>node</th><th>interface</th></tr></thead><tbody>")
        parts += [f"<tr><td>{e(s['file'])}</td><td>{e(s['frame'])}</td><td>{e(s['time'])}</td>"
                  f"<td>{e(s['node'] or '-')}</td><td>{e(s['interface'] or '-')}</td></tr>"
                  for s in f["evidence"]]
        parts.append("</tbody></table></details>")
    if f["remediation"]:
        parts.append(f"<p><b>What to do:</b> {e(f['remediation'])}</p>")
    if f["references"]:
        parts.append("<p>References: " + ", ".join(_reference(r) for r in f["references"])
                     + "</p>")
    # shown elsewhere on the page (filters) or only for export-evidence (every frame)
    details = {k: v for k, v in f["details"].items()
               if k not in ("display_filters", "evidence_frames")}
    if details:
        parts.append("<details><summary>Details</summary><table><tbody>")
        parts += [f"<tr><th>{e(k)}</th><td>{e(_value(v))}</td></tr>" for k, v in details.items()]
        parts.append("</tbody></table></details>")
    parts.append("</article>")
    return "\n".join(parts)


def _ladder(layout: LadderLayout, picture: str) -> list[str]:
    """The ladder of a finding's first evidence flow with its legend, open."""
    flows = ("flows " if len(layout.flows) > 1 else "flow ") + \
        " and ".join(str(flow) for flow in layout.flows)
    legend = [f'<span><i class="line" style="background:{LADDER_COLORS[0]}"></i>from '
              f"{e(layout.orig)}</span>"]
    if (layout.packets["direction"] == 1).any():
        legend.append(f'<span><i class="line" style="background:{LADDER_COLORS[1]}"></i>from '
                      f"{e(layout.resp)}</span>")
    if (layout.packets["direction"] == 2).any():
        legend.append(f'<span><i class="line" style="background:{LADDER_COLORS[2]}"></i>'
                      "other (ICMP errors)</span>")
    if len(layout.nat_links):
        legend.append('<span><i class="dash"></i>the same packet after the Service NAT</span>')
    if layout.packets["missed"].any():
        legend.append('<span><b style="color:#d32f2f">✕</b> '
                      + ("last seen: nothing came back" if layout.silent else
                         "last seen: it never reached the lane the other end's packets start "
                         "in") + "</span>")
    return [f'<details open><summary>Ladder diagram of {e(flows)} across capture points '
            f"({e(layout.caption)}; time goes down, one row per packet)</summary>",
            f'<p class="legend">{"".join(legend)}</p>', picture, "</details>"]


def _ends_table(f: dict[str, Any]) -> str:
    fields = [(key, label) for key, label in _END_FIELDS
              if f["src"].get(key) is not None or f["dst"].get(key) is not None]
    if not fields:
        return ""
    head = "".join(f"<th>{label}</th>" for _, label in fields)
    rows = "".join(f"<tr><th>{role}</th>"
                   + "".join(f"<td>{e(_value(f[end].get(key)))}</td>" for key, _ in fields)
                   + "</tr>" for role, end in (("from", "src"), ("to", "dst")))
    return f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _reference(reference: str) -> str:
    """A link for a web address (opened by the reader; nothing is fetched), else text."""
    if reference.startswith(("https://", "http://")) and not any(c in reference
                                                                  for c in "<>\"' \n"):
        return f'<a href="{e(reference)}" rel="noopener noreferrer">{e(reference)}</a>'
    return f"<code>{e(reference)}</code>"


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def short_time(stamp: str | None) -> str:
    """A report time (ISO 8601, to the nanosecond) shortened to the microsecond with the
    date and the time apart, for tables of findings; ``-`` when there is none (a snapshot
    finding). The report and a notebook's finding table show times this one way."""
    if not stamp:
        return "-"
    day, _, clock = stamp.rstrip("Z").partition("T")
    return f"{day} {clock[:15]}"


def _badge(severity: str) -> str:
    return (f'<span class="badge" style="background:{SEVERITY_COLORS.get(severity, UNKNOWN_KIND)}'
            f'">{e(severity)}</span>')


def _inputs(report: dict[str, Any]) -> list[str]:
    out = ['<section id="inputs"><h2>Inputs</h2><table><thead><tr><th>file</th><th>node</th>'
           "<th>packets</th><th>link type</th><th>problems</th></tr></thead><tbody>"]
    for item in report["inputs"]:
        packets = f"{item['packets']:,}"
        out.append(f"<tr><td>{e(item['file'])}</td><td>{e(item['node'] or '-')}</td>"
                   f"<td>{packets}</td><td>{e(item['linktype'])}</td>"
                   f"<td>{e('; '.join(item['errors']) or '-')}</td></tr>")
    out.append("</tbody></table></section>")
    return out
