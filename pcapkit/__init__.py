"""pcapkit: offline packet-capture analysis for Kubernetes network incidents.

The public API::

    import pcapkit
    decoded = pcapkit.decode_files(["captures/"])   # packets, dns, interfaces, errors
    cluster = pcapkit.load_snapshot("cluster.json")  # pods, services, nodes, policies
    cluster.enrich(decoded.packets)                  # who is behind each address
    incident = pcapkit.open(["captures/"], snapshot="cluster.json")
    incident.flows, incident.dns, incident.sightings # conversations across every node
"""

import importlib

from pcapkit._version import __version__
from pcapkit.errors import CaptureError, PcapkitError, SnapshotError

#: public names and the module that defines each, imported on first use so that
#: ``import pcapkit`` (and every CLI start) pays only for what it touches
_LAZY = {
    "Decoded": "pcapkit.api", "decode_file": "pcapkit.api", "decode_files": "pcapkit.api",
    "iter_decode": "pcapkit.api", "Capture": "pcapkit.capture", "open": "pcapkit.capture",
    "Cluster": "pcapkit.cluster", "load_snapshot": "pcapkit.cluster",
    "DecodeConfig": "pcapkit.decode.config",
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'pcapkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["__version__", "Capture", "CaptureError", "Cluster", "Decoded", "DecodeConfig",
           "PcapkitError", "SnapshotError", "decode_file", "decode_files", "iter_decode",
           "load_snapshot", "open"]
