"""``pcapkit flows`` and ``pcapkit dns``: conversations across every node's captures."""

from __future__ import annotations

import click

from pcapkit.cli.options import (
    CaptureInputs,
    capture_options,
    output_options,
    stage_options,
    warn_damaged,
)
from pcapkit.cli.output import Output
from pcapkit.dnstx.options import DnsOptions
from pcapkit.flows.options import FlowOptions
from pcapkit.schema import TABLES


@click.command()
@capture_options
@output_options()
@stage_options("flow_options", FlowOptions, udp_timeout="--udp-timeout",
               tcp_timeout="--tcp-timeout")
def flows(captures: CaptureInputs, output: Output, flow_options: FlowOptions) -> None:
    """Bidirectional flows (Zeek-like conn_state and history) across every capture.

    A packet seen on several interfaces or nodes counts once; each flow says
    which nodes, interfaces and underlay pairs saw it in each direction. With no
    --snapshot, a cluster.json/cluster.yaml/snapshot/ beside the captures is used.

    \b
    Examples:
      pcapkit flows fixtures/demo --snapshot fixtures/demo/cluster.json
      pcapkit flows fixtures/kernel/ --format csv -o flows.csv --udp-timeout 30
      pcapkit flows captures/ --node node1.pcap=node1 --format parquet -o flows.parquet
      pcapkit flows fixtures/demo --where conn_state=S0,REJ --where 'resp_p|gte=1024'
      pcapkit flows fixtures/demo --columns ts,orig_h,resp_h,resp_p,history --format csv
    """
    output = output.of(TABLES["flows"])
    capture = captures.with_found_snapshots()[0].open(flow_options=flow_options)
    capture.compute(["flows"])  # on every core
    output.write(capture.flows)
    warn_damaged(capture.errors)


@click.command()
@capture_options
@output_options()
@stage_options("dns_options", DnsOptions, timeout="--dns-timeout",
               cluster_domain="--cluster-domain")
def dns(captures: CaptureInputs, output: Output, dns_options: DnsOptions) -> None:
    """DNS transactions: each query with its response, status, retries and search path.

    \b
    Examples:
      pcapkit dns fixtures/demo --snapshot fixtures/demo/cluster.json
      pcapkit dns fixtures/kernel/node1-any.pcap --format json -o dns.json
      pcapkit dns captures/ --dns-timeout 5 --cluster-domain cluster.local --format csv
      pcapkit dns fixtures/demo --where status=nxdomain,servfail --all-columns
      pcapkit dns fixtures/demo --where 'qname|endswith=.svc.cluster.local' --columns qname,status
    """
    output = output.of(TABLES["dns"])
    capture = captures.with_found_snapshots()[0].open(dns_options=dns_options)
    capture.compute(["dns"])  # on every core: the flows it names beside it
    output.write(capture.dns)
    warn_damaged(capture.errors)
