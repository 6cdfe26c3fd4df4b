"""Service DNAT matching: one exchange seen before and after kube-proxy's rewrite.

A pod talks to a Service's cluster IP (10.96.0.10:53). Its veth sees packets to that
address; after kube-proxy's DNAT the bridge, the tunnel and the NIC see the same packets to
a backend pod (10.244.2.20:53), and the replies are un-NATed before they reach the veth.
Keyed on addresses these are two *items* (two flows, or two DNS transactions): the *service
side* S (client -> Service) and the *backend side* B (client -> backend). This is the part
both stages share; ``pcapkit.flows.nat`` and ``pcapkit.dnstx.nat`` say what an item is, add
their own conditions (the client's SYN sequence number; the DNS id, question and reply
order) and what becomes of a pair (linked flows; one merged transaction).

S and B are one exchange when

* they have the same client address and port and transport (and the caller's other keys);
* their times are at most ``window`` apart;
* S's responder is a Service address and port and B's one of its backends for that
  transport: the cluster's table (``Cluster.service_backends``) or, without a cluster, one
  the caller's conservative rule allows (:func:`successive_pairs` finds its candidates);
* no capture point saw S's and B's packets going the same way (:func:`seen_at_one_point`):
  a point sees a packet before or after the rewrite, never both.

Each S takes the nearest B, each B is used once (:func:`nearest_one_to_one`).

Items are a table with the columns ``ITEM_COLUMNS``; a Service -> backend table has the
columns of ``Cluster.service_backends`` (service_ip, service_port, transport, backend_ip,
backend_port), written in the same values as the items (the flow stage uses address codes
and IP protocol numbers, the DNS stage strings).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

ITEM_COLUMNS = ("client", "client_port", "transport", "server", "server_port", "t")
"""One row per item: who asked whom over which transport, and when (int64 ns)."""

_PAIR_COLUMNS = ("s", "b", "dt")


def no_pairs() -> pd.DataFrame:
    """A pair table without rows: ``s``, ``b`` (item positions) and ``dt`` (ns)."""
    return pd.DataFrame({c: np.zeros(0, np.int64) for c in _PAIR_COLUMNS})


def mapped_pairs(items: pd.DataFrame, mapping: pd.DataFrame, window_ns: int, *,
                 same: Sequence[str] = (), backend_after: bool = False) -> pd.DataFrame:
    """Every (S, B) pair the Service -> backend table ``mapping`` allows, with ``dt``.

    ``items``: ITEM_COLUMNS plus ``same`` (further columns S and B must share) plus any
    the caller wants back; its row positions are the item numbers. The result has ``s``,
    ``b``, ``dt`` = |t_B - t_S| <= ``window_ns`` (with ``backend_after`` B may not come
    before S), the columns of S, those of B suffixed ``_b``, and the mapping's columns."""
    if mapping.empty or items.empty:
        return no_pairs()
    frame = items.reset_index(drop=True).assign(s=np.arange(len(items), dtype=np.int64))
    service = frame.merge(mapping, left_on=["server", "server_port", "transport"],
                          right_on=["service_ip", "service_port", "transport"])
    if service.empty:
        return no_pairs()
    key = ["client", "client_port", "transport", *same]
    pairs = service.merge(frame.rename(columns={"s": "b"}),
                          left_on=[*key, "backend_ip", "backend_port"],
                          right_on=[*key, "server", "server_port"], suffixes=("", "_b"))
    delta = pairs["t_b"].to_numpy(dtype=np.int64) - pairs["t"].to_numpy(dtype=np.int64)
    ok = (np.abs(delta) <= window_ns) & ((delta >= 0) | (not backend_after))
    pairs = pairs[ok].reset_index(drop=True)
    pairs["dt"] = np.abs(delta[ok])
    return pairs


def successive_pairs(keys: Sequence[np.ndarray], t: np.ndarray,
                     responders: Sequence[np.ndarray], window_ns: int) -> pd.DataFrame:
    """(S, B) candidates found in the capture alone: items with equal ``keys`` that follow
    each other in time (``t``, ns), B strictly later and at most ``window_ns`` after S, to a
    different responder (some array of ``responders`` differs). Positions index the arrays."""
    n = len(t)
    if n < 2:
        return no_pairs()
    order = np.lexsort((t, *reversed(keys)))
    same = np.ones(n - 1, dtype=bool)
    for key in keys:
        ordered = key[order]
        same &= ordered[1:] == ordered[:-1]
    other = np.zeros(n - 1, dtype=bool)
    for responder in responders:
        ordered = responder[order]
        other |= ordered[1:] != ordered[:-1]
    ordered_t = t[order]
    dt = ordered_t[1:] - ordered_t[:-1]
    hit = np.flatnonzero(same & other & (dt > 0) & (dt <= window_ns))
    return pd.DataFrame({"s": order[hit].astype(np.int64),
                         "b": order[hit + 1].astype(np.int64), "dt": dt[hit]})


def seen_at_one_point(points: pd.DataFrame, first: np.ndarray,
                      second: np.ndarray) -> np.ndarray:
    """True where one capture point saw ``first[i]`` and ``second[i]``.

    ``points``: (``item``, ``point_id``) rows, the capture points (``Vantage.sightings``'
    ``point_id``) at which each item was seen. An item is what the caller compares: the
    client-to-server packets of a flow, one DNS message."""
    if not len(first) or points.empty:
        return np.zeros(len(first), dtype=bool)
    pairs = pd.DataFrame({"pair": np.arange(len(first)), "first": first, "second": second})
    left = pairs.merge(points, left_on="first", right_on="item")[["pair", "point_id"]]
    right = pairs.merge(points, left_on="second", right_on="item")[["pair", "point_id"]]
    out = np.zeros(len(first), dtype=bool)
    out[left.merge(right, on=["pair", "point_id"])["pair"].unique()] = True
    return out


def nearest_one_to_one(pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairs kept when each S takes its nearest B (smallest ``dt``, then the earlier
    positions) and each B is used once; sorted by ``s``."""
    nearest = pairs.sort_values(["dt", "s", "b"], kind="stable")
    nearest = nearest.drop_duplicates("s").drop_duplicates("b")
    return nearest.sort_values("s", kind="stable").reset_index(drop=True)
