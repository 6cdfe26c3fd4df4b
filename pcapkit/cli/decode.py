"""``pcapkit decode``: the packet table of capture files."""

from __future__ import annotations

import dataclasses

import click

from pcapkit.cli.options import decode_options, output_options, paths_argument, warn_damaged
from pcapkit.cli.output import Output
from pcapkit.decode.config import DecodeConfig


@click.command()
@paths_argument
@output_options(directory=True,
                help="Write here instead of stdout. With --format parquet, a directory (an "
                     "existing one, or a path ending in /) gets one Parquet part per "
                     "capture, decoded in parallel; --columns or --where write one file, "
                     "decoded in memory (without them Parquet output streams).")
@click.option("-j", "--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes for a Parquet directory output (default: the CPUs).")
@decode_options
@click.option("--dns", "table", flag_value="dns", help="Print the DNS table instead of packets.")
@click.option("--interfaces", "table", flag_value="interfaces",
              help="Print the capture interfaces instead of packets.")
def decode(paths: tuple[str, ...], output: Output, workers: int | None, config: DecodeConfig,
           table: str | None) -> None:
    """Decode capture files and directories into one row per packet.

    Damaged files are reported on stderr with their byte offset; every packet
    before the damage, and every other file, is still decoded. The exit status
    is 1 when any file was damaged.

    \b
    Examples:
      pcapkit decode fixtures/kernel/node2-eth0.pcap
      pcapkit decode fixtures/kernel/ --format csv -o packets.csv
      pcapkit decode fixtures/kernel/node1-any.pcap --dns
      pcapkit decode captures/ --format parquet -o packets/       # one part per capture
      pcapkit decode capture.pcap -d udp.port==8473,vxlan         # Decode As
      pcapkit decode fixtures/kernel/ --where proto=tcp --where tcp_flags=S,S.
      pcapkit decode fixtures/kernel/node2-eth0.pcap --columns ts,src,dst,proto,payload_head
      pcapkit decode fixtures/retina/demo/shop-incident/ --format parquet -o packets.parquet
    """
    from pcapkit.ingest import Inputs
    from pcapkit.schema import TABLES

    output = output.of({"dns": TABLES["dns_messages"], "interfaces": TABLES["interfaces"]
                        }.get(table or "", TABLES["packets"].at("decode")))
    config = dataclasses.replace(config, dns=table == "dns")
    inputs = Inputs(paths)  # tar archives (Retina's) unpacked while this runs
    if output.fmt == "parquet" and table is None and not output.selects:
        from pcapkit.decode.parquet import write_packets_dataset, write_packets_parquet

        names = {str(f.path): f.name for f in inputs.files}
        with output.writing():
            if output.is_directory:  # one part per capture, in parallel
                _, errors = write_packets_dataset(inputs.paths, output.path, config,
                                                  workers=workers, names=names)
            else:  # stream: bounded memory, both cores
                _, errors = write_packets_parquet(inputs.paths, output.path, config,
                                                  names=names)
        errors = [*inputs.problems, *errors]
    else:
        from pcapkit.decode.files import decode_files

        output.check()  # a directory only for streamed Parquet: refused before decoding
        result = inputs.label(decode_files(inputs.paths, config=config))
        frame = {"dns": result.dns, "interfaces": result.interfaces}.get(table or "",
                                                                          result.packets)
        output.write(frame)
        errors = result.errors
    warn_damaged(errors)
