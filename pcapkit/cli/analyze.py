"""``pcapkit analyze``: one command from an incident's captures to what is wrong."""

from __future__ import annotations

import sys
import time

import click

from pcapkit.cli.options import CaptureInputs, capture_options, stage_options
from pcapkit.cli.progress import Stages
from pcapkit.dnstx.options import DnsOptions
from pcapkit.findings import SEVERITIES, severity_rank
from pcapkit.flows.options import FlowOptions
from pcapkit.report import FORMATS


def _time_bound(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from pcapkit.capture import capture_time
    from pcapkit.errors import PcapkitError

    try:
        capture_time(value, f"--{param.name}")
    except PcapkitError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    from pcapkit.errors import PcapkitError
    from pcapkit.partition.scale import parse_size

    try:
        return None if value is None else parse_size(value)
    except PcapkitError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@capture_options
@stage_options("flow_options", FlowOptions, udp_timeout="--udp-timeout",
               tcp_timeout="--tcp-timeout")
@stage_options("dns_options", DnsOptions, timeout="--dns-timeout",
               cluster_domain="--cluster-domain")
@click.option("--rules", "rule_dirs", multiple=True, type=click.Path(exists=True),
              help="A rule file or directory to add to the core pack; repeatable.")
@click.option("--tuning", type=click.Path(exists=True, dir_okay=False),
              help="Site tuning file: disable rules, change levels, exclude namespaces, "
                   "workloads, CIDRs (rules/README.md).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here.")
@click.option("--evidence", type=click.Path(file_okay=False),
              help="Write each finding's evidence packets to DIR/<category>-<id>.pcapng.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="high", show_default=True,
              help="Exit 1 when a finding is at least this severe.")
@click.option("--since", metavar="TIME", callback=_time_bound,
              help="Only packets captured at or after TIME (ISO 8601, UTC when no zone is "
                   "given, or seconds since the epoch).")
@click.option("--until", metavar="TIME", callback=_time_bound,
              help="Only packets captured at or before TIME.")
@click.option("--jobs", type=click.IntRange(min=1), metavar="N",
              help="Processes to work with, for every stage (default: every CPU; 1: none).")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local",
              show_default=True,
              help="Where the work runs: this machine's processes, or a Dask cluster "
                   "(--scheduler; docs/scale.md).")
@click.option("--scheduler", metavar="ADDRESS",
              help="The Dask scheduler, e.g. tcp://dask-scheduler:8786 (--engine dask; "
                   "default: a local cluster of --jobs workers).")
@click.option("--memory-limit", "memory_limit", metavar="SIZE", callback=_size,
              help="Memory the run may use, all processes together (e.g. 4GiB): an "
                   "incident larger than that is analysed in shares, its per-packet tables "
                   "on disk (docs/scale.md; default: one pass in memory).")
@click.option("--work-dir", "work_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Where a run in shares keeps its tables (default: a temporary "
                   "directory; with a Dask cluster, a directory every worker sees).")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Keep decoded tables here (Parquet, keyed by each capture's content, "
                   "pcapkit's version and the decode options): a second analysis of the same "
                   "captures skips decoding.")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress on stderr (it is shown only on a terminal anyway).")
def analyze(captures: CaptureInputs, flow_options: FlowOptions, dns_options: DnsOptions,
            rule_dirs: tuple[str, ...], tuning: str | None, fmt: str,
            output: str | None, evidence: str | None, fail_on: str, since: str | None,
            until: str | None, jobs: int | None, engine: str, scheduler: str | None,
            memory_limit: int | None, work_dir: str | None, cache_dir: str | None,
            quiet: bool) -> None:
    """Analyse an incident's captures (and cluster export): findings with evidence.

    Exit status: 0 when no finding reaches --fail-on, 1 when one does, 2 on a usage
    error or when nothing could be read.

    \b
    Examples:
      pcapkit analyze fixtures/demo            # finds fixtures/demo/cluster.json itself
      pcapkit analyze fixtures/kernel-dnat/ --snapshot fixtures/kernel-dnat/cluster.json
      pcapkit analyze captures/ --format json -o report.json --fail-on medium
      pcapkit analyze captures/ --snapshot cluster.json --format html -o report.html
      pcapkit analyze captures/ --evidence evidence/
      pcapkit analyze captures/ --since 2026-12-02T10:00:00Z --until 2026-12-02T10:30:00Z
      pcapkit analyze captures/ --cache ~/.cache/pcapkit --jobs 2
      pcapkit analyze captures/ --memory-limit 2GiB --jobs 2
      pcapkit analyze fixtures/demo --dns-timeout 2 --udp-timeout 30
      pcapkit analyze captures/ --engine dask --scheduler tcp://dask:8786 --work-dir /shared
    """
    from pcapkit.analyses import analyses
    from pcapkit.cli.output import Output
    from pcapkit.report import build_report, render
    from pcapkit.rules import analyze_capture, checked_pack, site_tuning

    started = time.perf_counter()
    destination = Output(fmt, output)
    destination.check()
    pack = checked_pack(rule_dirs)
    site = site_tuning(tuning)
    captures, discovered = captures.with_found_snapshots()
    if scheduler is not None and engine != "dask":
        raise click.UsageError("--scheduler needs --engine dask")
    capture = captures.open(since=since, until=until, workers=jobs, cache=cache_dir,
                            engine=engine, scheduler=scheduler, memory_limit=memory_limit,
                            work_dir=work_dir, flow_options=flow_options,
                            dns_options=dns_options)
    click.get_current_context().call_on_close(capture.close)
    stages = Stages(enabled=False if quiet else None)
    with stages.shown():
        packets = lambda: capture.packet_count  # noqa: E731 - the rate of a stage
        stages.run("decode", packets, packets)
        if not capture.packet_count and capture.errors and \
                len({e.file for e in capture.errors}) >= len(capture.interfaces):
            for error in capture.errors:
                click.echo(f"pcapkit: error: {error}", err=True)
            sys.exit(2)
        # (in a run cut into shares these are done by now, and no table is read whole)
        stages.run("vantage", lambda: capture.clock_offsets, packets)
        derived = sorted({rule.table for rule in pack.rules} & set(analyses()))
        stages.run("flows, dns and analyses",
                   lambda: capture.compute(["flows", "dns", *derived]), packets)
        findings = stages.run("rules", lambda: analyze_capture(capture, pack.rules, site))
    report = build_report(capture, findings, rules=len(pack.rules),
                          seconds=time.perf_counter() - started,
                          snapshot_files=list(captures.snapshots),
                          snapshot_discovered=discovered)
    for error in capture.errors:
        click.echo(f"pcapkit: warning: {error}", err=True)
    text = render(report, fmt, color=fmt == "text" and output is None and sys.stdout.isatty(),
                  capture=capture)
    if output:
        with destination.writing(), open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        click.echo(text, nl=False)
    if evidence:
        from pcapkit.evidence import export_all

        written, bare = export_all(report, evidence)
        click.echo(f"pcapkit: evidence of {len(written)} finding(s) in {evidence}"
                   + (f" ({bare} without evidence packets)" if bare else ""), err=True)
    summary = report["summary"]
    click.echo(f"pcapkit: {summary['files']} file(s), {summary['packets']:,} packets, "
               f"{summary['flows']:,} flows, findings: "
               + ", ".join(f"{n} {s}" for s, n in summary["by_severity"].items() if n)
               + (" none" if not findings else "") + f" ({summary['seconds']} s)", err=True)
    if any(severity_rank(f.severity) <= severity_rank(fail_on) for f in findings):
        sys.exit(1)
