"""What a Capture says about itself: a one-line ``repr`` and an HTML summary.

The ``repr`` only reports what has been computed already (an undecoded Capture says so and
stays undecoded: printing one in a terminal must not start a long decode); the HTML summary
is what a notebook shows for ``cap`` on its own and computes what it needs: files and the
node of each, the time span, packets, flows, DNS transactions and the findings by severity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pcapkit.column_arrays import NAT_NS, packet_times_ns
from pcapkit.explore.findings import severity_text
from pcapkit.explore.html import MAX_ROWS, badge, block, cell, frame_table, stats

if TYPE_CHECKING:
    from pcapkit.capture import Capture

#: paths a ``repr`` names before it only counts them
_NAMED_PATHS = 2


def capture_repr(capture: Capture) -> str:
    """``<pcapkit.Capture ...>``: what is known without computing anything more."""
    known = capture.__dict__
    parts = []
    if capture.parent is not None and capture.selection is not None:
        parts.append(f"narrowed to {capture.selection.describe()}")
    if "inputs" in known:
        parts.append(f"{len(capture.inputs.files)} file(s)")
    else:
        names = [str(p) for p in capture.paths[:_NAMED_PATHS]]
        more = len(capture.paths) - len(names)
        parts.append(", ".join(names) + (f" and {more} more" if more > 0 else ""))
    if "decoded" not in known:
        return f"<pcapkit.Capture {'; '.join(parts)}; not decoded yet>"
    if "points" in known:
        nodes = sorted(set(capture.points["node"].dropna().astype(str)))
        parts.append("nodes " + (",".join(nodes) or "none"))
    packets = capture.vantage.packets if "vantage" in known else capture.decoded.packets
    parts.append(span_text(packets))
    parts.append(f"{len(packets):,} packets")
    if capture.errors:
        parts.append(f"{len(capture.errors)} read problem(s): {capture.errors[0]}")
    if "_flows" in known:
        parts.append(f"{len(capture.flows):,} flows")
    if "findings" in known:
        parts.append("findings: " + severity_text(capture.findings.by_severity()))
    return f"<pcapkit.Capture {'; '.join(parts)}>"


def capture_html(capture: Capture) -> str:
    """The notebook summary: figures, files, read problems and the findings."""
    packets = capture.packets
    findings = capture.findings
    points = capture.points
    nodes = sorted(set(points["node"].dropna().astype(str)))
    per_file = packets.groupby("file", observed=True).size()
    files = pd.DataFrame({"file": points["file"].astype(str),
                          "node": points["node"].astype(object),
                          "packets": points["file"].astype(str).map(
                              {str(k): int(v) for k, v in per_file.items()}).fillna(0)
                          .astype(int)})
    title = "pcapkit capture" + (f" narrowed to {capture.selection.describe()}"
                                 if capture.selection is not None else "")
    figures = [("files", len(files)), ("nodes", len(nodes)),
               ("packets", f"{len(packets):,}"), ("flows", f"{len(capture.flows):,}"),
               ("DNS transactions", f"{len(capture.dns):,}"), ("findings", len(findings))]
    severities = "".join(f"{badge(s)} {n} " for s, n in findings.by_severity().items() if n)
    parts = [f"<h3>{cell(title)}</h3>",
             f'<div class="meta">{cell(span_text(packets))}'
             + (f" · cluster: {cell(repr(capture.cluster))}" if capture.cluster is not None
                else " · no cluster snapshot") + "</div>",
             stats(figures), f"<p>{severities}</p>" if severities else "",
             frame_table(files, limit=MAX_ROWS, what="file")]
    parts += [f'<p class="problem">{cell(str(error))}</p>' for error in capture.errors[:5]]
    if len(capture.errors) > 5:
        parts.append(f'<p class="problem">... {len(capture.errors) - 5} more read problems'
                     "</p>")
    parts.append(findings.html())
    return block(*parts)


def span_text(packets: pd.DataFrame) -> str:
    """First .. last packet time and the seconds between ("no packets" when empty)."""
    t = packet_times_ns(packets) if len(packets) else np.zeros(0, np.int64)
    t = t[t != NAT_NS]
    if not len(t):
        return "no packets"
    first, last = (pd.Timestamp(int(v), unit="ns", tz="UTC") for v in (t.min(), t.max()))
    return (f"{first.strftime('%Y-%m-%d %H:%M:%S.%f')} .. {last.strftime('%H:%M:%S.%f')} "
            f"UTC ({(last - first).total_seconds():.3f} s)")

