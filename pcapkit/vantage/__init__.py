"""Vantage points: which node saw each packet where, one id per distinct packet, clocks.

>>> from pcapkit.decode.files import decode_files
>>> from pcapkit.vantage import capture_points, build_sightings
>>> decoded = decode_files(["captures/node1/any.pcap", "captures/node2/eth0.pcap"])  # doctest: +SKIP
>>> vantage = build_sightings(decoded, capture_points(decoded))                      # doctest: +SKIP
>>> vantage.distinct        # one row per packet, however many times it was captured   # doctest: +SKIP

See docs/vantage.md.
"""

from pcapkit.vantage.build import (
    Vantage,
    build_sightings,
    packet_direction,
    point_ids_of,
    seen_once,
)
from pcapkit.vantage.fingerprint import FINGERPRINT_COLUMNS, packet_fingerprints
from pcapkit.vantage.points import capture_points, node_from_file_stem

__all__ = [
    "FINGERPRINT_COLUMNS",
    "Vantage",
    "build_sightings",
    "capture_points",
    "node_from_file_stem",
    "packet_direction",
    "packet_fingerprints",
    "point_ids_of",
    "seen_once",
]
