"""Figures of an incident for a notebook: each one call returning a matplotlib Figure.

``ladder(capture, flow_id)`` draws one conversation across capture points,
``plot_dns(capture)`` DNS latency over time by server, ``plot_graph(capture)`` the workload
graph with its failing edges, ``plot_traffic(capture)`` packets or bytes over time per node
pair with findings marked. A Figure shows inline in Jupyter (it has ``_repr_png_``) and
saves with ``fig.savefig("x.svg")`` / ``.png``; nothing touches pyplot's global state, so
no display is needed. A whole-capture figure with nothing to draw (no DNS transactions, no
flows, no packets) is a figure saying so; a ladder of a flow or packets the capture does not
hold is a PcapkitError. Data is prepared with one groupby or bincount per table, and only a
capped number of packets, series and spans is drawn (each figure says when it capped).
"""

from pcapkit._lazy import lazy_attributes

_LAZY = {"ladder": "pcapkit.plots.ladders", "ladder_layout": "pcapkit.plots.ladders",
         "LadderLayout": "pcapkit.plots.ladders", "plot_dns": "pcapkit.plots.dns",
         "plot_graph": "pcapkit.plots.graph", "plot_traffic": "pcapkit.plots.traffic"}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

__all__ = ["LadderLayout", "ladder", "ladder_layout", "plot_dns", "plot_graph", "plot_traffic"]
