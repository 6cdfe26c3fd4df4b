"""``pcapkit flows`` and ``pcapkit dns``: conversations across every node's captures."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from pcapkit.cli.output import FORMATS, write_frame
from pcapkit.decode.config import DecodeConfig

if TYPE_CHECKING:
    from pcapkit.capture import Capture


def _common(command: Callable) -> Callable:
    """Options every incident command shares."""
    options = [
        click.argument("paths", nargs=-1, required=True, type=click.Path()),
        click.option("--snapshot", "snapshots", multiple=True, type=click.Path(exists=True),
                     help="Cluster export (file or directory) for identities; repeatable."),
        click.option("--node", "nodes", multiple=True, metavar="FILE=NODE",
                     help="Say which node a capture file was taken on; repeatable."),
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                     show_default=True),
        click.option("-o", "--output", type=click.Path(dir_okay=False),
                     help="Write here instead of stdout."),
        click.option("--vxlan-port", "vxlan_ports", type=int, multiple=True,
                     help="Also decode this UDP port as VXLAN."),
        click.option("--geneve-port", "geneve_ports", type=int, multiple=True,
                     help="Also decode this UDP port as Geneve."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _open(paths: tuple[str, ...], snapshots: tuple[str, ...], nodes: tuple[str, ...],
          vxlan_ports: tuple[int, ...], geneve_ports: tuple[int, ...], **options: object
          ) -> Capture:
    mapping = {}
    for item in nodes:
        file, sep, node = item.partition("=")
        if not sep or not file or not node:
            raise click.BadParameter(f"{item!r} is not FILE=NODE", param_hint="--node")
        mapping[file] = node
    from pcapkit.capture import Capture

    config = DecodeConfig.build(vxlan_ports=vxlan_ports, geneve_ports=geneve_ports, extra=True)
    return Capture(paths, snapshot=list(snapshots) or None, nodes=mapping or None,
                   config=config, **options)


def _finish(capture: Capture) -> None:
    for error in capture.errors:
        click.echo(f"pcapkit: warning: {error}", err=True)
    if capture.errors:
        sys.exit(1)


@click.command()
@_common
@click.option("--udp-timeout", type=float, default=60.0, show_default=True,
              help="Seconds of silence that end a UDP flow.")
@click.option("--tcp-timeout", type=float, default=300.0, show_default=True,
              help="Seconds of silence that end a TCP flow.")
def flows(paths: tuple[str, ...], snapshots: tuple[str, ...], nodes: tuple[str, ...], fmt: str,
          output: str | None, vxlan_ports: tuple[int, ...], geneve_ports: tuple[int, ...],
          udp_timeout: float, tcp_timeout: float) -> None:
    """Bidirectional flows (Zeek-like conn_state and history) across every capture.

    A packet seen on several interfaces or nodes counts once; each flow says
    which nodes, interfaces and underlay pairs saw it in each direction.
    """
    capture = _open(paths, snapshots, nodes, vxlan_ports, geneve_ports,
                    flow_options={"udp_timeout": udp_timeout, "tcp_timeout": tcp_timeout})
    write_frame(capture.flows, fmt, output)
    _finish(capture)


@click.command()
@_common
@click.option("--dns-timeout", type=float, default=5.0, show_default=True,
              help="Seconds a response may follow its query.")
@click.option("--cluster-domain", default="cluster.local", show_default=True)
def dns(paths: tuple[str, ...], snapshots: tuple[str, ...], nodes: tuple[str, ...], fmt: str,
        output: str | None, vxlan_ports: tuple[int, ...], geneve_ports: tuple[int, ...],
        dns_timeout: float, cluster_domain: str) -> None:
    """DNS transactions: each query with its response, status, retries and search path."""
    capture = _open(paths, snapshots, nodes, vxlan_ports, geneve_ports,
                    dns_options={"timeout": dns_timeout, "cluster_domain": cluster_domain})
    write_frame(capture.dns, fmt, output)
    _finish(capture)
