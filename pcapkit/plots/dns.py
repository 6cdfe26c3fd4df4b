"""DNS latency over time by server, timeouts, error answers and retries marked.

One point per DNS transaction (``capture.dns``) at its query time: answered ones at their
latency (log scale), a query that got no answer (``unanswered``, or still open when the
capture stopped) as a cross along the top, an error rcode (SERVFAIL, REFUSED, another
error, a truncated answer) as a square, a retry (``attempt`` > 1) ringed. A series is a
server: the address queried (``resp_h``, the Service IP before its DNAT) and the resolver
behind it (``backend_ip``, its pod when the cluster names it), so one slow CoreDNS replica
behind kube-dns stands apart. The ``MAX_SERVERS`` busiest servers get their own series,
the rest one more. Masks and one factorize over the table; a scatter per series and kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pcapkit.column_arrays import NAT_NS, labels_at, times_ns
from pcapkit.plots.figure import Figure, message_figure, new_figure, utc_text

if TYPE_CHECKING:
    from pcapkit.capture import Capture

MAX_SERVERS = 10
#: statuses of a query that never got an answer
NO_ANSWER = ("unanswered", "unanswered_at_capture_end")
#: statuses of an answer that is an error (nxdomain is an answer: the name does not exist)
ERROR_ANSWER = ("servfail", "refused", "other_error", "truncated")
TITLE = "DNS latency by server"


def plot_dns(capture: Capture) -> Figure:
    """DNS latency over time by server (module docstring); a figure saying so when the
    capture holds no DNS transaction."""
    dns = capture.dns
    stamps = times_ns(dns["query_ts"]) if len(dns) else np.zeros(0, np.int64)
    if len(dns):  # a response seen without its query: the response's time
        stamps = np.where(stamps == NAT_NS, times_ns(dns["response_ts"]), stamps)
    known = stamps != NAT_NS
    if not known.any():
        return message_figure(TITLE, "no DNS transactions in this capture")
    dns, stamps = dns[known], stamps[known]
    status = labels_at(dns["status"])
    latency_ms = dns["latency_s"].to_numpy(dtype=np.float64, na_value=np.nan) * 1e3
    silent = np.isin(status, NO_ANSWER)
    error = np.isin(status, ERROR_ANSWER)
    retry = dns["attempt"].to_numpy(dtype=np.int64, na_value=1) > 1
    drawn_at = np.isfinite(latency_ms) & (latency_ms > 0)
    server, names = _servers(dns)
    when = stamps.astype("datetime64[ns]")

    figure = new_figure(10.0, 5.6)
    strip, ax = figure.subplots(2, 1, sharex=True, height_ratios=(1, 6))
    colors = np.array([f"C{i % 10}" for i in range(len(names))], dtype=object)
    for code, name in enumerate(names):
        mine = server == code
        answered = mine & drawn_at & ~error
        ax.scatter(when[answered], latency_ms[answered], s=16, color=colors[code],
                   label=f"{name}: {int(mine.sum())} queries")
        bad = mine & drawn_at & error
        if bad.any():
            ax.scatter(when[bad], latency_ms[bad], s=30, marker="s", color=colors[code],
                       edgecolors="#1d2228", label="_error")
    if error.any():
        ax.scatter([], [], marker="s", s=30, color="white", edgecolors="#1d2228",
                   label=f"error answer ({int(error.sum())}): SERVFAIL, REFUSED, other, TC")
    strip.scatter(when[silent], np.zeros(int(silent.sum())), marker="x", s=50,
                  color=list(colors[server[silent]]), linewidths=2,
                  label=f"no answer ({int(silent.sum())}): in the top strip" if silent.any()
                  else "_no answer")
    for axes, ringed, y in ((ax, retry & drawn_at, latency_ms), (strip, retry & silent,
                                                                  np.zeros(len(dns)))):
        axes.scatter(when[ringed], y[ringed], s=150, facecolors="none", edgecolors="#1d2228",
                     linewidths=1, label=f"retry ({int(retry.sum())}): attempt 2 or later"
                     if axes is ax and retry.any() else "_retry")
    _latency_axis(ax, latency_ms[drawn_at])
    strip.set_yticks([0], ["no answer"])
    strip.set_ylim(-1, 1)
    strip.tick_params(axis="y", length=0)
    strip.grid(True, axis="x", color="#e6e9ed")
    _time_axis(ax)
    handles, labels = ax.get_legend_handles_labels()
    extra = strip.get_legend_handles_labels()
    figure.legend(handles + extra[0], labels + extra[1], loc="outside lower center",
                  ncols=2, fontsize=8, frameon=False)
    failed = int(silent.sum() + error.sum())
    strip.set_title(f"{TITLE}: {len(dns)} transactions, {failed} without a usable answer, "
                    f"{int(retry.sum())} retries\nfrom {utc_text(int(stamps.min()))}",
                    fontsize=10)
    return figure


def _latency_axis(ax: object, latency_ms: np.ndarray) -> None:
    """A log latency axis over whole decades, ticks in plain milliseconds."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    positive = latency_ms[latency_ms > 0]
    low = 10 ** np.floor(np.log10(positive.min())) if len(positive) else 0.1
    high = 10 ** np.ceil(np.log10(positive.max())) if len(positive) else 1000.0
    ax.set_yscale("log")
    ax.set_ylim(low, max(high, low * 10))
    ax.yaxis.set_major_locator(LogLocator(base=10))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel("latency (ms, log)")
    ax.grid(True, which="major", color="#e6e9ed")


def _time_axis(ax: object) -> None:
    """Concise UTC time labels on a datetime x axis (shared with the strip above)."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_xlabel("query time (UTC)")


def _servers(dns: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Per transaction the code of its series, and each series' name: the address queried
    and the resolver behind it, the busiest ``MAX_SERVERS`` apart, the rest together."""
    queried = labels_at(dns["resp_h"])
    backend = labels_at(dns["backend_ip"]) if "backend_ip" in dns.columns else \
        np.full(len(dns), None, dtype=object)
    key = pd.MultiIndex.from_arrays([pd.Index(queried, dtype=object),
                                     pd.Index(backend, dtype=object)])
    codes, uniques = pd.factorize(key)
    counts = np.bincount(codes, minlength=len(uniques))
    ranked = np.lexsort((np.arange(len(uniques)), -counts))
    keep = ranked[:MAX_SERVERS]
    code_of = np.full(len(uniques), min(len(keep), MAX_SERVERS), dtype=np.int64)
    code_of[keep] = np.arange(len(keep))
    first = pd.Series(np.arange(len(dns))).groupby(codes).first().to_numpy()
    names = [_server_name(dns.iloc[int(first[u])]) for u in keep]
    if len(uniques) > len(keep):
        names.append(f"{len(uniques) - len(keep)} other servers")
    return code_of[codes], names


def _server_name(tx: pd.Series) -> str:
    """``10.96.0.10 kube-system/kube-dns -> 10.244.2.20 coredns-...``: the address queried
    with what the cluster calls it, and the resolver behind a Service."""
    name = str(tx["resp_h"])
    identity = tx.get("resp_identity")
    if isinstance(identity, str) and identity and identity != name:
        name += f" {identity}"
    backend = tx.get("backend_ip")
    if not pd.isna(backend) and str(backend) != str(tx["resp_h"]):
        pod = tx.get("backend_pod")
        name += f" → {backend}" + (f" {pod}" if isinstance(pod, str) and pod else "")
    return name
