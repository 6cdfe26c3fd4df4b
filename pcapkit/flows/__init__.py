"""Bidirectional flows with Zeek's vocabulary (conn_state, history, orig/resp).

>>> from pcapkit.flows import build_flows, flow_ids, plain_vantage      # doctest: +SKIP
>>> distinct, sightings = plain_vantage(decode_files("capture.pcap").packets)
>>> flows = build_flows(distinct, sightings)

See docs/flows.md for the rules (keys, originator, conn_state, history, path columns, and
the Service DNAT link between a connection's flows before and after kube-proxy's rewrite).
"""

from pcapkit.flows.adapter import plain_vantage
from pcapkit.flows.build import assemble_flows, build_flows, flow_ids
from pcapkit.flows.columns import ENRICHED_FIELDS, FLOW_COLUMNS, NAT_COLUMNS
from pcapkit.flows.enrich import enrich_flows

__all__ = [
    "ENRICHED_FIELDS",
    "FLOW_COLUMNS",
    "NAT_COLUMNS",
    "assemble_flows",
    "build_flows",
    "enrich_flows",
    "flow_ids",
    "plain_vantage",
]
