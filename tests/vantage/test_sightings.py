"""build_sightings end to end: crafted multi-vantage captures and the real kernel captures."""

from __future__ import annotations

import filecmp
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from vantage_cases import KERNEL, VANTAGE, scenario, table

from pcapkit.decode import decode_files
from pcapkit.errors import PcapkitError
from pcapkit.schema.decode import SIGHTING_EXTRA_COLUMNS
from pcapkit.schema.vantage import SIGHTINGS
from pcapkit.vantage import (
    Vantage,
    build_sightings,
    capture_points,
    packet_direction,
)


def _vantage(decoded, **kwargs) -> Vantage:
    return build_sightings(decoded, capture_points(decoded), **kwargs)


@pytest.fixture(scope="module")
def kernel_pair() -> Vantage:
    return _vantage(decode_files([KERNEL / "node1-any.pcap", KERNEL / "node2-eth0.pcap"]))


# ----------------------------------------------------------------- table contract

def test_tables_follow_the_contract():
    decoded = scenario("skew")
    vantage = _vantage(decoded)
    packets, distinct = vantage.packets, vantage.distinct
    assert list(packets.columns) == list(decoded.packets.columns) + [
        c.name for c in SIGHTING_EXTRA_COLUMNS]
    assert list(vantage.sightings.columns) == SIGHTINGS.names
    assert isinstance(packets["node"].dtype, pd.CategoricalDtype)
    assert str(packets["packet_id"].dtype) == "Int64"
    assert str(packets["ts_corrected"].dtype) == "datetime64[ns, UTC]"
    assert len(vantage.sightings) == len(packets)
    assert distinct["packet_id"].tolist() == list(range(len(distinct)))
    assert str(distinct["n_sightings"].dtype) == "Int64"
    assert distinct["n_sightings"].sum() == len(packets)
    assert pd.api.types.is_string_dtype(distinct["nodes"])
    # the input table is not modified
    assert "packet_id" not in decoded.packets


def test_distinct_row_is_the_earliest_sighting_after_correction():
    vantage = _vantage(scenario("skew"))
    earliest = vantage.sightings.groupby("packet_id")["ts_corrected"].min()
    assert (vantage.distinct.set_index("packet_id")["ts_corrected"] == earliest).all()
    # packet ids follow the time of the first sighting
    assert vantage.distinct["ts_corrected"].is_monotonic_increasing


def test_direction_from_the_cooked_packet_type():
    kinds = pd.Series(["outgoing", "host", "broadcast", "multicast", "otherhost", None],
                      dtype="category")
    assert list(packet_direction(kinds).astype(object)) == ["out", "in", "in", "in", "in",
                                                            np.nan]


def test_bad_window_is_a_clear_error():
    decoded = scenario("pcapng")
    with pytest.raises(PcapkitError, match="window"):
        _vantage(decoded, window=-1)
    with pytest.raises(PcapkitError, match="clock_window"):
        _vantage(decoded, clock_window=float("nan"))


def test_points_that_miss_a_file_are_a_clear_error():
    decoded = scenario("skew")
    points = capture_points(decoded).iloc[:1]
    with pytest.raises(PcapkitError, match="node-b"):
        build_sightings(decoded, points)


def test_empty_capture_set():
    from pcapkit.decode.files import decode_empty

    decoded = decode_empty()
    vantage = build_sightings(decoded, capture_points(decoded))
    assert vantage.distinct.empty and vantage.sightings.empty and vantage.clock_offsets.empty
    assert "n_sightings" in vantage.distinct and "nodes" in vantage.distinct


def test_single_file_without_duplicates_is_one_packet_per_row():
    rows = [dict(file="x.pcap", frame=i + 1, ts=i * 0.001, src="10.0.0.1", dst="10.0.0.2",
                 proto=17, ip_id=i, sport=1, dport=2) for i in range(5)]
    vantage = _vantage(table(rows))
    assert vantage.packets["packet_id"].tolist() == [0, 1, 2, 3, 4]
    assert vantage.distinct["nodes"].tolist() == ["x"] * 5
    assert (vantage.packets["ts_corrected"] == vantage.packets["ts"]).all()


# ------------------------------------------------------------- crafted captures

def test_syn_on_four_interfaces_of_an_any_capture_is_one_syn():
    vantage = _vantage(scenario("any"))
    syns = vantage.distinct[vantage.distinct["tcp_flags"] == 2]
    # the SYN and its byte-identical retransmission 1 s later: two SYNs, four sightings each
    assert syns["n_sightings"].tolist() == [4, 4]
    for packet_id in syns["packet_id"]:
        seen = vantage.sightings[vantage.sightings["packet_id"] == packet_id]
        assert sorted(seen["if_index"].astype(int)) == [2, 3, 4, 6]
        assert sorted(seen["direction"].astype(str)) == ["in", "in", "out", "out"]
        assert seen["encap"].astype(str).tolist().count("vxlan") == 1
        assert sorted(seen["ttl"].astype(int)) == [63, 63, 64, 64]


def test_duplicate_on_one_interface_is_never_merged():
    vantage = _vantage(scenario("any"))
    dns = vantage.distinct[vantage.distinct["dport"] == 53]
    assert len(dns) == 2 and dns["n_sightings"].tolist() == [1, 1]


def test_lost_original_and_its_retransmission_stay_apart():
    vantage = _vantage(scenario("lost"))
    posts = vantage.distinct[vantage.distinct["tcp_seq"] == 99999]
    assert posts["n_sightings"].tolist() == [1, 2]
    assert posts["nodes"].tolist() == ["node-a", "node-a,node-b"]
    original, retransmission = posts["ts_corrected"].tolist()
    assert (retransmission - original).total_seconds() == pytest.approx(0.2)


def test_ipv6_duplicate_acks_without_ip_id_are_two_packets_seen_twice():
    vantage = _vantage(scenario("ipv6"))
    acks = vantage.distinct[(vantage.distinct["tcp_seq"] == 7777)]
    assert acks["n_sightings"].tolist() == [2, 2]
    assert acks["nodes"].tolist() == ["node-a,node-b"] * 2
    assert acks["ip_id"].isna().all()
    assert (vantage.distinct["n_sightings"] == 2).all()


def test_narrow_window_splits_sightings_farther_apart():
    vantage = _vantage(scenario("lost"), window=50e-6)  # delay is 120 us
    assert (vantage.distinct["n_sightings"] == 1).all()


# -------------------------------------------------------------- kernel captures

def test_kernel_any_capture_collapses_ifindexes():
    vantage = _vantage(decode_files([KERNEL / "node1-any.pcap"]))
    sightings, distinct = vantage.sightings, vantage.distinct
    cross = distinct[distinct["dst"].astype(str).str.startswith("10.244.2.")]
    pings = cross[cross["icmp_type"] == 8]
    tcp = cross[cross["proto"] == 6]
    assert len(pings) >= 3 and len(tcp) >= 5
    for group in (pings, tcp):
        # node1 sees pod -> remote pod on the veth, cni0, flannel.1 and eth0 (VXLAN)
        assert (group["n_sightings"] == 4).all()
        seen = sightings[sightings["packet_id"].isin(group["packet_id"])]
        per_packet = seen.groupby("packet_id")["if_index"].nunique()
        assert (per_packet == 4).all()
        assert (seen.groupby("packet_id")["encap"].apply(
            lambda e: (e.astype(str) == "vxlan").sum()) == 1).all()
    # every IP packet of the capture is accounted for exactly once
    ip = vantage.packets[vantage.packets["src"].notna()]
    assert ip["packet_id"].nunique() == len(distinct[distinct["src"].notna()])


def test_kernel_captures_match_across_nodes(kernel_pair):
    distinct = kernel_pair.distinct
    crossing = distinct[distinct["src"].astype(str).str.startswith("10.244.")
                        & (distinct["src"].astype(str).str[:9] != distinct["dst"].astype(str)
                           .str[:9])]
    assert len(crossing) >= 20
    # every pod-to-pod packet crossing the underlay was seen by both nodes: 4 + 1 sightings
    assert (crossing["nodes"] == "node1,node2").all()
    assert (crossing["n_sightings"] == 5).all()
    node2 = kernel_pair.sightings[kernel_pair.sightings["node"] == "node2"]
    assert (node2.groupby("packet_id").size() == 1).all()


def test_kernel_clock_offset_is_about_zero(kernel_pair):
    offsets = kernel_pair.clock_offsets.set_index("node")
    node2 = offsets.loc["node2"]
    assert offsets.loc["node1", "method"] == "reference"
    assert node2["method"].startswith("two-way")
    assert abs(node2["offset_s"]) < 50e-6          # one machine clock
    assert node2["spread_s"] < 100e-6 and node2["samples"] >= 20


def test_kernel_multi_interface_pcapng_merges_eth0_with_any():
    vantage = _vantage(decode_files([KERNEL / "node1-multi.pcapng"]))
    sightings = vantage.sightings
    on_eth0 = sightings[sightings["interface"].astype(str) == "eth0"]
    on_any = set(sightings.loc[sightings["interface"].astype(str) == "any", "packet_id"])
    assert len(on_eth0) and on_eth0["packet_id"].isin(on_any).all()


# -------------------------------------------------------------------- fixtures

def test_fixture_generator_reproduces_the_committed_files(tmp_path):
    subprocess.run([sys.executable, str(VANTAGE / "make_vantage_captures.py"), str(tmp_path)],
                   check=True)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(VANTAGE) for p in VANTAGE.rglob("*")
                       if p.is_file() and p.suffix in (".pcap", ".pcapng"))
    assert made == committed
    assert all(filecmp.cmp(tmp_path / p, VANTAGE / p, shallow=False) for p in made)


def test_filtered_table_with_unused_file_categories():
    decoded = scenario("skew")
    points = capture_points(decoded).iloc[:1]  # node-a only
    node_a = decoded.packets["file"].astype(str).str.contains("node-a").to_numpy()
    decoded.packets = decoded.packets[node_a]  # the node-b category stays, unused
    vantage = build_sightings(decoded, points)
    assert len(vantage.distinct) == node_a.sum()
    assert set(vantage.distinct["nodes"]) == {"node-a"}


def test_docs_describe_every_column():
    from pathlib import Path

    from pcapkit.schema import TABLES

    text = (Path(__file__).resolve().parents[2] / "docs" / "vantage.md").read_text()
    own = [c for name in ("distinct", "clock_offsets", "capture_points")
           for c in TABLES[name].columns if c.name not in TABLES["packets"]]
    for column in [*SIGHTING_EXTRA_COLUMNS, *own]:
        assert f"`{column.name}`" in text, column.name


def test_snaplen_cut_copies_join_the_whole_packet():
    # -s 96: inside VXLAN on the NIC the transport header is cut; the copy still joins.
    cut = _vantage(decode_files([KERNEL / "node1-any-snap96.pcap"])).distinct
    whole = _vantage(decode_files([KERNEL / "node1-any.pcap"])).distinct
    assert cut["n_sightings"].value_counts().to_dict() == \
        whole["n_sightings"].value_counts().to_dict()
    assert (cut.loc[cut["src"].notna(), "n_sightings"] >= 2).all()
