"""Pairing and status rules on crafted one-scenario captures."""

from __future__ import annotations

import filecmp
import subprocess
import sys

import pandas as pd
import pytest
from dnstx_helpers import SCENARIOS, scenario

from pcapkit.dnstx import STATUSES
from pcapkit.schema.dnstx import DNS


@pytest.mark.parametrize(("name", "status", "rcode"), [
    ("answered.pcap", "answered", "NOERROR"),
    ("nxdomain.pcap", "nxdomain", "NXDOMAIN"),
    ("servfail.pcap", "servfail", "SERVFAIL"),
    ("refused.pcap", "refused", "REFUSED"),
])
def test_one_exchange_gets_the_status_of_its_rcode(name, status, rcode):
    tx = scenario(name)
    assert len(tx) == 1
    row = tx.iloc[0]
    assert (row["status"], row["rcode"]) == (status, rcode)
    assert row["latency_s"] == pytest.approx(0.002, abs=1e-6)
    assert (row["orig_h"], row["orig_p"], row["resp_h"], row["resp_p"]) == (
        "10.244.1.10", 41000, "10.96.0.10", 53)
    assert (row["qname"], row["qtype"], row["attempt"], row["retries"]) == (
        "web.shop.svc.cluster.local", "A", 1, 0)


def test_answered_keeps_the_answer_section():
    row = scenario("answered.pcap").iloc[0]
    assert list(row["answer_addrs"]) == ["10.96.10.10"]
    assert row["answers"][0]["type"] == "A"
    assert row["ancount"] == 1


def test_tc_bit_is_truncated_and_the_tcp_retry_is_a_fallback():
    tx = scenario("truncated.pcap")
    assert tx["status"].tolist() == ["truncated", "answered"]
    assert tx["transport"].tolist() == ["udp", "tcp"]
    assert bool(tx.loc[0, "tc"]) is True
    assert tx["attempt"].tolist() == [1, 2]
    assert tx["retry_of"].tolist() == [0, 0]
    assert set(tx["retry_pattern"]) == {"tcp_fallback"}


def test_unanswered_while_the_capture_went_on():
    tx = scenario("unanswered-mid.pcap")
    assert tx["status"].tolist() == ["unanswered"]
    assert pd.isna(tx.loc[0, "response_ts"]) and pd.isna(tx.loc[0, "latency_s"])


def test_unanswered_just_before_the_capture_ended_is_not_a_timeout():
    tx = scenario("unanswered-end.pcap")
    assert tx["status"].tolist() == ["unanswered_at_capture_end"]


def test_capture_end_and_timeout_are_configurable():
    late = pd.Timestamp(1_700_000_000 + 60, unit="s", tz="UTC")
    assert scenario("unanswered-end.pcap", capture_end=late)["status"].tolist() == [
        "unanswered"]
    assert scenario("unanswered-end.pcap", timeout=0.5)["status"].tolist() == ["unanswered"]
    assert scenario("unanswered-mid.pcap", timeout=20)["status"].tolist() == [
        "unanswered_at_capture_end"]


def test_response_after_the_timeout_is_not_paired():
    tx = scenario("answered.pcap", timeout=0.001)
    assert sorted(tx["status"]) == ["response_only", "unanswered"]


def test_response_without_its_query_is_kept_as_response_only():
    tx = scenario("response-only.pcap")
    assert tx["status"].tolist() == ["response_only", "answered"]
    orphan = tx.iloc[0]
    assert pd.isna(orphan["query_ts"]) and pd.notna(orphan["response_ts"])
    assert orphan["orig_h"] == "10.244.1.10" and orphan["resp_h"] == "10.96.0.10"
    assert orphan["rcode"] == "NOERROR"


def test_second_response_counts_as_duplicate_not_as_a_row():
    tx = scenario("duplicate-response.pcap")
    assert len(tx) == 1
    assert tx.loc[0, "duplicate_responses"] == 1
    assert tx.loc[0, "latency_s"] == pytest.approx(0.002, abs=1e-6)


def test_columns_and_statuses_follow_the_contract():
    tx = scenario("retries.pcap")
    assert list(tx.columns) == DNS.names
    assert set(tx["status"]) <= set(STATUSES)
    assert tx["tx_id"].tolist() == list(range(len(tx)))
    assert tx["query_ts"].is_monotonic_increasing


def test_committed_fixtures_match_the_generator(tmp_path):
    script = SCENARIOS / "make_dnstx_fixtures.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.pcap"))
    assert made == sorted(p.relative_to(SCENARIOS) for p in SCENARIOS.rglob("*.pcap"))
    for relative in made:
        assert filecmp.cmp(tmp_path / relative, SCENARIOS / relative, shallow=False), relative
