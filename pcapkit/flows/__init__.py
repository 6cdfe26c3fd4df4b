"""Bidirectional flows with Zeek's vocabulary (conn_state, history, orig/resp).

>>> from pcapkit.flows import build_flows                       # doctest: +SKIP
>>> from pcapkit.vantage import seen_once
>>> view = seen_once(decode_file("capture.pcap").packets)         # one capture read alone
>>> flows = build_flows(view.distinct, view.sightings)

Every column is declared in the table registry (``pcapkit.schema.flows``, docs/columns.md).
See docs/flows.md for the rules (keys, originator, conn_state, history, path columns, and
the Service DNAT link between a connection's flows before and after kube-proxy's rewrite).
"""

from pcapkit.flows.build import assemble_flows, build_flows, enrich_flows, flow_ids
from pcapkit.flows.options import FlowOptions

__all__ = [
    "FlowOptions",
    "assemble_flows",
    "build_flows",
    "enrich_flows",
    "flow_ids",
]
