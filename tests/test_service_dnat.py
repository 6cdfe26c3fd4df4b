"""pcapkit.service_dnat: the Service-DNAT matching flows and DNS transactions share (their
end-to-end cases are tests/flows/test_nat.py, tests/dnstx/test_dnstx_nat.py and
tests/test_kernel_dnat.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pcapkit.service_dnat import (
    mapped_pairs,
    nearest_one_to_one,
    seen_at_one_point,
    successive_pairs,
)

MAPPING = pd.DataFrame({"service_ip": ["10.96.0.10"], "service_port": [53], "transport": ["udp"],
                        "backend_ip": ["10.244.2.20"], "backend_port": [53],
                        "backend_pod": ["coredns"]})


def _items(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["client", "client_port", "transport", "server",
                                       "server_port", "t", "dns_id"])


def test_mapped_pairs_join_a_service_side_to_its_backend_side_within_the_window():
    items = _items([
        ("10.244.1.10", 40000, "udp", "10.96.0.10", 53, 1000, 7),    # S
        ("10.244.1.10", 40000, "udp", "10.244.2.20", 53, 1020, 7),   # its B
        ("10.244.1.10", 40000, "udp", "10.244.2.20", 53, 990, 8),    # another id
        ("10.244.1.11", 40000, "udp", "10.244.2.20", 53, 1010, 7),   # another client
        ("10.244.1.10", 40000, "udp", "10.244.2.20", 53, 5000, 7),   # too late
    ])
    pairs = mapped_pairs(items, MAPPING, 100, same=["dns_id"])
    assert pairs[["s", "b", "dt"]].values.tolist() == [[0, 1, 20]]
    assert pairs["backend_pod"].tolist() == ["coredns"]
    assert len(mapped_pairs(items, MAPPING, 100)) == 2                # ids not compared
    early = items.assign(t=[1000, 980, 0, 0, 0])
    assert len(mapped_pairs(early, MAPPING, 100, same=["dns_id"], backend_after=True)) == 0
    assert mapped_pairs(items, MAPPING.iloc[:0], 100).empty


def test_successive_pairs_need_the_same_keys_a_later_time_and_another_responder():
    key = np.array([1, 1, 1, 2, 2])
    t = np.array([0, 5, 5, 0, 50])
    server = np.array(["a", "b", "c", "a", "b"], dtype=object)
    pairs = successive_pairs([key], t, [server], 10)
    assert pairs.values.tolist() == [[0, 1, 5]]     # 1 -> 2 is not later; 3 -> 4 too far
    same_server = successive_pairs([key], t, [np.zeros(5, np.int64)], 10)
    assert same_server.empty


def test_seen_at_one_point_compares_the_points_of_both_items():
    points = pd.DataFrame({"item": [0, 0, 1, 2], "point_id": [5, 6, 6, 7]})
    assert seen_at_one_point(points, np.array([0, 0, 1]),
                             np.array([1, 2, 2])).tolist() == [True, False, False]
    assert seen_at_one_point(points.iloc[:0], np.array([0]), np.array([1])).tolist() == [False]


def test_each_service_side_takes_its_nearest_backend_and_each_backend_is_used_once():
    pairs = pd.DataFrame({"s": [0, 0, 1, 2], "b": [10, 11, 10, 11], "dt": [5, 3, 1, 3]})
    kept = nearest_one_to_one(pairs)
    # 1 -> 10 is nearest of all; 0's nearest 11 ties with 2's and the earlier S wins.
    assert kept[["s", "b"]].values.tolist() == [[0, 11], [1, 10]]
