"""pcapkit: offline packet-capture analysis for Kubernetes network incidents.

Open an incident (its captures, and the cluster export when there is one) and read what
is wrong, or any table behind it::

    import pcapkit
    incident = pcapkit.open("captures/", snapshot="cluster.json")
    incident.flows, incident.dns, incident.sightings     # pandas DataFrames, every node
    incident.table("flows")                             # any table of pcapkit.schema
    incident.findings                                   # what `pcapkit analyze` finds
    incident.findings[0].explain()                      # why (the policy verdict, the paths)
    incident.filter(pod="shop/frontend-*", protocol="dns")   # narrowed, not decoded again
    incident.graph(), incident.packet(file, frame)      # networkx graph, one scapy packet

docs/api.md lists every public name with an example.

The stages on their own: ``pcapkit.decode_files(["captures/"])`` (packets, DNS messages,
interfaces, read errors), ``pcapkit.load_snapshot("cluster.json")`` (pods, services,
nodes, NetworkPolicies), ``pcapkit.run_rules(incident, pcapkit.load_rules().rules)`` (the
rule engine). ``from pcapkit import *`` leaves the builtin ``open`` alone:
call ``pcapkit.open``.
"""

from pcapkit._lazy import lazy_attributes
from pcapkit._version import __version__
from pcapkit.errors import CaptureError, PcapkitError, SnapshotError

#: public names and the module that defines each, imported on first use so that
#: ``import pcapkit`` (and every CLI start) pays only for what it touches
_LAZY = {
    "open": "pcapkit.capture", "Capture": "pcapkit.capture",
    "load_snapshot": "pcapkit.cluster", "Cluster": "pcapkit.cluster",
    "load_rules": "pcapkit.rules", "run_rules": "pcapkit.rules",
    "Decoded": "pcapkit.decode", "decode_file": "pcapkit.decode",
    "decode_files": "pcapkit.decode", "iter_decode": "pcapkit.decode",
    "DecodeConfig": "pcapkit.decode",
    "FlowOptions": "pcapkit.flows.options", "DnsOptions": "pcapkit.dnstx.options",
    "Findings": "pcapkit.explore.findings", "FindingView": "pcapkit.explore.findings",
    "Explanation": "pcapkit.explore.explain",
}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

# ``open`` is left out on purpose: a star import must not shadow the builtin.
__all__ = ["__version__", "Capture", "CaptureError", "Cluster", "Decoded", "DecodeConfig",
           "DnsOptions", "Explanation", "FindingView", "Findings", "FlowOptions",
           "PcapkitError", "SnapshotError", "decode_file", "decode_files", "iter_decode",
           "load_rules", "load_snapshot", "run_rules"]
