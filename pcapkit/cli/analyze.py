"""``pcapkit analyze``: one command from an incident's captures to what is wrong."""

from __future__ import annotations

import sys
import time

import click

from pcapkit.cli.options import CaptureInputs, capture_options
from pcapkit.findings import SEVERITIES, severity_rank
from pcapkit.report import FORMATS


@click.command()
@capture_options
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
def analyze(captures: CaptureInputs, rule_dirs: tuple[str, ...], tuning: str | None, fmt: str,
            output: str | None, evidence: str | None, fail_on: str) -> None:
    """Analyse an incident's captures (and cluster export): findings with evidence.

    Exit status: 0 when no finding reaches --fail-on, 1 when one does, 2 on a usage
    error or when nothing could be read.

    \b
    Examples:
      pcapkit analyze fixtures/kernel-dnat/ --snapshot fixtures/kernel-dnat/cluster.json
      pcapkit analyze captures/ --format json -o report.json --fail-on medium
      pcapkit analyze captures/ --evidence evidence/
      pcapkit analyze captures/ --snapshot cluster.json --format html -o report.html
    """
    from pcapkit.cli.output import Output
    from pcapkit.errors import PcapkitError
    from pcapkit.report import build_report, render
    from pcapkit.rules import load_rules, load_tuning, run_rules

    started = time.perf_counter()
    destination = Output(fmt, output)
    destination.check()
    pack = load_rules(rule_dirs)
    if pack.problems:
        raise PcapkitError("rule problems:\n  " + "\n  ".join(str(p) for p in pack.problems))
    site = load_tuning(tuning) if tuning else None
    capture = captures.open()
    if not len(capture.decoded.packets) and capture.errors and \
            len({e.file for e in capture.errors}) >= len(capture.decoded.interfaces):
        for error in capture.errors:
            click.echo(f"pcapkit: error: {error}", err=True)
        sys.exit(2)
    findings = run_rules(capture, pack.rules, site)
    report = build_report(capture, findings, rules=len(pack.rules),
                          seconds=time.perf_counter() - started)
    for error in capture.errors:
        click.echo(f"pcapkit: warning: {error}", err=True)
    text = render(report, fmt, color=fmt == "text" and output is None and sys.stdout.isatty())
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
