"""Contract properties of build_flows / flow_ids on any input."""

from __future__ import annotations

import pandas as pd
import pytest
from flows_helpers import PUBLIC, flows_of, ids_of
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapkit.errors import PcapkitError
from pcapkit.flows import (
    FlowOptions,
    assemble_flows,
    build_flows,
    flow_ids,
)
from pcapkit.flows.tcpstate import CONN_STATES
from pcapkit.schema.flows import FLOWS
from pcapkit.vantage import seen_once


def _table(rows: list[dict]) -> pd.DataFrame:
    """A tiny distinct-packet table with the decoder's nullable dtypes."""
    df = pd.DataFrame(rows)
    out = pd.DataFrame({
        "ts": pd.to_datetime(df["t"], unit="s", utc=True).astype("datetime64[ns, UTC]"),
        "src": pd.Categorical(df["src"]), "dst": pd.Categorical(df["dst"]),
        "proto": pd.array(df["proto"], dtype="UInt8"),
    })
    for name, dtype in (("sport", "UInt16"), ("dport", "UInt16"), ("tcp_flags", "UInt16"),
                        ("tcp_seq", "UInt32"), ("tcp_window", "UInt16"),
                        ("payload_len", "UInt32"), ("ip_len", "UInt32")):
        out[name] = pd.array(df[name] if name in df else [None] * len(df), dtype=dtype)
    return out


def test_empty_table_gives_empty_flows_with_every_column():
    view = seen_once(_table([{"t": 0, "src": "10.0.0.1", "dst": "10.0.0.2",
                              "proto": 17}]).iloc[:0])
    flows, ids = assemble_flows(view.distinct, view.sightings)
    assert list(flows.columns) == FLOWS.names and len(flows) == 0 and len(ids) == 0


def test_non_ip_packets_get_no_flow():
    table = _table([{"t": 0, "src": None, "dst": None, "proto": None},
                    {"t": 1, "src": "10.0.0.1", "dst": "10.0.0.2", "proto": 17, "sport": 1000,
                     "dport": 53, "payload_len": 10, "ip_len": 38}])
    view = seen_once(table)
    ids = flow_ids(view.distinct, view.sightings)
    assert ids.isna().tolist() == [True, False]


def test_missing_column_and_bad_timeout_are_clear_errors():
    with pytest.raises(PcapkitError, match="'proto'"):
        build_flows(pd.DataFrame({"src": ["10.0.0.1"], "dst": ["10.0.0.2"],
                                  "ts": pd.to_datetime([0], utc=True)}))
    table = _table([{"t": 0, "src": "10.0.0.1", "dst": "10.0.0.2", "proto": 17}])
    with pytest.raises(PcapkitError, match="udp_timeout"):
        build_flows(seen_once(table).distinct, options=FlowOptions(udp_timeout=-1))
    with pytest.raises(PcapkitError, match="DataFrame"):
        build_flows([1, 2, 3])


def test_row_order_does_not_change_flows():
    path = PUBLIC / "zeek-wikipedia.pcap"
    expected = flows_of(path)
    _, distinct = ids_of(path)
    shuffled = distinct.sample(frac=1.0, random_state=7)
    flows = build_flows(shuffled, None)
    pd.testing.assert_frame_equal(flows.reset_index(drop=True),
                                  expected.reset_index(drop=True), check_categorical=False)


def test_flow_ids_agree_with_flow_counts():
    path = PUBLIC / "zeek-smtp-icmp-frag-needed.pcap"
    flows = flows_of(path)
    ids, _ = ids_of(path)
    sizes = ids.value_counts().sort_index().to_numpy()
    assert sizes.tolist() == (flows["orig_pkts"] + flows["resp_pkts"]
                              + flows["icmp_errors"]).tolist()
    assert flows["icmp_errors"].sum() == 4 and set(flows["icmp_error_types"]) >= {"3/4"}


packet = st.fixed_dictionaries({
    "dt": st.floats(0.0, 5.0), "from_client": st.booleans(),
    "flags": st.sampled_from([0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0x06, 0x05]),
    "seq": st.integers(0, 2**32 - 1), "payload_len": st.integers(0, 3),
    "window": st.sampled_from([0, 1000])})


@settings(max_examples=60, deadline=None)
@given(st.lists(packet, min_size=1, max_size=25))
def test_any_tcp_sequence_gives_consistent_flows(packets):
    rows, t = [], 0.0
    for p in packets:
        t += p["dt"]
        a, b = ("10.0.0.1", 40000), ("10.0.0.2", 80)
        (src, sport), (dst, dport) = (a, b) if p["from_client"] else (b, a)
        rows.append({"t": t, "src": src, "dst": dst, "proto": 6, "sport": sport,
                     "dport": dport, "tcp_flags": p["flags"], "tcp_seq": p["seq"],
                     "tcp_window": p["window"], "payload_len": p["payload_len"],
                     "ip_len": 40 + p["payload_len"]})
    view = seen_once(_table(rows))
    flows, ids = assemble_flows(view.distinct, view.sightings)
    assert set(flows["conn_state"]) <= set(CONN_STATES)
    assert (flows["orig_pkts"] + flows["resp_pkts"]).sum() == len(rows)
    assert ids.notna().all()
    assert flows["ts"].is_monotonic_increasing
    assert all(set(h) <= set("SHADFRIQTWshadfriqtw^") for h in flows["history"])
    assert (flows["orig_retrans"] <= flows["orig_pkts"]).all()
