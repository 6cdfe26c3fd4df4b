"""pcapkit.open and the flows/dns commands on the real two-node kernel captures."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

import pcapkit
from pcapkit.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NODE1 = str(FIXTURES / "kernel" / "node1-any.pcap")
NODE2 = str(FIXTURES / "kernel" / "node2-eth0.pcap")
SNAPSHOT = str(FIXTURES / "cluster" / "flannel" / "snapshot-t2.json")


def test_open_gives_flows_dns_and_sightings_across_nodes() -> None:
    incident = pcapkit.open([NODE1, NODE2], snapshot=SNAPSHOT,
                            nodes={NODE1: "node1", NODE2: "node2"})
    assert "not decoded yet" in repr(incident)
    assert set(incident.points["node"]) == {"node1", "node2"}
    # every sighting of a packet shares its packet_id; distinct has one row per packet
    assert incident.distinct["packet_id"].is_unique
    assert len(incident.sightings) == len(incident.packets)
    assert len(incident.distinct) < len(incident.packets)
    flows = incident.flows
    http = flows[(flows["resp_p"] == 8080) & (flows["proto"] == "tcp")]
    assert len(http) == 1 and http["conn_state"].item() == "SF"
    assert http["orig_pod"].item() == "client" and http["resp_workload"].item() == "Deployment shop/web"
    assert http["orig_nodes"].item() == "node1,node2"
    # every IP packet knows its flow, and the flow's evidence is its packets' sightings
    in_flows = incident.distinct.dropna(subset=["flow_id"])
    assert set(in_flows["flow_id"]) <= set(flows["flow_id"])
    http_id = int(http["flow_id"].item())
    evidence = incident.evidence(flows=[http_id])
    expected = incident.distinct.loc[incident.distinct["flow_id"] == http_id, "n_sightings"]
    assert len(evidence) == expected.sum() and {"file", "frame"} <= set(evidence.columns)
    dns = incident.dns
    assert set(dns["status"]) >= {"answered", "nxdomain"}
    assert (dns["orig_pod"] == "tools-6b8f7c9d4f-q2w3e").all()
    # each transaction names the UDP flow that carried it, and cites its query and response
    assert dns["flow_id"].notna().all()
    carried = flows.set_index("flow_id").loc[dns["flow_id"].astype(int)]
    assert (carried["proto"] == "udp").all()
    assert (carried["orig_h"].astype(str).to_numpy() == dns["orig_h"].astype(str).to_numpy()).all()
    cited = incident.evidence(dns=[int(dns["tx_id"].iloc[0])])
    assert set(cited["packet_id"]) == set(dns[["query_packet_id", "response_packet_id",
                                               "nat_query_packet_id", "nat_response_packet_id"]]
                                          .iloc[0].dropna())
    assert incident.dns_messages["frame"].notna().all()


def test_flows_command_csv() -> None:
    result = CliRunner().invoke(main, ["flows", NODE1, NODE2, "--snapshot", SNAPSHOT,
                                       "--node", f"{NODE1}=node1", "--node", f"{NODE2}=node2",
                                       "--format", "csv"])
    assert result.exit_code == 0, result.output
    flows = pd.read_csv(io.StringIO(result.stdout))
    assert {"REJ", "SF", "S0"} <= set(flows["conn_state"])
    refused = flows[flows["conn_state"] == "REJ"]
    assert refused["resp_p"].tolist() == [9]


def test_dns_command_and_bad_node_option() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["dns", NODE1, "--format", "csv"])
    assert result.exit_code == 0, result.output
    dns = pd.read_csv(io.StringIO(result.stdout))
    assert (dns["qname"] == "nosuch.shop.svc.cluster.local").sum() == 2
    bad = runner.invoke(main, ["dns", NODE1, "--node", "nonsense"])
    assert bad.exit_code == 2 and "FILE=NODE" in bad.output
