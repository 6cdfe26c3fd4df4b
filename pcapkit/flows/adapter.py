"""Flow input from a plain decoded packet table, when no vantage-point stage ran.

The flow stage reads distinct packets (one row per packet, however many captures saw it)
and their sightings. For a single capture without duplicates every packet is its own
distinct packet, seen once, at an unknown node, with uncorrected time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pcapkit.flows.path import sightings_of


def plain_vantage(packets: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(distinct, sightings) for a decoded table: packet_id = row number, node "unknown",
    ts_corrected = ts, n_sightings = 1."""
    distinct = packets.reset_index(drop=True).copy()
    distinct["packet_id"] = pd.array(np.arange(len(distinct)), dtype="Int64")
    if "node" not in distinct.columns:
        distinct["node"] = pd.Categorical(["unknown"] * len(distinct))
    if "ts" in distinct.columns:
        distinct["ts_corrected"] = distinct["ts"]
    distinct["n_sightings"] = pd.array(np.ones(len(distinct), dtype=np.int64), dtype="Int64")
    distinct["nodes"] = "unknown"
    return distinct, sightings_of(distinct)
