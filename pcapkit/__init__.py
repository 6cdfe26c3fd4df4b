"""pcapkit: offline packet-capture analysis for Kubernetes network incidents.

The public API::

    import pcapkit
    decoded = pcapkit.decode_files(["captures/"])   # packets, dns, interfaces, errors
    cluster = pcapkit.load_snapshot("cluster.json")  # pods, services, nodes, policies
    cluster.enrich(decoded.packets)                  # who is behind each address
    incident = pcapkit.open(["captures/"], snapshot="cluster.json")
    incident.flows, incident.dns, incident.sightings # conversations across every node
"""

from pcapkit._version import __version__
from pcapkit.api import Decoded, decode_file, decode_files, iter_decode
from pcapkit.capture import Capture, open
from pcapkit.cluster import Cluster, load_snapshot
from pcapkit.decode.config import DecodeConfig
from pcapkit.errors import CaptureError, PcapkitError, SnapshotError

__all__ = ["__version__", "Capture", "CaptureError", "Cluster", "Decoded", "DecodeConfig", "PcapkitError",
           "SnapshotError", "decode_file", "decode_files", "iter_decode", "load_snapshot", "open"]
