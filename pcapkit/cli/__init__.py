"""The ``pcapkit`` command line: each command is a few lines over the library."""

from __future__ import annotations

import logging
import sys

import click

from pcapkit._version import __version__
from pcapkit.cli.decode import decode
from pcapkit.cli.incident import dns, flows
from pcapkit.cli.policy import policy
from pcapkit.errors import PcapkitError


class _Group(click.Group):
    """Turns pcapkit's own errors into one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except PcapkitError as exc:
            click.echo(f"pcapkit: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pcapkit")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Offline packet-capture analysis for Kubernetes network incidents.

    Decode node captures (pcap/pcapng, gzip; Ethernet, SLL/SLL2, raw IP, VLAN)
    with their overlay tunnels (IP-in-IP, VXLAN, Geneve, GRE) into tables, and
    map what they show to the cluster's pods, services and policies.
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="pcapkit: %(levelname)s: %(message)s")


main.add_command(decode)
main.add_command(flows)
main.add_command(dns)
main.add_command(policy)
