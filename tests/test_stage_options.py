"""FlowOptions and DnsOptions: typed, documented, checked, and the one source of defaults."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest
from click.testing import CliRunner

import pcapkit
from pcapkit.cli import main
from pcapkit.dnstx import DnsOptions, build_dns_transactions
from pcapkit.errors import PcapkitError
from pcapkit.flows import FlowOptions, assemble_flows, build_flows, flow_ids


@pytest.mark.parametrize("options", [FlowOptions, DnsOptions])
def test_every_field_has_a_default_and_a_meaning(options):
    for field in dataclasses.fields(options):
        assert field.default is not dataclasses.MISSING, field.name
        assert field.metadata["doc"].endswith("."), field.name


def test_defaults_are_zeek_and_glibc_values():
    assert dataclasses.astuple(FlowOptions()) == (60.0, 60.0, 300.0, 1.0, False)
    dns = DnsOptions()
    assert (dns.timeout, dns.retry_window, dns.parallel_window, dns.search_gap,
            dns.nat_window) == (5.0, 10.0, 0.1, 1.0, 1.0)
    assert (dns.cluster_domain, dns.search_domains, dns.capture_end) == ("cluster.local", (),
                                                                         None)


def test_options_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        FlowOptions().udp_timeout = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        DnsOptions().timeout = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(("values", "message"), [
    ({"udp_timeout": 0}, "flows: udp_timeout must be a positive number of seconds or None"),
    ({"icmp_timeout": -1}, "icmp_timeout must be a positive"),
    ({"tcp_timeout": math.inf}, "tcp_timeout must be a positive"),
    ({"tcp_timeout": math.nan}, "tcp_timeout must be a positive"),
    ({"tcp_timeout": 1e12}, "at most"),
    ({"udp_timeout": "60"}, "udp_timeout must be a number of seconds, got '60'"),
    ({"nat_window": -0.5}, "nat_window must be a non-negative number"),
    ({"nat_window": None}, "nat_window must be a number"),
    ({"nat_window": True}, "nat_window must be a number"),
    ({"merge_nat": "yes"}, "merge_nat must be True or False"),
])
def test_bad_flow_options_name_the_field(values, message):
    with pytest.raises(PcapkitError, match=message):
        FlowOptions(**values)


@pytest.mark.parametrize(("values", "message"), [
    ({"search_gap": 0}, "dns: search_gap must be a positive"),
    ({"parallel_window": math.inf}, "parallel_window must be a positive"),
    ({"retry_any_server": 1}, "retry_any_server must be True or False"),
    ({"cluster_domain": ""}, "cluster_domain must be a domain name"),
    ({"cluster_domain": None}, "cluster_domain must be a domain name"),
    ({"search_domains": ["corp.example", 7]}, "search_domains must be strings"),
])
def test_bad_dns_options_name_the_field(values, message):
    with pytest.raises(PcapkitError, match=message):
        DnsOptions(**values)


def test_values_are_normalised():
    assert FlowOptions(udp_timeout=5, tcp_timeout=None).udp_timeout == 5.0
    assert isinstance(FlowOptions(udp_timeout=5).udp_timeout, float)
    assert FlowOptions(tcp_timeout=None).tcp_timeout is None
    dns = DnsOptions(search_domains="corp.example")
    assert dns.search_domains == ("corp.example",)
    assert DnsOptions(search_domains=(d for d in ["a.example", "b.example"])).search_domains == (
        "a.example", "b.example")
    end = DnsOptions(capture_end="2024-05-01T12:00:00+02:00").capture_end
    assert end == pd.Timestamp("2024-05-01T10:00:00Z") and str(end.tz) == "UTC"
    per_node = DnsOptions(capture_end={"node1": "2024-05-01T10:00:00Z"}).capture_end
    assert dict(per_node) == {"node1": pd.Timestamp("2024-05-01T10:00:00Z")}


def test_stages_and_capture_refuse_loose_mappings():
    table = pd.DataFrame({"src": ["10.0.0.1"]})
    for stage in (build_flows, assemble_flows, flow_ids):
        with pytest.raises(PcapkitError, match="options must be a FlowOptions, not dict"):
            stage(table, options={"udp_timeout": 5})
    with pytest.raises(PcapkitError, match="options must be a DnsOptions, not FlowOptions"):
        build_dns_transactions(pd.DataFrame(), options=FlowOptions())
    with pytest.raises(PcapkitError, match="flow_options must be a pcapkit.flows.FlowOptions"):
        pcapkit.open("capture.pcap", flow_options={"udp_timeout": 5})
    with pytest.raises(PcapkitError, match="dns_options must be a pcapkit.dnstx.DnsOptions"):
        pcapkit.open("capture.pcap", dns_options=FlowOptions())


@pytest.mark.parametrize(("command", "flag", "options", "name"), [
    ("flows", "--udp-timeout", FlowOptions, "udp_timeout"),
    ("flows", "--tcp-timeout", FlowOptions, "tcp_timeout"),
    ("dns", "--dns-timeout", DnsOptions, "timeout"),
    ("dns", "--cluster-domain", DnsOptions, "cluster_domain"),
])
def test_cli_defaults_and_help_come_from_the_dataclass(command, flag, options, name):
    declared = {f.name: f for f in dataclasses.fields(options)}[name]
    click_command = main.get_command(None, command)  # type: ignore[arg-type]
    option = next(p for p in click_command.params if flag in p.opts)
    assert option.default == declared.default
    assert option.help == declared.metadata["doc"]
    help_text = " ".join(CliRunner().invoke(main, [command, "--help"]).output.split())
    assert f"{flag} " in help_text and f"[default: {declared.default}]" in help_text
