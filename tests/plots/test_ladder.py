"""The ladder diagram on the demo incident: lanes in the order packets pass them on both
nodes, one arrow per sighting after a packet's first, the asymmetric replies in node1's
and node2's eth1 lanes, drops marked where the packets stopped."""

from __future__ import annotations

import numpy as np
import pytest
from demo_cases import DEMO, flow_of, interface_name, only
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.quiver import Quiver

import pcapkit
from pcapkit.errors import PcapkitError
from pcapkit.plots import ladder, ladder_layout
from pcapkit.plots.ladders import MAX_PACKETS, RESP, flag_letters


def lane_labels(figure) -> list[str]:
    """node:interface of each lane, from the x tick labels (node, interface, role lines)."""
    texts = [t.get_text().split("\n") for t in figure.axes[0].get_xticklabels()]
    return [f"{lines[0]}:{lines[1]}" for lines in texts]


def arrows(figure) -> int:
    return sum(len(q.U) for q in figure.axes[0].collections if isinstance(q, Quiver))


def dots(figure) -> int:
    """Sightings drawn: the dot scatters (the red crosses are marker 'x', not counted)."""
    return sum(len(c.get_offsets()) for c in figure.axes[0].collections
               if isinstance(c, PathCollection) and c.get_label().endswith("sightings"))


def crosses(figure) -> np.ndarray:
    found = [c for c in figure.axes[0].collections if c.get_label() == "_missed"]
    return found[0].get_offsets() if found else np.zeros((0, 2))


def legend(figure) -> list[str]:
    return [t.get_text() for t in figure.legends[0].get_texts()]


@pytest.fixture(scope="module")
def asymmetric(demo, demo_findings) -> int:
    return flow_of(demo, only(demo_findings, "Asymmetric route"))


def test_the_asymmetric_flow_has_lanes_on_both_nodes_in_travel_order(demo, asymmetric) -> None:
    figure = ladder(demo, asymmetric)
    lanes = lane_labels(figure)
    names = [(lane.split(":")[0], interface_name(lane)) for lane in lanes]
    nodes = [node for node, _ in names]
    assert nodes == sorted(nodes) and {"node1", "node2"} == set(nodes)  # originator first
    node1 = [name for node, name in names if node == "node1"]
    node2 = [name for node, name in names if node == "node2"]
    # checkout's veth, the bridge, flannel's device, then the NICs (eth1: replies only)
    assert node1[0].startswith("veth") and node1[1:3] == ["cni0", "flannel.1"]
    assert set(node1[3:]) == {"eth0", "eth1"}
    # the NICs, flannel's device, the bridge, payments' veth
    assert set(node2[:2]) == {"eth0", "eth1"} and node2[2:4] == ["flannel.1", "cni0"]
    assert node2[4].startswith("veth") and len(node2) == 5
    sightings = demo.evidence(flows=[asymmetric])
    packets = sightings["packet_id"].nunique()
    assert dots(figure) == len(sightings)
    assert arrows(figure) == len(sightings) - packets   # one per sighting after the first


def test_the_replies_cross_eth1_and_never_reach_the_checkout_pod(demo, asymmetric) -> None:
    layout = ladder_layout(demo, asymmetric)
    lanes = layout.lanes["label"].to_numpy()
    replies = layout.hops[layout.hops["direction"] == RESP]
    crossed = {interface_name(label) for label in lanes[replies["lane"].unique()]}
    assert "eth1" in crossed and "flannel.1" not in crossed
    assert {label.split(":")[0] for label in lanes[replies["lane"].unique()]} == \
        {"node1", "node2"}
    synacks = layout.packets[layout.packets["direction"] == RESP]
    assert len(synacks) == 4 and synacks["label"].str.contains(" SA ").all()
    assert synacks["missed"].all() and not layout.packets.loc[
        layout.packets["direction"] != RESP, "missed"].any()
    figure = ladder(demo, asymmetric)
    stops = crosses(figure)
    assert len(stops) == 4
    eth1 = [i for i, label in enumerate(lanes)
            if label.startswith("node1:") and interface_name(label) == "eth1"]
    assert set(stops[:, 0].astype(int)) == set(eth1)        # dropped on node1's eth1
    texts = legend(figure)
    assert any(t.startswith("orig → resp: from Deployment shop/checkout") for t in texts)
    assert any(t.startswith("resp → orig: from Deployment shop/payments") for t in texts)
    assert any(t.startswith("last seen") for t in texts)


def test_one_nodes_capture_alone_still_orders_its_lanes(demo, asymmetric) -> None:
    """node1's capture without node2's: the conversation's lanes are node1's only, the
    requests' path first, the NICs last; the replies, seen on eth1 alone, never got in."""
    flow = demo.flows.set_index("flow_id").loc[asymmetric]
    alone = pcapkit.open(DEMO / "node1-any.pcap", snapshot=DEMO / "cluster.json")
    flows = alone.flows
    same = flows[(flows["orig_h"] == flow["orig_h"]) & (flows["orig_p"] == flow["orig_p"])]
    layout = ladder_layout(alone, int(same["flow_id"].iloc[0]))
    names = [interface_name(label) for label in layout.lanes["label"]]
    assert set(layout.lanes["node"]) == {"node1"}
    assert names[0].startswith("veth") and names[1:3] == ["cni0", "flannel.1"]
    assert set(names[3:]) == {"eth0", "eth1"}
    replies = layout.packets[layout.packets["direction"] == RESP]
    assert len(replies) == 4 and replies["missed"].all()


def test_the_policy_drop_stops_at_node2s_flannel_device(demo, demo_findings) -> None:
    flow = flow_of(demo, only(demo_findings, "denied by NetworkPolicy"))
    layout = ladder_layout(demo, flow)
    assert layout.silent and (layout.packets["direction"] == 0).all()
    assert len(layout.packets) == 3 and layout.packets["label"].str.contains(" S ").all()
    last = layout.lanes["label"].iloc[-1]
    assert last.startswith("node2:") and interface_name(last) == "flannel.1"
    figure = ladder(demo, flow)
    stops = crosses(figure)
    assert len(stops) == 3 and set(stops[:, 0].astype(int)) == {len(layout.lanes) - 1}
    assert "nothing came back from the responder" in figure.axes[0].get_title()


def test_a_dnat_flow_is_drawn_with_its_peer_and_joined_across_the_translation(
        demo, demo_findings) -> None:
    dns = [f for f in demo_findings if "DNS queries never answered" in f.title][0]
    flow = flow_of(demo, dns)
    peer = int(demo.flows.set_index("flow_id").loc[flow, "nat_peer_flow_id"])
    layout = ladder_layout(demo, flow)
    assert set(layout.flows) == {flow, peer}
    assert f"NAT peer flow {peer}" in layout.title
    sightings = demo.evidence(flows=[flow, peer])
    assert len(layout.hops) == len(sightings)
    assert set(layout.lanes["node"]) == {"node1", "node2"}
    # every packet before a translation has its twin after it, later and in its flow
    links = layout.nat_links
    before = layout.packets.set_index("row").loc[links["from_row"]]
    after = layout.packets.set_index("row").loc[links["to_row"]]
    assert len(links) == len(layout.packets) // 2
    assert (before["direction"].to_numpy() == after["direction"].to_numpy()).all()
    assert (before["flow_id"].to_numpy() != after["flow_id"].to_numpy()).all()
    assert (after["offset_s"].to_numpy() >= before["offset_s"].to_numpy()).all()
    assert not layout.packets["missed"].any()      # the answered queries got through
    figure = ladder(demo, flow)
    dashed = [c for c in figure.axes[0].collections if isinstance(c, LineCollection)
              and c.get_label() == "_nat"]
    assert len(dashed) == 1 and len(dashed[0].get_segments()) == len(links)


def test_packet_ids_select_packets_and_the_cap_is_said(demo, asymmetric) -> None:
    layout = ladder_layout(demo, asymmetric)
    syns = layout.packets.loc[layout.packets["direction"] == 0, "packet_id"].tolist()
    only_syns = ladder_layout(demo, packet_ids=syns)
    assert only_syns.packets["packet_id"].tolist() == syns
    assert only_syns.flows == (asymmetric,) and only_syns.title == layout.title
    capped = ladder(demo, asymmetric, most=2)
    assert len(capped.axes[0].get_yticklabels()) == 2
    assert "first 2 of 7 packets" in capped.axes[0].get_title()
    assert "7 packet(s)" in ladder(demo, asymmetric).axes[0].get_title()
    assert MAX_PACKETS == 200


def test_bad_requests_are_one_clear_error(demo, empty) -> None:
    with pytest.raises(PcapkitError, match="no flow 999 "):
        ladder(demo, 999)
    with pytest.raises(PcapkitError, match="give a flow_id"):
        ladder(demo)
    with pytest.raises(PcapkitError, match="no sighting of packet"):
        ladder(demo, packet_ids=[10**9])
    with pytest.raises(PcapkitError, match="the capture has no flows"):
        ladder(empty, 0)
    with pytest.raises(PcapkitError, match="at least 1"):
        ladder(demo, 0, most=0)


def test_flag_letters() -> None:
    assert flag_letters(np.array([0x02, 0x12, 0x18, 0x11, 0x04, 0x00, 0x10])).tolist() == \
        ["S", "SA", "PA", "FA", "R", ".", "A"]
