"""point_id: the capture point of every sighting, computed once by the vantage stage; and
seen_once, the vantage view of a capture read alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from vantage_cases import KERNEL, scenario

from pcapkit.decode import Decoded, decode_files
from pcapkit.schema.vantage import SIGHTINGS
from pcapkit.vantage import build_sightings, capture_points, point_ids_of, seen_once

POINT = ["file", "interface", "if_index", "direction"]


@pytest.fixture(scope="module")
def kernel_pair():
    decoded = decode_files([KERNEL / "node1-any.pcap", KERNEL / "node2-eth0.pcap"])
    return decoded, build_sightings(decoded, capture_points(decoded))


def _one_to_one(ids: np.ndarray, frame: pd.DataFrame) -> bool:
    """True when ``ids`` and the rows of ``frame`` partition the rows the same way."""
    keys = frame.astype(object).fillna("<null>").astype(str).agg("|".join, axis=1)
    pairs = pd.DataFrame({"id": ids, "key": keys.to_numpy()}).drop_duplicates()
    return pairs["id"].is_unique and pairs["key"].is_unique


def test_point_id_is_one_dense_id_per_file_interface_ifindex_and_direction(kernel_pair):
    _, vantage = kernel_pair
    packets = vantage.packets
    ids = packets["point_id"].to_numpy(dtype=np.int64)
    assert packets["point_id"].notna().all()
    assert sorted(np.unique(ids)) == list(range(ids.max() + 1))
    assert _one_to_one(ids, packets[POINT])
    # node1-any is tcpdump -i any: several interfaces, both ways; node2-eth0 one NIC.
    node1 = packets["file"].astype(str).str.endswith("node1-any.pcap").to_numpy()
    assert len(np.unique(ids[node1])) > 2 and not set(ids[node1]) & set(ids[~node1])


def test_sightings_carry_the_point_id_of_their_packet(kernel_pair):
    _, vantage = kernel_pair
    key = ["file", "frame"]
    joined = vantage.sightings[[*key, "point_id"]].astype({"file": str}).merge(
        vantage.packets[[*key, "point_id"]].astype({"file": str}), on=key,
        suffixes=("", "_packet"))
    assert len(joined) == len(vantage.sightings)
    assert (joined["point_id"] == joined["point_id_packet"]).all()
    assert (point_ids_of(vantage.sightings) == vantage.sightings["point_id"].to_numpy()).all()


def test_point_ids_of_a_plain_table_name_the_same_points(kernel_pair):
    decoded, vantage = kernel_pair
    assert "point_id" not in decoded.packets.columns
    computed = point_ids_of(decoded.packets)   # direction from the SLL packet type
    assert _one_to_one(computed, vantage.packets[POINT])
    # A column the table lacks is left out: fewer, larger points.
    fewer = point_ids_of(decoded.packets.drop(columns=["if_index", "pkt_type"]))
    assert len(np.unique(fewer)) < len(np.unique(computed))
    assert _one_to_one(fewer, decoded.packets[["file", "interface"]])


def test_seen_once_is_every_packet_seen_once_where_it_was_read():
    decoded = decode_files([KERNEL / "node1-any.pcap"])
    view = seen_once(decoded.packets)
    n = len(decoded.packets)
    assert view.packets["packet_id"].tolist() == list(range(n))
    assert (view.packets["node"] == "unknown").all()
    assert view.packets["ts_corrected"].equals(view.packets["ts"])
    assert set(view.packets["direction"].dropna()) == {"in", "out"}
    assert _one_to_one(view.packets["point_id"].to_numpy(dtype=np.int64),
                       view.packets[POINT])
    assert list(view.sightings.columns) == SIGHTINGS.names and len(view.sightings) == n
    assert len(view.distinct) == n and (view.distinct["n_sightings"] == 1).all()
    assert (view.distinct["nodes"] == "unknown").all()
    assert view.clock_offsets["node"].tolist() == ["unknown"]
    assert view.clock_offsets["offset_s"].tolist() == [0.0]


def test_seen_once_keeps_what_a_distinct_table_already_has(kernel_pair):
    _, vantage = kernel_pair
    distinct = vantage.distinct.sample(frac=1.0, random_state=3)
    view = seen_once(distinct)
    assert sorted(view.sightings["packet_id"]) == sorted(distinct["packet_id"])
    assert set(view.sightings["node"].astype(str)) == {"node1", "node2"}
    kept = view.packets.set_index("packet_id")["point_id"]
    assert kept.equals(distinct.set_index("packet_id")["point_id"].loc[kept.index])


def test_seen_once_takes_a_table_with_few_columns():
    table = pd.DataFrame({"ts": pd.to_datetime([2, 1], unit="s", utc=True),
                          "src": ["10.0.0.1", "10.0.0.2"], "dst": ["10.0.0.2", "10.0.0.1"]})
    view = seen_once(table)
    assert view.sightings["packet_id"].tolist() == [0, 1]
    assert view.sightings["point_id"].tolist() == [0, 0]   # nothing tells two places apart
    assert "file" not in view.sightings.columns


def test_a_packet_without_a_time_keeps_none_after_clock_correction():
    decoded = scenario("skew")
    points = capture_points(decoded)
    offsets = build_sightings(decoded, points).clock_offsets.set_index("node")["offset_s"]
    skewed = offsets[offsets != 0].index[0]
    packets = decoded.packets.copy()
    files = points.loc[points["node"] == skewed, "file"].astype(str)
    row = int(np.flatnonzero(packets["file"].astype(str).isin(files).to_numpy())[0])
    packets.loc[row, "ts"] = pd.NaT        # a pcapng simple packet block has no timestamp
    vantage = build_sightings(Decoded(packets=packets, dns=decoded.dns,
                                      interfaces=decoded.interfaces), points)
    corrected = vantage.packets["ts_corrected"]
    assert pd.isna(corrected.iloc[row]) and corrected.drop(index=row).notna().all()
