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

__all__ = ["FORMATS", "build_report", "render", "report_json"]

#: the C encoder (json uses it only without ``indent``), items separated as ``indent`` does
_COMPACT = json.JSONEncoder(separators=(", ", ": ")).encode


def render(report: dict[str, Any], fmt: str, *, color: bool = False,
           capture: Capture | None = None) -> str:
    """The report as ``fmt`` (one of ``FORMATS``); ``color`` styles text for a terminal;
    ``capture``, the one the report was built from, adds to html the ladder diagrams of
    the findings' flows."""
    if fmt == "json":
        return report_json(report) + "\n"
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


def report_json(value: Any) -> str:
    """``value`` as JSON for people and programs: objects and arrays that hold objects or
    arrays are indented by two spaces, one member or item a line, and an object or array of
    plain values (a finding's endpoint, one evidence packet, a timeline bucket) is written on
    one line by the C encoder. The same document as ``json.dumps(value, indent=2)`` in a
    third of the lines, without its pure-Python encoder (about 4x slower)."""
    out: list[str] = []
    _write(value, "\n", out)
    return "".join(out)


def _plain(value: Any) -> bool:
    return not isinstance(value, (dict, list)) or not value


def _write(value: Any, pad: str, out: list[str]) -> None:
    if isinstance(value, dict) and not all(map(_plain, value.values())):
        inner, opening = pad + "  ", "{"
        for key, item in value.items():  # a key as json writes it (non-strings too)
            out += (opening, inner, _COMPACT(key) if isinstance(key, str)
                    else _COMPACT({key: None})[1:-len(": null}")], ": ")
            _write(item, inner, out)
            opening = ","
        out += (pad, "}")
    elif isinstance(value, list) and not all(map(_plain, value)):
        inner, opening = pad + "  ", "["
        for item in value:
            out += (opening, inner)
            _write(item, inner, out)
            opening = ","
        out += (pad, "]")
    else:
        out.append(_COMPACT(value))
