"""Clock offsets between node captures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from vantage_cases import scenario, table

from pcapkit.schema.vantage import CLOCK_OFFSETS
from pcapkit.vantage import build_sightings, capture_points
from pcapkit.vantage.clock import NO_SHARED, TWO_WAY, PairEstimate, chain_offsets


def _offsets(decoded, **kwargs):
    vantage = build_sightings(decoded, capture_points(decoded), **kwargs)
    return vantage, vantage.clock_offsets.set_index("node")


def test_two_way_skew_is_recovered_and_corrected():
    vantage, offsets = _offsets(scenario("skew"))
    assert list(vantage.clock_offsets.columns) == CLOCK_OFFSETS.names
    b = offsets.loc["node-b"]
    assert b["reference_node"] == "node-a"
    assert b["method"] == TWO_WAY
    assert b["offset_s"] == pytest.approx(2.5, abs=1e-6)
    assert b["spread_s"] < 1e-5 and b["samples"] == 27
    # after correction both sightings of every packet are 150 us apart, sender first
    sightings = vantage.sightings
    span = sightings.groupby("packet_id")["ts_corrected"].agg(lambda t: t.max() - t.min())
    assert (span.dt.total_seconds().round(6) == 150e-6).all()
    assert (vantage.distinct["n_sightings"] == 2).all()


def test_without_correction_a_skew_larger_than_the_window_would_split_packets():
    vantage, _ = _offsets(scenario("skew"), clock_window=1.0)
    assert (vantage.distinct["n_sightings"] == 1).all()
    assert (vantage.clock_offsets["offset_s"] == 0).all()


def test_one_direction_only_shifts_just_enough_for_causality():
    vantage, offsets = _offsets(scenario("oneway"))
    b = offsets.loc["node-b"]
    assert "one direction only (node-a -> node-b)" in b["method"]
    # node-b is 0.3 s behind; the fastest datagram took 100 us: that is all one can know.
    assert b["offset_s"] == pytest.approx(-0.3 + 100e-6, abs=1e-6)
    sightings = vantage.sightings
    on_b = sightings[sightings["node"] == "node-b"].set_index("packet_id")
    shift = (on_b["ts_corrected"] - on_b["ts"]).dt.total_seconds()
    assert shift.to_numpy() == pytest.approx(0.3 - 100e-6, abs=1e-9)
    # datagram i took 100 + 10 i us from node-a's eth0 to node-b (the generator's delays):
    # corrected, that is 10 i us, in the order node-a sent them
    sent = sightings[(sightings["node"] == "node-a") & (sightings["encap"] == "vxlan")]
    sent = sent.set_index("packet_id")["ts_corrected"].sort_values()
    delays_us = (on_b["ts_corrected"].reindex(sent.index) - sent).dt.total_seconds() * 1e6
    assert delays_us.to_numpy() == pytest.approx([10.0 * i for i in range(30)], abs=1e-3)
    assert (vantage.distinct["n_sightings"] == 3).all()


def test_same_clock_gives_zero_offset():
    _, offsets = _offsets(scenario("lost"))
    assert offsets.loc["node-b", "offset_s"] == pytest.approx(0, abs=1e-9)


def test_reference_is_the_node_with_most_sightings():
    _, offsets = _offsets(scenario("oneway"))  # node-a sees every datagram twice
    assert set(offsets["reference_node"]) == {"node-a"}
    assert offsets.loc["node-a", "method"] == "reference"
    assert offsets.loc["node-a", "offset_s"] == 0


def test_nodes_sharing_no_packet_get_no_estimate():
    rows = [dict(file="n1/a.pcap", frame=1, ts=0.0, src="10.0.0.1", dst="10.0.0.2", proto=17,
                 ip_id=1),
            dict(file="n2/b.pcap", frame=1, ts=0.0, src="10.0.0.3", dst="10.0.0.4", proto=17,
                 ip_id=2)]
    _, offsets = _offsets(table(rows))
    assert offsets.loc["n2", "method"] == NO_SHARED
    assert offsets.loc["n2", "offset_s"] == 0 and math.isnan(offsets.loc["n2", "spread_s"])


def test_offsets_chain_through_an_intermediate_node():
    estimates = [PairEstimate("a", "b", 0.5, 1e-4, 100, TWO_WAY),
                 PairEstimate("b", "c", -0.2, 2e-4, 50, TWO_WAY)]
    frame = chain_offsets(["a", "b", "c"], np.array([10, 5, 1]), estimates).set_index("node")
    assert frame.loc["c", "offset_s"] == pytest.approx(0.3)
    assert frame.loc["c", "spread_s"] == pytest.approx(3e-4)
    assert frame.loc["c", "method"] == f"{TWO_WAY}, via b"
    reverse = chain_offsets(["a", "b", "c"], np.array([1, 1, 10]), estimates).set_index("node")
    assert reverse.loc["a", "offset_s"] == pytest.approx(-0.3)


def test_empty_clock_table_has_the_columns():
    frame = chain_offsets([], np.array([]), [])
    assert list(frame.columns) == CLOCK_OFFSETS.names and frame.empty
