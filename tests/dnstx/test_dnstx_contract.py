"""Bad input, empty input, and pairing invariants on generated message streams."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dnstx_helpers import SCENARIOS
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pcapkit.decode import decode_files
from pcapkit.dnstx import DnsOptions, build_dns_transactions
from pcapkit.errors import PcapkitError
from pcapkit.schema.dnstx import DNS
from pcapkit.vantage import seen_once


@pytest.fixture(scope="module")
def answered():
    return decode_files(SCENARIOS / "answered.pcap")


@pytest.mark.parametrize(("option", "value", "message"), [
    ("timeout", 0, "timeout must be a positive"),
    ("timeout", "soon", "timeout must be a number"),
    ("retry_window", -1, "retry_window must be a positive"),
    ("capture_end", "not a time", "capture_end='not a time' is not a time"),
    ("capture_end", {"node1": "yesterday-ish"}, "capture_end['node1']"),
])
def test_bad_options_raise_a_clear_error(answered, option, value, message):
    with pytest.raises(PcapkitError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_dns_transactions(answered.dns, answered.packets,
                               options=DnsOptions(**{option: value}))


def test_a_table_that_is_not_the_dns_table_is_named(answered):
    with pytest.raises(PcapkitError, match="DNS table lacks column 'dns_id'"):
        build_dns_transactions(answered.packets, answered.packets)
    with pytest.raises(PcapkitError, match="must be the decoder's DNS DataFrame"):
        build_dns_transactions([1, 2], answered.packets)
    with pytest.raises(PcapkitError, match="packet table lacks column 'frame'"):
        build_dns_transactions(answered.dns, answered.packets.drop(columns="frame"))


def test_capture_without_dns_gives_an_empty_table_with_every_column():
    decoded = decode_files(SCENARIOS.parent / "public" / "zeek-icmp6-toobig.pcap")
    assert decoded.dns.empty
    tx = build_dns_transactions(decoded.dns, decoded.packets)
    assert tx.empty and list(tx.columns) == DNS.names


def test_per_node_capture_end(answered):
    packets = seen_once(answered.packets).packets
    dns = answered.dns[answered.dns["qr"] == False]  # noqa: E712 - nullable boolean column
    early = {"unknown": answered.packets["ts"].min() + pd.Timedelta(seconds=1)}
    assert build_dns_transactions(dns, packets, options=DnsOptions(capture_end=early))[
        "status"].tolist() == [
        "unanswered_at_capture_end"]
    late = {"unknown": answered.packets["ts"].min() + pd.Timedelta(seconds=60)}
    assert build_dns_transactions(dns, packets, options=DnsOptions(capture_end=late))[
        "status"].tolist() == [
        "unanswered"]


def _message_table(events: list[tuple[int, bool, int, int]]) -> pd.DataFrame:
    """A DNS table from (time in ms, is_response, dns_id, client port) events."""
    n = len(events)
    t_ms, is_resp, ids, ports = (np.array(v) for v in zip(*events, strict=True)) if n else (
        np.zeros(0, int), np.zeros(0, bool), np.zeros(0, int), np.zeros(0, int))
    client, server = "10.0.0.1", "10.0.0.53"
    return pd.DataFrame({
        "file": pd.Categorical(["gen.pcap"] * n),
        "frame": pd.array(np.arange(1, n + 1), dtype="Int64"),
        "ts": pd.to_datetime(1_700_000_000_000 + t_ms, unit="ms", utc=True),
        "src": pd.Categorical(np.where(is_resp, server, client)),
        "dst": pd.Categorical(np.where(is_resp, client, server)),
        "sport": pd.array(np.where(is_resp, 53, ports), dtype="UInt16"),
        "dport": pd.array(np.where(is_resp, ports, 53), dtype="UInt16"),
        "transport": ["udp"] * n,
        "dns_id": pd.array(ids, dtype="UInt16"),
        "qr": pd.array(is_resp, dtype="boolean"),
        "tc": pd.array(np.zeros(n, bool), dtype="boolean"),
        "rcode_name": pd.array(np.where(is_resp, "NOERROR", "NOERROR"), dtype="string"),
        "qname": pd.array(["svc.example"] * n, dtype="string"),
        "qtype": pd.array(np.ones(n, int), dtype="UInt16"),
        "qtype_name": pd.array(["A"] * n, dtype="string"),
        "ancount": pd.array(np.zeros(n, int), dtype="UInt16"),
        "answers": [[] for _ in range(n)],
        "answer_addrs": [[] for _ in range(n)],
        "malformed": np.zeros(n, bool),
        "incomplete": np.zeros(n, bool),
    })


events = st.lists(st.tuples(st.integers(0, 20_000), st.booleans(), st.integers(0, 3),
                            st.sampled_from([5000, 5001])), max_size=40)


@settings(max_examples=150, deadline=None)
@given(events)
# Two queries at one instant: transactions (and so retry attempts) follow capture order.
@example([(0, False, 1, 5000), (1, False, 0, 5000), (1, False, 1, 5000)])
def test_every_message_is_in_exactly_one_transaction(stream):
    stream = sorted(stream)
    dns = _message_table(stream)
    tx = build_dns_transactions(dns)
    queries = sum(1 for e in stream if not e[1])
    responses = len(stream) - queries
    assert (tx["query_frame"].notna()).sum() == queries
    paired = tx["response_frame"].notna()
    assert paired.sum() + tx["duplicate_responses"].sum() == responses
    used = pd.concat([tx["query_frame"].dropna(), tx["response_frame"].dropna()])
    assert used.is_unique
    both = tx[tx["query_frame"].notna() & paired]
    assert (both["latency_s"] >= 0).all() and (both["latency_s"] <= 5.0).all()
    assert (both["dns_id"] == dns["dns_id"].iloc[both["response_frame"] - 1].to_numpy()).all()
    assert ((tx["status"] == "response_only") == tx["query_frame"].isna()).all()
    # Attempts number each retry chain 1..n in time order (queries at one instant in
    # capture order: a sort that is not stable would shuffle them).
    for _, chain in tx.dropna(subset=["retry_of"]).groupby("retry_of"):
        assert chain.sort_values(["query_ts", "query_frame"])["attempt"].tolist() == list(
            range(1, len(chain) + 1))
