"""Exploring an incident in a notebook: what ``pcapkit.Capture`` shows and returns there.

``findings`` (:class:`Findings`, :class:`FindingView`: a collection with a DataFrame view
and HTML, and one finding's evidence, rows, explanation and ladder), ``explain`` (the
reasoning behind a finding, :class:`Explanation`), ``select`` (``Capture.filter``'s
criteria), ``graph`` (``Capture.graph()``), ``frames`` (one frame in scapy or pyshark),
``summary`` (a Capture's repr and HTML) and ``html`` (notebook HTML, the report's look
scoped to one output). Nothing here imports IPython or Jupyter: objects only offer
``_repr_html_``, which a notebook calls when it displays them.
"""

from pcapkit._lazy import lazy_attributes

_LAZY = {"Findings": "pcapkit.explore.findings", "FindingView": "pcapkit.explore.findings",
         "Explanation": "pcapkit.explore.explain", "Selection": "pcapkit.explore.select"}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

__all__ = ["Explanation", "FindingView", "Findings", "Selection"]
