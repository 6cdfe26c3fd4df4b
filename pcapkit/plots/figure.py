"""What the figures share: a Figure drawn without pyplot, the "nothing to draw" figure,
findings as report dicts, and times as seconds from a start.

``Figure`` is matplotlib's own with ``_repr_png_``, so a notebook shows it inline whatever
backend is (or is not) configured, and plain Python never needs a display: matplotlib picks
the renderer from the file name when saving.
"""

from __future__ import annotations

from collections.abc import Iterable
from io import BytesIO
from typing import Any

import numpy as np
from matplotlib.figure import Figure as _Figure

from pcapkit.findings import Finding

#: the longest side of a figure, inches (a capped ladder of 200 packets stays readable)
MAX_INCHES = 30.0


class Figure(_Figure):
    """A matplotlib Figure that displays itself in IPython (``_repr_png_``)."""

    def _repr_png_(self) -> bytes:
        out = BytesIO()
        self.savefig(out, format="png", bbox_inches="tight")
        return out.getvalue()


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of ``width`` x ``height`` inches (each capped at ``MAX_INCHES``),
    laid out so titles and tick labels never overlap."""
    return Figure(figsize=(min(width, MAX_INCHES), min(height, MAX_INCHES)),
                  layout="constrained")


def message_figure(title: str, message: str) -> Figure:
    """A small figure saying why there is nothing to draw (an empty capture, no DNS)."""
    figure = new_figure(6.0, 1.6)
    figure.suptitle(title)
    figure.text(0.5, 0.45, message, ha="center", va="center", fontsize=11, color="#5a6470")
    return figure


def finding_dicts(findings: Iterable[Finding | dict[str, Any]] | None,
                  capture: object = None) -> list[dict[str, Any]]:
    """Findings in their report form: a :class:`pcapkit.findings.Finding` (or anything
    with its ``to_dict``, such as a notebook's finding view) as its dict; report dicts
    (``report["findings"]``) pass through. None: the ``capture``'s own findings when it
    has them (``Capture.findings``: the core pack, run once and kept), else none."""
    if findings is None:
        findings = getattr(capture, "findings", None)
    return [f.to_dict() if hasattr(f, "to_dict") else dict(f) for f in findings or ()]


def seconds_from(times_ns: np.ndarray, start_ns: int) -> np.ndarray:
    """Seconds since ``start_ns`` of int64 ns times (float64)."""
    return (np.asarray(times_ns, dtype=np.int64) - np.int64(start_ns)) / 1e9


def utc_text(ns: int) -> str:
    """A ns time as ``2026-12-02 21:04:10.869449 UTC`` (microseconds: a title's width)."""
    return np.datetime_as_string(np.datetime64(int(ns), "ns"), unit="us").replace("T", " ") \
        + " UTC"
