"""The vantage stage a share at a time: the same Vantage as ``build_sightings`` over the
whole incident, from shares keyed by ``partition_of``.

Per share: fingerprints, points and the clock candidates; once: the offsets, from every
share's candidates (the first bursts in fingerprint order, as in one pass); per share again:
grouping on corrected times; once: packet ids, by earliest sighting across shares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pcapkit.partition.keys import partition_of
from pcapkit.vantage.build import (
    Vantage,
    _sightings,
    check_windows,
    clock_candidates,
    finish,
    group_rows,
    number_packets,
    offsets_from_candidates,
    prepare_rows,
)

if TYPE_CHECKING:
    from pcapkit.decode.files import Decoded


def build_sightings_partitioned(decoded: Decoded, points: pd.DataFrame, shares: int, *,
                                window: float = 1.0, clock_window: float = 300.0
                                ) -> tuple[Vantage, list[Vantage]]:
    """(the merged Vantage, one Vantage per share); the merged one equals
    ``build_sightings(decoded, points, window=..., clock_window=...)``."""
    check_windows(window, clock_window)
    rows = prepare_rows(decoded.packets, points)
    share = partition_of(rows.packets, shares)
    positions = [np.flatnonzero(share == s) for s in range(max(shares, 1))]
    parts = [rows.take(p) for p in positions]
    candidates = [clock_candidates(part, int(clock_window * 1e9)) for part in parts]
    offsets = offsets_from_candidates(candidates, rows.names, rows.weights)
    grouped = [group_rows(part, offsets, int(window * 1e9)) for part in parts]
    ids = number_packets(grouped)
    views = [finish(g, i, offsets) for g, i in zip(grouped, ids, strict=True)]
    return merge(views, positions, offsets), views


def merge(views: list[Vantage], positions: list[np.ndarray], offsets: pd.DataFrame) -> Vantage:
    """One Vantage from the shares': packets back in incident row order, sightings sorted as
    one pass sorts them, distinct packets by packet_id."""
    packets = pd.concat([v.packets for v in views], ignore_index=True)
    order = np.argsort(np.concatenate(positions), kind="stable")
    packets = packets.take(order).reset_index(drop=True)
    distinct = pd.concat([v.distinct for v in views], ignore_index=True)
    distinct = distinct.take(np.argsort(distinct["packet_id"].to_numpy(dtype=np.int64),
                                        kind="stable")).reset_index(drop=True)
    return Vantage(packets=packets, sightings=_sightings(packets), distinct=distinct,
                   clock_offsets=offsets)
