"""``pcapkit policy explain``: would the cluster's NetworkPolicies allow this connection?

Bad input (unknown pod, bad port syntax, unreadable snapshot) raises PcapkitError, which the
command group turns into a one-line error on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import logging
import sys

import click


@click.group()
def policy() -> None:
    """Evaluate Kubernetes NetworkPolicies from a cluster snapshot."""


@policy.command()
@click.option("--snapshot", "snapshots", multiple=True, required=True,
              type=click.Path(dir_okay=True, file_okay=True),
              help="Cluster export (file or directory); repeat for snapshots over time.")
@click.option("--from", "source", required=True, metavar="NS/POD|IP|KIND/NS/NAME",
              help="Source: namespace/pod, a unique pod name, an IP address, or a workload "
                   "(deploy/NS/NAME, sts/..., ds/..., job/...) for each of its pods.")
@click.option("--to", "destination", required=True, metavar="NS/POD|IP|KIND/NS/NAME",
              help="Destination: namespace/pod, a pod name, a pod or service IP, or a "
                   "workload.")
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
    """Print whether SRC may connect to DST on PORT, and which policies decide it.

    SRC and DST are NAMESPACE/POD, a pod name, an IP, or a workload as KIND/NAMESPACE/NAME
    (deploy/shop/api, sts/shop/db, ...), answered for each of its pods. Exit status, as
    `kubectl auth can-i`: 0 allowed, 1 denied (for any pod pair), 2 error.

    \b
    Examples:
      pcapkit policy explain --snapshot fixtures/demo/cluster.json \\
          --from shop/frontend-7c5d8b9f6-q8w2e --to 10.244.2.30 --port 5432/TCP
      pcapkit policy explain --snapshot fixtures/demo/cluster.json \\
          --from deploy/shop/frontend --to deploy/shop/db --port 5432/TCP --format json
    """
    from pcapkit.cluster import load_snapshot
    from pcapkit.cluster.policy.explain import explain_connection, parse_port_spec
    from pcapkit.cluster.policy.workloads import workload_pods, workload_ref

    logging.getLogger("pcapkit.cluster").setLevel(logging.ERROR)
    port, protocol = parse_port_spec(port_spec)
    cluster = load_snapshot(list(snapshots))
    when = cluster.time_ns(at)
    notes = []
    if when is not None and cluster.snapshots and when < cluster.snapshots[0].time:
        notes.append(f"asked at {at}, before the first snapshot ({cluster.times[0]}): the "
                     "answer is the first snapshot's, which may not be what held then")

    def ends(text: str) -> list[str]:
        ref = workload_ref(text)
        return [text] if ref is None else workload_pods(cluster.pods, ref, when)

    pairs = [(s, d) for s in ends(source) for d in ends(destination)]
    results = [(s, d, explain_connection(cluster, s, d, port, protocol, when)) for s, d in pairs]
    allowed = all(r.verdict.allowed for _, _, r in results)
    if output_format == "json":
        if len(results) == 1:
            data = results[0][2].to_dict()
        else:
            data = {"allowed": allowed, "pairs": [{"from": s, "to": d, **r.to_dict()}
                                                  for s, d, r in results]}
        data["notes"] = notes + list(data.get("notes", []))
        if show_problems:
            data["problems"] = list(cluster.problems)
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        for note in notes:
            click.echo(f"note: {note}")
        for s, d, result in results:
            if len(results) > 1:
                click.echo(f"{s} -> {d}:")
            click.echo(result.verdict.explain())
        if len(results) > 1:
            denied = sum(not r.verdict.allowed for _, _, r in results)
            click.echo(f"{'allowed' if allowed else 'denied'}: {denied} of {len(results)} pod "
                       "pair(s) denied")
        if show_problems:
            for problem in cluster.problems:
                click.echo(f"  snapshot problem: {problem}")
        elif cluster.problems:
            click.echo(f"  ({len(cluster.problems)} malformed object(s) skipped; "
                       "--show-problems lists them)")
    sys.exit(0 if allowed else 1)
