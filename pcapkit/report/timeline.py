"""The report's DNS timeline: query counts, failures and latency per time bucket.

A report holds at most ``MAX_BUCKETS`` buckets however long the capture is: the bucket is the
smallest round width (1 ms ... 1 day) that covers the DNS transactions' span (or the
captures', when longer) in that many. Each bucket says how many queries were sent in it,
how many got an answer with a latency, how many failed (no answer, SERVFAIL, REFUSED or
another error rcode) and the median, 90th percentile and highest latency, so a latency
spike or a burst of timeouts lines up with the findings around it. Built with one groupby,
whatever the number of transactions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pcapkit.column_arrays import NAT_NS, times_ns

MAX_BUCKETS = 120
#: bucket widths to choose from, in seconds
WIDTHS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120,
          300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
#: statuses of a query that got no usable answer (nxdomain is an answer; a query still open
#: when the capture stopped is no failure)
FAILED = ("unanswered", "servfail", "refused", "other_error")


def dns_timeline(dns: pd.DataFrame, span_s: float = 0.0) -> dict[str, Any]:
    """The ``timeline`` section of a report from the DNS transaction table; ``span_s``, the
    captures' length, widens the buckets so the whole capture takes ``MAX_BUCKETS``."""
    stamps = times_ns(dns["query_ts"]) if len(dns) else np.empty(0, dtype=np.int64)
    if len(dns):
        answered_at = times_ns(dns["response_ts"])
        stamps = np.where(stamps == NAT_NS, answered_at, stamps)  # response_only: its time
    known = stamps != NAT_NS
    empty = {"bucket_seconds": None, "dns_transactions": int(len(dns)), "dns": []}
    if not known.any():
        return empty
    stamps = stamps[known]
    width = bucket_width(max(int(stamps.max() - stamps.min()) / 1e9, span_s))
    width_ns = round(width * 1e9)
    status = dns["status"].astype(object).to_numpy()[known]
    rows = pd.DataFrame({
        "bucket": stamps // width_ns,
        "failed": np.isin(status, FAILED),
        "latency_ms": dns["latency_s"].to_numpy(dtype=np.float64, na_value=np.nan)[known] * 1e3,
    })
    groups = rows.groupby("bucket", sort=True)
    latency = groups["latency_ms"]
    table = pd.DataFrame({"queries": groups.size(), "failed": groups["failed"].sum(),
                          "answered": latency.count(), "p50_ms": latency.quantile(0.5),
                          "p90_ms": latency.quantile(0.9), "max_ms": latency.max()})
    starts = _isos(table.index.to_numpy(dtype=np.int64) * width_ns)
    buckets = [{"start": start, "queries": int(q), "answered": int(a), "failed": int(f),
                "p50_ms": _ms(p50), "p90_ms": _ms(p90), "max_ms": _ms(top)}
               for start, q, a, f, p50, p90, top in zip(
                   starts, table["queries"], table["answered"], table["failed"],
                   table["p50_ms"], table["p90_ms"], table["max_ms"], strict=True)]
    return {**empty, "bucket_seconds": width, "dns": buckets}


def bucket_width(span_s: float) -> float:
    """The smallest width of ``WIDTHS`` that covers ``span_s`` in ``MAX_BUCKETS`` buckets
    (a bucket more for the floor of the first one)."""
    for width in WIDTHS:
        if span_s / width < MAX_BUCKETS - 1:
            return width
    return float(np.ceil(span_s / (MAX_BUCKETS - 1) / WIDTHS[-1]) * WIDTHS[-1])


def _ms(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 3)


def _isos(ns: np.ndarray) -> list[str]:
    text = np.datetime_as_string(ns.astype("datetime64[ns]"), unit="ns")
    return [f"{t}Z" for t in text]
