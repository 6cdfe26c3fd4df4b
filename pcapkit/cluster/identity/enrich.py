"""Add identity columns to a packet or flow table, vectorised.

Each distinct address of a column is resolved once (``AddressMap.plan``); rows only index
into those answers. Rows whose address several pods held are settled per row by comparing the
row time with the candidates' lifetimes in numpy; rows on a node address with a port column
are matched against hostNetwork/hostPort/NodePort port sets with ``np.isin``. The new columns
are categoricals, so a million rows cost a few integer arrays.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pcapkit.cluster.identity.address_map import CONFIDENCES, AddressMap, choose_timed
from pcapkit.cluster.identity.identity import Identity
from pcapkit.cluster.snapshot.times import utc_ns
from pcapkit.column_arrays import codes_of
from pcapkit.errors import PcapkitError
from pcapkit.schema import IDENTITY_FIELDS, IDENTITY_LABEL

#: Suffixes of the columns ``enrich`` adds for each address column (declared, with their
#: meanings, in the table registry).
ENRICH_FIELDS = tuple(field.name for field in IDENTITY_FIELDS)


class _Results:
    """Interned identities: rows store a small integer per identity."""

    def __init__(self) -> None:
        self.items: list[Identity | None] = [None]
        self._ids: dict[Identity, int] = {}

    def id_of(self, identity: Identity | None) -> int:
        """The small integer of ``identity`` (0 for None), interning it on first sight."""
        if identity is None:
            return 0
        found = self._ids.get(identity)
        if found is None:
            found = self._ids[identity] = len(self.items)
            self.items.append(identity)
        return found


def row_times(df: pd.DataFrame, at: object, default: int) -> np.ndarray | None:
    """Per-row time in ns from column ``at`` (or one scalar time); None = newest snapshot."""
    if at is None:
        return None
    if isinstance(at, str) and at in df.columns:
        column = df[at]
        numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        stamps = pd.to_datetime(column, utc=True, errors="coerce", unit="s" if numeric else None)
        values = stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").view(np.int64)
        values = values.copy()
        values[stamps.isna().to_numpy()] = default
        return values
    if isinstance(at, str) and at == "ts":
        return None
    try:
        stamp = pd.Timestamp(at)
    except (ValueError, TypeError) as exc:
        raise PcapkitError(f"enrich: at={at!r} is neither a column nor a time") from exc
    return np.full(len(df), utc_ns(stamp), dtype=np.int64)


def enrich_frame(
    df: pd.DataFrame,
    amap: AddressMap,
    columns: tuple[str, ...] | list[str],
    at: object,
    ports: Mapping[str, str] | None,
) -> pd.DataFrame:
    """A copy of ``df`` with ``{col}_{field}`` columns (see ENRICH_FIELDS) per column."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise PcapkitError(f"enrich: no column {missing[0]!r} in the table")
    for column, port_column in (ports or {}).items():
        if port_column not in df.columns:
            raise PcapkitError(f"enrich: no port column {port_column!r} for {column!r}")
    times = row_times(df, at, amap.default_time)
    out = df.copy()
    for column in columns:
        port_values = None
        if ports and column in ports:
            port_values = pd.to_numeric(df[ports[column]], errors="coerce").to_numpy(
                dtype="float64", na_value=np.nan)
        row_result, results = _resolve_rows(df[column], amap, times, port_values)
        for name, values in _field_columns(results).items():
            out[f"{column}_{name}"] = _gather(values, row_result, df.index)
    return out


def _resolve_rows(
    series: pd.Series, amap: AddressMap, times: np.ndarray | None, port_values: np.ndarray | None
) -> tuple[np.ndarray, _Results]:
    codes, uniques = codes_of(series)
    plan = amap.plan(list(uniques))
    results = _Results()
    unique_result = np.array([results.id_of(i) for i in plan.static] + [0], dtype=np.int64)
    codes_or_null = np.where(codes < 0, len(uniques), codes)
    row_result = unique_result[codes_or_null]

    timed_unique = plan.timed_index[:, 0] >= 0
    if timed_unique.any():
        rows = np.flatnonzero(np.append(timed_unique, False)[codes_or_null])
        when = (np.full(len(rows), amap.default_time, dtype=np.int64) if times is None
                else times[rows])
        chosen, confidence = choose_timed(plan, codes[rows], when)
        candidate = plan.timed_index[codes[rows], chosen]
        table = np.array([[results.id_of(c.identity.with_confidence(conf)) for conf in CONFIDENCES]
                          for c in plan.timed], dtype=np.int64)
        row_result[rows] = table[candidate, confidence]

    if port_values is not None and plan.ported:
        ported_codes = np.array(sorted(plan.ported), dtype=np.int64)
        rows = np.flatnonzero(np.isin(codes, ported_codes))
        row_codes = codes[rows]
        for code in ported_codes:
            here = rows[row_codes == code]
            for candidate in reversed(plan.ported[int(code)]):
                hit = np.isin(port_values[here], np.array(sorted(candidate.ports), dtype="float64"))
                row_result[here[hit]] = results.id_of(candidate.identity)
    return row_result, results


def _field_columns(results: _Results) -> dict[str, list]:
    """Per interned identity, the value of each added column."""
    values: dict[str, list] = {name: [] for name in ENRICH_FIELDS}
    for identity in results.items:
        if identity is None:
            for column in values.values():
                column.append(None)
            continue
        is_pod = identity.kind in ("pod", "host-network-pod")
        values["kind"].append(identity.kind)
        values["namespace"].append(identity.namespace)
        values["pod"].append(identity.name if is_pod else None)
        values["workload"].append(identity.workload)
        values["node"].append(identity.node or (identity.name if identity.kind == "node" else None))
        values["service"].append(identity.service)
        values["network"].append(identity.network)
        values["istio"].append(identity.istio)
        values["confidence"].append(identity.confidence)
    return values


def _gather(values: list, row_result: np.ndarray, index: pd.Index) -> pd.Series:
    codes, categories = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    categorical = pd.Categorical.from_codes(codes[row_result], categories=list(categories))
    return pd.Series(categorical, index=index)


def end_identities(ends: pd.DataFrame, amap: AddressMap | None, at: str) -> pd.DataFrame:
    """``orig_<field>`` and ``resp_<field>`` (every identity field, and ``<end>_identity``,
    the registry's ``IDENTITY_LABEL``) for a table of conversation ends (``orig_h``,
    ``orig_p``, ``resp_h``, ``resp_p`` and the time column ``at``); the ports let node
    addresses resolve to hostNetwork pods and NodePort services. Without an address map (no
    cluster snapshot) the fields are NA and ``<end>_identity`` is the address."""
    if amap is None or ends.empty:
        out = pd.DataFrame({f"{end}_{field}": pd.Categorical([None] * len(ends))
                            for end in ("orig", "resp") for field in ENRICH_FIELDS},
                           index=ends.index)
    else:
        enriched = enrich_frame(ends[["orig_h", "orig_p", "resp_h", "resp_p", at]], amap,
                                ("orig_h", "resp_h"), at,
                                {"orig_h": "orig_p", "resp_h": "resp_p"})
        out = pd.DataFrame({f"{end}_{field}": enriched[f"{end}_h_{field}"]
                            for end in ("orig", "resp") for field in ENRICH_FIELDS},
                           index=ends.index)
    for end in ("orig", "resp"):
        label = ends[f"{end}_h"].astype(object) if len(ends) else pd.Series([], dtype=object)
        for field in reversed(IDENTITY_LABEL):
            known = out[f"{end}_{field}"].astype(object)
            label = known.where(known.notna(), label)
        out[f"{end}_identity"] = label.to_numpy(dtype=object)
    return out
