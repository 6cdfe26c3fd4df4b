"""``pcapkit decode``: the packet table of capture files."""

from __future__ import annotations

import os
import sys

import click

from pcapkit.cli.output import FORMATS
from pcapkit.decode.config import DecodeConfig


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(),
              help="Write here instead of stdout. With --format parquet, a directory (an "
                   "existing one, or a path ending in /) gets one Parquet part per capture, "
                   "decoded in parallel.")
@click.option("-j", "--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes for a Parquet directory output (default: the CPUs).")
@click.option("--vxlan-port", "vxlan_ports", type=int, multiple=True,
              help="Also decode this UDP port as VXLAN (4789 and 8472 always are).")
@click.option("--geneve-port", "geneve_ports", type=int, multiple=True,
              help="Also decode this UDP port as Geneve (6081 always is).")
@click.option("--dns-port", "dns_ports", type=int, multiple=True,
              help="Also parse this port as DNS (53 always is).")
@click.option("--dns", "table", flag_value="dns", help="Print the DNS table instead of packets.")
@click.option("--interfaces", "table", flag_value="interfaces",
              help="Print the capture interfaces instead of packets.")
def decode(paths: tuple[str, ...], fmt: str, output: str | None, workers: int | None,
           vxlan_ports: tuple[int, ...],
           geneve_ports: tuple[int, ...], dns_ports: tuple[int, ...], table: str | None) -> None:
    """Decode capture files and directories into one row per packet.

    Damaged files are reported on stderr with their byte offset; every packet
    before the damage, and every other file, is still decoded. The exit status
    is 1 when any file was damaged.
    """
    config = DecodeConfig.build(vxlan_ports=vxlan_ports, geneve_ports=geneve_ports,
                                dns_ports=dns_ports, extra=True, dns=table == "dns")
    if fmt == "parquet" and output and table is None and _is_directory(output):
        # one part per capture, in parallel
        from pcapkit.decode.parquet import write_packets_dataset

        _, errors = write_packets_dataset(paths, output, config, workers=workers)
    elif fmt == "parquet" and output and table is None:  # stream: bounded memory, both cores
        from pcapkit.decode.parquet import write_packets_parquet

        _, errors = write_packets_parquet(paths, output, config)
    else:
        from pcapkit.cli.output import write_frame
        from pcapkit.decode.files import decode_files

        result = decode_files(paths, config=config)
        frame = {"dns": result.dns, "interfaces": result.interfaces}.get(table or "",
                                                                          result.packets)
        write_frame(frame, fmt, output)
        errors = result.errors
    for error in errors:
        click.echo(f"pcapkit: warning: {error}", err=True)
    if errors:
        sys.exit(1)


def _is_directory(output: str) -> bool:
    return output.endswith(("/", os.sep)) or os.path.isdir(output)
