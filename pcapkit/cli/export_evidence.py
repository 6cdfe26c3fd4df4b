"""``pcapkit export-evidence``: a finding's evidence packets, from every capture point, in
one pcapng for Wireshark."""

from __future__ import annotations

import click


@click.command("export-evidence")
@click.argument("report", type=click.Path(dir_okay=False))
@click.argument("finding_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="The pcapng to write (default: <category>-<id>.pcapng here).")
@click.option("--base", type=click.Path(exists=True, file_okay=False),
              help="Directory the report's relative capture paths are under (default: "
                   "the current directory).")
def export_evidence(report: str, finding_id: str, output: str | None,
                    base: str | None) -> None:
    """Write the evidence packets of finding FINDING_ID of REPORT (a JSON report of
    pcapkit analyze) into one pcapng: every sighting from every capture point, in time
    order, one interface per node and interface ("node1:eth0"), each packet commented
    with the finding. The original bytes are read from the capture files the report
    names; a file missing or changed since the report is an error.

    \b
    Examples:
      pcapkit analyze captures/ --snapshot cluster.json --format json -o report.json
      pcapkit export-evidence report.json 350ae31d1bebc7c0 -o asymmetric.pcapng
      wireshark asymmetric.pcapng
    """
    from pcapkit.evidence import evidence_file_name, export, find_finding, load_report

    document = load_report(report)
    target = output or evidence_file_name(find_finding(document, finding_id))
    (done,) = export(document, [finding_id], [target], base=base)
    click.echo(f"pcapkit: wrote {done.path}: {done.packets:,} packet(s) of finding "
               f"{done.finding} from {done.files} file(s) on {done.interfaces} "
               "interface(s)", err=True)
