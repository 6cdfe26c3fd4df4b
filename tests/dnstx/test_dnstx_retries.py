"""Retries and glibc's parallel A+AAAA re-send."""

from __future__ import annotations

import pandas as pd
import pytest
from dnstx_helpers import KERNEL, scenario, transactions


def test_lost_query_resent_from_a_new_socket_is_attempt_two():
    tx = scenario("retries.pcap")
    assert tx["status"].tolist() == ["unanswered", "answered", "answered"]
    assert tx["attempt"].tolist() == [1, 2, 1]
    assert tx["retry_of"].tolist() == [0, 0, 2]
    assert tx["retries"].tolist() == [1, 1, 0]
    assert tx.loc[1, "retry_delay_s"] == pytest.approx(2.0)
    assert tx["retry_pattern"].tolist()[:2] == ["resend", "resend"]
    # Asking an answered question again 4 s later is a new lookup, not a retry.
    assert pd.isna(tx.loc[2, "retry_pattern"])


def test_retry_window_bounds_what_counts_as_a_retry():
    tx = scenario("retries.pcap", retry_window=1.0)
    assert tx["attempt"].tolist() == [1, 1, 1]
    assert tx["retries"].tolist() == [0, 0, 0]


def test_glibc_parallel_pair_with_one_lost_answer_is_flagged():
    tx = scenario("glibc-race.pcap")
    assert tx["qtype"].tolist() == ["A", "AAAA", "A", "AAAA"]
    assert tx["status"].tolist() == ["answered", "unanswered", "answered", "answered"]
    assert set(tx["retry_pattern"]) == {"glibc_parallel_retry"}
    assert tx["parallel_tx_id"].tolist() == [1, 0, 3, 2]
    # Both re-sends join the chain of their first try, ~5 s later.
    assert tx["attempt"].tolist() == [1, 1, 2, 2]
    assert tx["retry_of"].tolist() == [0, 1, 0, 1]
    assert tx.loc[3, "retry_delay_s"] == pytest.approx(5.0009, abs=1e-6)
    assert tx.loc[2, "retry_delay_s"] == pytest.approx(5.001, abs=1e-6)


def test_parallel_window_limits_the_pair():
    tx = scenario("glibc-race.pcap", parallel_window=0.0001)
    assert tx["parallel_tx_id"].isna().all()
    assert "glibc_parallel_retry" not in set(tx["retry_pattern"].dropna())


def test_kernel_capture_counts_each_message_once_and_sees_the_dropped_reply():
    tx = transactions(KERNEL / "node1-any.pcap")
    assert len(tx) == 8
    # Each message is seen 4 times (veth, cni0, flannel.1, eth0): 8 with its answer.
    answered = tx["response_ts"].notna()
    assert set(tx.loc[answered, "sightings"]) == {8}
    assert set(tx.loc[~answered, "sightings"]) == {4}
    by_name = tx.groupby(["qname", "qtype"], sort=False)
    assert by_name.size().to_dict() == {
        ("web.shop.svc.cluster.local", "A"): 1, ("web.shop.svc.cluster.local", "AAAA"): 1,
        ("nosuch.shop.svc.cluster.local", "A"): 1, ("nosuch.shop.svc.cluster.local", "AAAA"): 1,
        ("timeout.shop.svc.cluster.local", "A"): 2,
        ("timeout.shop.svc.cluster.local", "AAAA"): 2,
    }
    web = tx[tx["qname"] == "web.shop.svc.cluster.local"]
    assert set(web["status"]) == {"answered"}
    assert sorted(a for addrs in web["answer_addrs"] for a in addrs) == [
        "10.244.2.10", "fd00:10:244:2::10"]
    assert set(tx.loc[tx["qname"] == "nosuch.shop.svc.cluster.local", "status"]) == {"nxdomain"}
    lost = tx[tx["qname"] == "timeout.shop.svc.cluster.local"].sort_values("query_ts")
    assert lost["attempt"].tolist() == [1, 1, 2, 2]
    assert set(lost["retry_pattern"]) == {"resend"}  # both answers dropped: not the race
    first, second = lost[lost["attempt"] == 1], lost[lost["attempt"] == 2]
    assert set(first["status"]) == {"unanswered"}  # the client re-sent it: judged
    assert second["retry_delay_s"].between(0.9, 1.2).all()  # pod_traffic.py --timeout 1.0
    # The capture stops ~1 s after the re-send: too soon to call it a timeout.
    assert set(second["status"]) == {"unanswered_at_capture_end"}
    # A and AAAA of each name left one socket together.
    assert tx["parallel_tx_id"].notna().all()
