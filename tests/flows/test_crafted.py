"""One crafted capture per flow rule (fixtures/flows/make_flows_fixtures.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from flows_helpers import CRAFTED, flows_of, ids_of, only


def test_handshake_data_fin_is_sf_with_zeek_history():
    flow = only(flows_of(CRAFTED / "tcp-handshake-data-fin.pcap"))
    assert flow["conn_state"] == "SF"
    assert flow["history"] == "ShADadFf"
    assert (flow["orig_h"], flow["orig_p"], flow["resp_h"], flow["resp_p"]) == (
        "10.244.1.10", 40000, "10.244.2.10", 8080)
    assert (flow["orig_pkts"], flow["resp_pkts"]) == (6, 4)
    assert (flow["orig_bytes"], flow["resp_bytes"]) == (100, 200)
    assert flow["orig_ip_bytes"] == 5 * 40 + 140
    assert not flow["mid_flow"] and not flow["flipped"]
    assert flow["rtt_syn_synack"] == pytest.approx(0.010, abs=1e-6)
    assert flow["rtt_synack_ack"] == pytest.approx(0.001, abs=1e-6)
    assert flow["rtt_handshake"] == pytest.approx(0.011, abs=1e-6)
    assert flow["duration"] == pytest.approx(0.061, abs=1e-6)


def test_unanswered_syn_is_s0_and_retransmissions_counted_once_each():
    flow = only(flows_of(CRAFTED / "tcp-syn-only.pcap"))
    assert flow["conn_state"] == "S0"
    assert flow["history"] == "S"          # same sequence number: one S, as in Zeek
    assert flow["syn_retrans"] == 2
    assert (flow["orig_pkts"], flow["resp_pkts"]) == (3, 0)
    assert pd.isna(flow["rtt_handshake"])


def test_syn_answered_by_rst_is_rej():
    flow = only(flows_of(CRAFTED / "tcp-syn-rst.pcap"))
    assert (flow["conn_state"], flow["history"]) == ("REJ", "Sr")


def test_capture_started_mid_flow_is_oth_not_a_failed_handshake():
    flow = only(flows_of(CRAFTED / "tcp-midflow.pcap"))
    assert flow["mid_flow"]
    assert flow["conn_state"] == "OTH"
    # The server spoke first, but port 443 marks it as the responder: roles flipped.
    assert flow["flipped"]
    assert (flow["orig_h"], flow["orig_p"], flow["resp_p"]) == ("10.244.1.10", 51000, 443)
    assert flow["history"] == "^dADa"
    assert (flow["orig_bytes"], flow["resp_bytes"]) == (40, 500)


def test_data_retransmissions_counted_and_excluded_from_bytes():
    flow = only(flows_of(CRAFTED / "tcp-data-retransmission.pcap"))
    assert flow["orig_retrans"] == 2   # a resent segment and an older one after a newer one
    assert flow["resp_retrans"] == 0
    assert flow["orig_bytes"] == 250   # 100 + 100 + 50 new bytes
    assert flow["history"] == "ShADTa"  # T once: the 2nd retransmission is below 10


def test_zero_window_counted_per_direction():
    flow = only(flows_of(CRAFTED / "tcp-zero-window.pcap"))
    assert (flow["orig_zero_windows"], flow["resp_zero_windows"]) == (0, 2)
    assert flow["history"] == "ShADaw"


def test_udp_idle_timeout_splits_flows():
    flows = flows_of(CRAFTED / "udp-idle-timeout.pcap")
    assert len(flows) == 2
    assert flows["conn_state"].tolist() == ["SF", "SF"]
    assert flows["history"].tolist() == ["Dd", "Dd"]
    assert (flows["orig_pkts"] == 1).all() and (flows["resp_pkts"] == 1).all()


def test_longer_udp_timeout_keeps_one_flow():
    from pcapkit.decode import decode_file
    from pcapkit.flows import FlowOptions, build_flows
    from pcapkit.vantage import seen_once

    view = seen_once(decode_file(CRAFTED / "udp-idle-timeout.pcap").packets)
    flows = build_flows(view.distinct, view.sightings, options=FlowOptions(udp_timeout=200.0))
    assert len(flows) == 1 and flows["orig_pkts"].iloc[0] == 2


def test_icmp_error_linked_to_the_flow_it_quotes():
    path = CRAFTED / "icmp-error-quotes-udp.pcap"
    flow = only(flows_of(path))      # no separate ICMP flow
    assert flow["proto"] == "udp" and flow["conn_state"] == "S0"
    assert flow["icmp_errors"] == 1
    assert flow["icmp_error_types"] == "3/3"
    assert flow["icmp_error_senders"] == "10.244.2.1"
    assert (flow["orig_pkts"], flow["resp_pkts"]) == (1, 0)
    ids, _ = ids_of(path)
    assert ids.tolist() == [0, 0]    # the error packet joins the flow it quotes


def test_new_syn_after_close_is_a_new_flow():
    flows = flows_of(CRAFTED / "tcp-port-reuse.pcap")
    assert flows["conn_state"].tolist() == ["SF", "RSTO"]
    assert flows["history"].tolist() == ["ShADadFf", "ShAR"]
    assert flows["orig_p"].tolist() == [40000, 40000]


def test_same_pod_addresses_in_two_overlays_stay_apart():
    flows = flows_of(CRAFTED / "vxlan-overlay-reuse.pcap")
    assert len(flows) == 2
    assert flows["encap"].tolist() == ["vxlan", "vxlan"]
    assert flows["vni"].tolist() == [100, 200]
    assert flows["conn_state"].tolist() == ["REJ", "REJ"]


def test_cilium_identity_vnis_are_one_conversation():
    """Each direction in its own VNI (the sender's Cilium identity): one flow, not two
    one-way flows; while two VNIs each carrying both directions stay apart (above)."""
    flow = only(flows_of(CRAFTED / "vxlan-cilium-identity-vni.pcap"))
    assert flow["conn_state"] == "SF" and flow["history"] == "ShADadFf"
    assert (flow["orig_vnis"], flow["resp_vnis"]) == ("41230", "8872")
    assert flow["vni"] == 41230  # the first one seen


def test_asymmetric_underlay_shows_in_outer_pairs():
    flow = only(flows_of(CRAFTED / "vxlan-asymmetric-underlay.pcap"))
    assert flow["conn_state"] == "SF"
    assert flow["orig_outer_pairs"] == "192.168.100.11>192.168.100.12"
    assert flow["resp_outer_pairs"] == "192.168.100.13>192.168.100.11"
    assert flow["orig_encapsulated"] and flow["resp_encapsulated"]
    assert flow["orig_vnis"] == "1"


def test_zeek_rst_behavior_baseline():
    # Zeek's btest scripts.base.protocols.conn.conn_state-RST-behavior expects exactly these.
    flows = flows_of(CRAFTED / "tcp-zeek-rst-behavior.pcap")
    got = list(zip(flows["history"], flows["conn_state"], strict=True))
    assert got == [("R", "OTH"), ("SR", "RSTOS0"), ("SaR", "RSTOS0"), ("SaFR", "OTH")]


def test_resets_after_establishment():
    flows = flows_of(CRAFTED / "tcp-resets-after-established.pcap")
    assert flows["conn_state"].tolist() == ["RSTO", "RSTR"]
    assert flows["history"].tolist() == ["ShADR", "ShADr"]


def test_ip_fragments_belong_to_their_flow():
    flow = only(flows_of(CRAFTED / "udp-ip-fragments.pcap"))
    assert (flow["orig_pkts"], flow["resp_pkts"]) == (3, 1)
    assert flow["orig_p"] == 43000 and flow["resp_p"] == 5353
