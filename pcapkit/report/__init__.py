"""Reports of one analysis: one JSON document, rendered as text, json, markdown or html.

``build_report(capture, findings)`` (:mod:`pcapkit.report.document`) gathers what was read,
a summary, the findings, the DNS timeline and the workload graph into one dict, the JSON
contract (``docs/report.schema.json``); ``render`` turns it into text (a terminal), json,
markdown (an incident ticket) or html (one self-contained page). Every format is rendered
from the same document, so none can lose a finding.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pcapkit.report.document import build_report

if TYPE_CHECKING:
    from pcapkit.capture import Capture

FORMATS = ("text", "json", "markdown", "html")

__all__ = ["FORMATS", "build_report", "render"]


def render(report: dict[str, Any], fmt: str, *, color: bool = False,
           capture: Capture | None = None) -> str:
    """The report as ``fmt`` (one of ``FORMATS``); ``color`` styles text for a terminal;
    ``capture``, the one the report was built from, adds to html the ladder diagrams of
    the findings' flows."""
    if fmt == "json":
        return json.dumps(report, indent=2) + "\n"
    if fmt == "markdown":
        from pcapkit.report.markdown import render_markdown

        return render_markdown(report)
    if fmt == "html":
        from pcapkit.report.html import render_html

        return render_html(report, capture=capture)
    if fmt == "text":
        from pcapkit.report.text import render_text

        return render_text(report, color)
    from pcapkit.errors import PcapkitError

    raise PcapkitError(f"unknown report format {fmt!r}: choose one of {', '.join(FORMATS)}")
