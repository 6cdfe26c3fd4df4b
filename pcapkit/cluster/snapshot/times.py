"""Kubernetes timestamps as integer nanoseconds since the epoch (UTC).

Integers keep the time-aware lookups in numpy; ``NEVER_BEFORE``/``NEVER_AFTER`` stand for
open interval ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

NEVER_BEFORE = int(np.iinfo(np.int64).min) + 1
NEVER_AFTER = int(np.iinfo(np.int64).max)


def as_utc(stamp: pd.Timestamp) -> pd.Timestamp:
    """The Timestamp in UTC; a naive one is taken as UTC already."""
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def utc_ns(stamp: pd.Timestamp) -> int:
    """Nanoseconds since the epoch of a Timestamp; a naive one is taken as UTC."""
    return int(as_utc(stamp).as_unit("ns").value)


def parse_time(value: Any) -> int | None:
    """RFC 3339 string, datetime, pandas Timestamp or epoch seconds -> ns, None if unusable."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            stamp = pd.Timestamp(value, unit="s", tz="UTC")
        else:
            stamp = as_utc(pd.Timestamp(value))
    except (ValueError, TypeError, OverflowError):
        return None
    if stamp is pd.NaT:
        return None
    return int(stamp.as_unit("ns").value)


def to_timestamp(ns: int | None) -> pd.Timestamp | None:
    """Nanoseconds -> UTC Timestamp (None and open ends -> None)."""
    if ns is None or ns in (NEVER_BEFORE, NEVER_AFTER):
        return None
    return pd.Timestamp(ns, unit="ns", tz="UTC")


def object_times(obj: dict[str, Any]) -> Iterator[int]:
    """Every timestamp an object carries (creation, deletion, status times), in ns."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    for key in ("creationTimestamp", "deletionTimestamp"):
        ns = parse_time(meta.get(key))
        if ns is not None:
            yield ns
    for entry in meta.get("managedFields") or []:
        if isinstance(entry, dict):
            ns = parse_time(entry.get("time"))
            if ns is not None:
                yield ns
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    ns = parse_time(status.get("startTime"))
    if ns is not None:
        yield ns
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict):
            for key in ("lastTransitionTime", "lastHeartbeatTime", "lastProbeTime"):
                ns = parse_time(cond.get(key))
                if ns is not None:
                    yield ns
    for key in ("containerStatuses", "initContainerStatuses"):
        for cstatus in status.get(key) or []:
            if isinstance(cstatus, dict):
                yield from _container_state_times(cstatus.get("state"))
                yield from _container_state_times(cstatus.get("lastState"))


def _container_state_times(state: Any) -> Iterator[int]:
    if not isinstance(state, dict):
        return
    for detail in state.values():
        if isinstance(detail, dict):
            for key in ("startedAt", "finishedAt"):
                ns = parse_time(detail.get(key))
                if ns is not None:
                    yield ns

