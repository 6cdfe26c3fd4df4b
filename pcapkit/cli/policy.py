"""``pcapkit policy explain``: would the cluster's NetworkPolicies allow this connection?

Bad input (unknown pod, bad port syntax, unreadable snapshot) raises PcapkitError, which the
command group turns into a one-line error on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import logging

import click


@click.group()
def policy() -> None:
    """Evaluate Kubernetes NetworkPolicies from a cluster snapshot."""


@policy.command()
@click.option("--snapshot", "snapshots", multiple=True, required=True,
              type=click.Path(dir_okay=True, file_okay=True),
              help="Cluster export (file or directory); repeat for snapshots over time.")
@click.option("--from", "source", required=True, metavar="NS/POD|IP",
              help="Source: namespace/pod, a unique pod name, or an IP address.")
@click.option("--to", "destination", required=True, metavar="NS/POD|IP",
              help="Destination: namespace/pod, a pod name, a pod or service IP.")
@click.option("--port", "port_spec", required=True, metavar="PORT[/PROTO]",
              help="Destination port and protocol, e.g. 5432/TCP, 53/UDP or http/TCP.")
@click.option("--at", "at", default=None, metavar="TIME",
              help="Evaluate as of this time (RFC 3339); default: the newest snapshot.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@click.option("--show-problems", is_flag=True,
              help="Also list objects of the snapshot that were skipped as malformed.")
def explain(snapshots: tuple[str, ...], source: str, destination: str, port_spec: str,
            at: str | None, output_format: str, show_problems: bool) -> None:
    """Print whether SRC may connect to DST on PORT, and which policies decide it."""
    from pcapkit.cluster import load_snapshot
    from pcapkit.cluster.policy.explain import explain_connection, parse_port_spec

    logging.getLogger("pcapkit.cluster").setLevel(logging.ERROR)
    port, protocol = parse_port_spec(port_spec)
    cluster = load_snapshot(list(snapshots))
    when = cluster.time_ns(at)
    result = explain_connection(cluster, source, destination, port, protocol, when)
    if output_format == "json":
        data = result.to_dict()
        if show_problems:
            data["problems"] = list(cluster.problems)
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(result.verdict.explain())
        if show_problems:
            for problem in cluster.problems:
                click.echo(f"  snapshot problem: {problem}")
        elif cluster.problems:
            click.echo(f"  ({len(cluster.problems)} malformed object(s) skipped; "
                       "--show-problems lists them)")
