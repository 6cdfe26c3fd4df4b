"""The path performance table: per node pair and per workload pair, how its TCP flows did.

Built by ``pcapkit.analyses.performance`` from the flows: retransmission rate, handshake
RTT and its spread, zero-window stalls, each compared with the other pairs of the same
level (the cluster's norm), so a path or a pair of workloads that stands out is flagged
with the reason in words.
"""

from __future__ import annotations

from pcapkit.schema import Column, Table, register

PATH_PERFORMANCE = register(Table(
    "path_performance", "one node pair or workload pair (originator -> responder) and how "
    "its TCP flows performed against the other pairs", (
        Column("level", "category",
               "node_pair (orig_node -> resp_node) or workload_pair (orig_workload -> "
               "resp_workload).", "flows"),
        Column("pair", "category",
               "The pair as 'originator -> responder' (node or workload names): what a "
               "finding groups by.", "flows"),
        Column("orig_node", "category",
               "Node of the originators (clients): the snapshot's, else the node whose "
               "capture saw their packets first; null on workload_pair rows.", "flows"),
        Column("resp_node", "category", "Node of the responders; null on workload_pair "
                                        "rows.", "flows"),
        Column("orig_workload", "category",
               "Workload of the originators; null on node_pair rows.", "flows"),
        Column("resp_workload", "category",
               "Workload of the responders; null on node_pair rows.", "flows"),
        Column("flows", "i64",
               "TCP flows of the pair (the Service side of a DNAT'd connection left out: "
               "its backend side counts).", "flows"),
        Column("bytes", "i64", "Payload bytes both ends sent (retransmissions not "
                               "counted).", "flows"),
        Column("measured_flows", "i64",
               "Flows whose handshake the capture saw (not mid_flow): only these count in "
               "the retransmission and RTT figures.", "flows"),
        Column("data_segments", "i64",
               "Segments with payload the measured flows sent, both directions; a "
               "direction whose receiver advertised a zero window is left out (its "
               "repeats are window probes, not loss).", "flows"),
        Column("retransmitted", "i64", "Of those, retransmitted segments.", "flows"),
        Column("retrans_rate", "f64", "retransmitted / data_segments (NaN without "
                                      "data).", "flows"),
        Column("retrans_flows", "i64", "Measured flows with a retransmitted segment.",
               "flows"),
        Column("retrans_norm", "f64",
               "Median retrans_rate of the other pairs of the level with enough measured "
               "flows (NaN when there are none).", "flows"),
        Column("rtt_flows", "i64",
               "Measured flows with a handshake RTT from an unrepeated SYN and SYN-ACK "
               "(Karn's rule: a retransmitted handshake gives no sample).", "flows"),
        Column("rtt_median", "f64", "Median handshake RTT of those flows, seconds.", "flows"),
        Column("rtt_p90", "f64", "90th percentile handshake RTT, seconds.", "flows"),
        Column("rtt_spread", "f64",
               "Interquartile range (p75 - p25) of the handshake RTTs, seconds.", "flows"),
        Column("rtt_norm", "f64", "Median rtt_median of the other pairs of the level.",
               "flows"),
        Column("rtt_p90_norm", "f64", "Median rtt_p90 of the other pairs of the level.",
               "flows"),
        Column("slow_flows", "i64",
               "Flows whose handshake RTT exceeds rtt_norm by the latency floor and "
               "factor.", "flows"),
        Column("zero_windows", "i64", "Zero-window advertisements in the pair's flows.",
               "flows"),
        Column("zero_window_flows", "i64",
               "Flows in which a receiver advertised a zero window (a stall: the "
               "application did not read fast enough).", "flows"),
        Column("zero_window_resp_flows", "i64",
               "Of those, flows in which the responder's window closed (the server is the "
               "slow consumer; otherwise the client is).", "flows"),
        Column("zero_window_share", "f64", "zero_window_flows / flows.", "flows"),
        Column("zero_window_norm", "f64",
               "Median zero_window_share of the other pairs of the level.", "flows"),
        Column("peers", "i64",
               "Other pairs of the level with enough measured flows to be compared "
               "with.", "flows"),
        Column("retrans_outlier", "bool",
               "Retransmits far more than the other pairs (rate, floor, factor, at least "
               "two flows hit); on a workload pair, not when the node pairs its "
               "retransmitting flows crossed are flagged themselves.", "flows"),
        Column("rtt_outlier", "bool",
               "Handshake RTT (median or p90) far above the other pairs', with at least "
               "two slow flows; on a workload pair, not when its slow flows' node pairs "
               "are flagged.", "flows"),
        Column("zero_window_outlier", "bool",
               "Zero-window stalls in far more of its flows than the other pairs; on a "
               "node pair, not when its stalled flows' workload pairs are flagged (the "
               "slow consumer is the workload, not the path).", "flows"),
        Column("outlier", "bool", "Any of the three.", "flows"),
        Column("reason", "str",
               "The figures in words against the norm, e.g. 'retransmits 8.1% of "
               "segments (3 of 6 flows), the other pairs' median 0.0%'.", "flows"),
        Column("first_ts", "ts", "First packet of the pair's flows.", "flows"),
        Column("last_ts", "ts", "Last packet of the pair's flows.", "flows"),
        Column("flow_ids", "list",
               "flow_id of the pair's worst flows (most retransmissions, slowest "
               "handshakes, most zero windows), at most 10: the finding's evidence.",
               "flows"),
    ), time="first_ts", evidence=("flow_ids",)))
