"""pcapkit: offline packet-capture analysis for Kubernetes network incidents.

The public API::

    import pcapkit
    decoded = pcapkit.decode_files(["captures/"])   # packets, dns, interfaces, errors
    cluster = pcapkit.load_snapshot("cluster.json")  # pods, services, nodes, policies
    cluster.enrich(decoded.packets)                  # who is behind each address
    incident = pcapkit.open(["captures/"], snapshot="cluster.json")
    incident.flows, incident.dns, incident.sightings # conversations across every node
"""

from pcapkit._lazy import lazy_attributes
from pcapkit._version import __version__
from pcapkit.errors import CaptureError, PcapkitError, SnapshotError

#: public names and the module that defines each, imported on first use so that
#: ``import pcapkit`` (and every CLI start) pays only for what it touches
_LAZY = {
    "Decoded": "pcapkit.decode", "decode_file": "pcapkit.decode", "decode_files": "pcapkit.decode",
    "iter_decode": "pcapkit.decode", "Capture": "pcapkit.capture", "open": "pcapkit.capture",
    "Cluster": "pcapkit.cluster", "load_snapshot": "pcapkit.cluster",
    "DecodeConfig": "pcapkit.decode",
}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)


__all__ = ["__version__", "Capture", "CaptureError", "Cluster", "Decoded", "DecodeConfig",
           "PcapkitError", "SnapshotError", "decode_file", "decode_files", "iter_decode",
           "load_snapshot", "open"]
