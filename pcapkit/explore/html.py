"""HTML for notebook cells: the report's look, scoped to one ``<div class="pcapkit">``.

A notebook shows many outputs on one page, so the report's page style
(:data:`pcapkit.report.html.STYLE`) cannot be used as it is: every rule is rewritten to
apply only inside the output's own ``div`` (``body`` becomes that ``div``). Nothing is
fetched (no scripts, fonts or images), every value from captures, the cluster or rules is
escaped, and tables show at most a few rows with a line saying how many were left out.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from pcapkit.report.html import STYLE
from pcapkit.report.svg import SEVERITY_COLORS, UNKNOWN_KIND, e

#: rows a table in a notebook cell shows at most
MAX_ROWS = 20
SCOPE = "pcapkit"
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


def scoped_style(style: str = STYLE, scope: str = SCOPE) -> str:
    """``style`` with every selector confined to ``.{scope}`` (``body``: the scope itself)."""
    rules = []
    for selectors, body in _RULE.findall(style):
        names = [s.strip() for s in selectors.split(",") if s.strip()]
        confined = [f".{scope}" if s == "body" else f".{scope} {s}" for s in names]
        rules.append(",".join(confined) + "{" + " ".join(body.split()) + "}")
    return "\n".join(rules)


#: the report's look, plus: finding ids kept on one line in a table
_STYLE = scoped_style(STYLE + "td.id code{overflow-wrap:normal;white-space:nowrap}")


def block(*parts: str) -> str:
    """One notebook output: the scoped style and ``parts`` inside the scope's div."""
    return f'<div class="{SCOPE}"><style>{_STYLE}</style>' + "".join(parts) + "</div>"


def badge(severity: str) -> str:
    """A severity as a coloured label (the report's colours)."""
    color = SEVERITY_COLORS.get(severity, UNKNOWN_KIND)
    return f'<span class="badge" style="background:{color}">{e(severity)}</span>'


def cell(value: Any) -> str:
    """A table value as escaped text: '-' for a missing one."""
    if value is None or (not isinstance(value, list | tuple | dict) and pd.isna(value)):
        return "-"
    return e(value)


def frame_table(frame: pd.DataFrame, *, limit: int = MAX_ROWS,
                columns: list[str] | None = None, what: str = "row") -> str:
    """The first ``limit`` rows of ``frame`` (``columns`` of it) as an escaped table, with a
    line counting the rows left out."""
    shown = frame if columns is None else frame[[c for c in columns if c in frame.columns]]
    head = "".join(f"<th>{e(c)}</th>" for c in shown.columns)
    rows = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in shown.head(limit).itertuples(index=False, name=None))
    out = f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    if len(frame) > limit:
        out += f'<p class="meta">{limit} of {len(frame):,} {e(what)}s shown.</p>'
    return out


def stats(items: list[tuple[str, Any]]) -> str:
    """Figures side by side, as the report's summary shows them."""
    return '<div class="stats">' + "".join(
        f'<div class="stat"><b>{e(value)}</b>{e(name)}</div>' for name, value in items) + "</div>"
