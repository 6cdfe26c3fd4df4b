"""The options commands share, each handed to the command as the object it stands for.

A command over an incident's captures is its own options plus these decorators::

    @click.command()
    @capture_options                        # PATHS..., --snapshot, --node, decode options
    @output_options()                       # --format, --output
    @stage_options("flow_options", FlowOptions, udp_timeout="--udp-timeout")
    def flows(captures: CaptureInputs, output: Output, flow_options: FlowOptions) -> None:
        output = output.of(FLOWS)               # --columns/--where checked now
        capture = captures.open(flow_options=flow_options)
        output.write(capture.flows)
        warn_damaged(capture.errors)

Bad values are click usage errors (exit 2, one line); a PcapkitError raised later is
turned into one line and exit 2 by the command group (``pcapkit.cli._Group``).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import click

from pcapkit.cli.output import FORMAT_HELP, FORMATS, Output
from pcapkit.errors import PcapkitError
from pcapkit.options import field_of

if TYPE_CHECKING:
    from pcapkit.capture import Capture
    from pcapkit.decode.config import DecodeConfig


def _gathered(options: Mapping[str, Callable], into: str,
              make: Callable[..., object]) -> Callable[[Callable], Callable]:
    """A decorator adding ``options`` (parameter name -> click decorator) to a command,
    which gets ``make(**their values)`` as its one argument ``into`` instead."""
    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def run(**kwargs: Any) -> object:
            values = {name: kwargs.pop(name) for name in options}
            return command(**kwargs, **{into: make(**values)})

        for option in reversed(list(options.values())):
            run = option(run)
        return run
    return decorate


def _decode_config(decode_as: tuple[str, ...]) -> DecodeConfig:
    from pcapkit.decode.config import DecodeConfig

    return DecodeConfig(decode_as=decode_as)


def _checked_decode_as(ctx: click.Context, param: click.Parameter,
                       entries: tuple[str, ...]) -> tuple[str, ...]:
    try:
        _decode_config(entries)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return entries


#: how to decode: handed to the command as ``config`` (a DecodeConfig); each -d entry
#: adds a port to the defaults or changes what one means, as Wireshark's "Decode As" does
decode_options = _gathered({
    "decode_as": click.option(
        "-d", "--decode-as", "decode_as", multiple=True, callback=_checked_decode_as,
        metavar="udp.port==PORT,PROTOCOL",
        help="Decode a port as a protocol, as Wireshark's -d does: udp.port==8473,vxlan "
             "adds a VXLAN port, udp.port==4789,none stops decoding one, "
             "tcp.port==5353,dns parses DNS there. Protocols: the tunnels (vxlan, geneve, "
             "...), dns, none. Defaults: each tunnel's own ports, 53 for DNS. Repeatable."),
}, "config", _decode_config)

def _captures_in(ctx: click.Context, param: click.Parameter,
                 paths: tuple[str, ...]) -> tuple[str, ...]:
    """The paths, when at least one capture is among them (a directory with none, alone,
    is an error before any output is written)."""
    from pcapkit.ingest.remote import is_url
    from pcapkit.io.paths import iter_capture_paths

    local = [p for p in paths if not is_url(p)]
    if local and len(local) == len(paths) and \
            next(iter(iter_capture_paths(local)), None) is None:
        raise click.BadParameter(f"no captures found in {', '.join(paths)} (pcap, pcapng, "
                                 "gzipped, or tar archives such as Retina's)")
    return paths


class _CapturePath(click.Path):
    """A local path that exists, or an fsspec URL (``s3://bucket/incident/``), which is
    read when the captures are (pcapkit.ingest.remote)."""

    def convert(self, value, param, ctx):
        from pcapkit.ingest.remote import is_url

        return value if is_url(value) else super().convert(value, param, ctx)


#: capture files and directories (or URLs): each must exist, together hold a capture
paths_argument = click.argument("paths", nargs=-1, required=True,
                                type=_CapturePath(exists=True), callback=_captures_in)


def _node_mapping(ctx: click.Context, param: click.Parameter,
                  items: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for item in items:
        file, sep, node = item.partition("=")
        if not sep or not file or not node:
            raise click.BadParameter(f"{item!r} is not FILE=NODE")
        mapping[file] = node
    return mapping


@dataclasses.dataclass(frozen=True)
class CaptureInputs:
    """What to read: capture paths, cluster exports, the node of each file, decoding."""

    paths: tuple[str, ...]
    snapshots: tuple[str, ...]
    nodes: Mapping[str, str]
    config: DecodeConfig

    def with_found_snapshots(self) -> tuple[CaptureInputs, bool]:
        """These inputs, with the cluster exports found in the capture directories
        (``cluster.json``, ``cluster.yaml``, ``snapshot/``) when ``--snapshot`` named none;
        and whether they were found that way."""
        if self.snapshots:
            return self, False
        from pcapkit.cluster.snapshot.discover import discover_snapshots

        found = tuple(str(p) for p in discover_snapshots(self.paths))
        return dataclasses.replace(self, snapshots=found), bool(found)

    def open(self, **stage_options: Any) -> Capture:
        """The Capture (lazy: nothing is read yet); ``flow_options=``/``dns_options=``."""
        from pcapkit.capture import Capture

        return Capture(self.paths, snapshot=list(self.snapshots) or None,
                       nodes=dict(self.nodes) or None, config=self.config, **stage_options)


def _capture_inputs(paths: tuple[str, ...], snapshots: tuple[str, ...],
                    nodes: dict[str, str], config: DecodeConfig) -> CaptureInputs:
    return CaptureInputs(paths, snapshots, nodes, config)


#: the captures of an incident: handed to the command as ``captures`` (CaptureInputs)
capture_options = _gathered({
    "paths": paths_argument,
    "snapshots": click.option("--snapshot", "snapshots", multiple=True,
                              type=click.Path(exists=True),
                              help="Cluster export (file or directory) for identities; "
                                   "repeatable."),
    "nodes": click.option("--node", "nodes", multiple=True, metavar="FILE=NODE",
                          callback=_node_mapping,
                          help="Say which node a capture file was taken on; repeatable."),
    "config": decode_options,
}, "captures", _capture_inputs)


def _column_list(ctx: click.Context, param: click.Parameter,
                 values: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(n.strip() for value in values for n in value.split(",") if n.strip())
    if values and not names:
        raise click.BadParameter("name at least one column")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise click.BadParameter(f"{', '.join(twice)} named twice")
    return names


def output_options(*, directory: bool = False,
                   help: str = "Write here instead of stdout.") -> Callable[[Callable], Callable]:
    """``--format``, ``-o/--output`` and the choice of rows and columns (``--columns``,
    ``--all-columns``, ``--where``), handed to the command as ``output`` (an Output; the
    command binds it to its table with ``output.of(table)``), checked before the command
    runs (a directory only where ``directory`` says the command can write one)."""
    def checked(fmt: str, path: str | None, columns: tuple[str, ...], all_columns: bool,
                where: tuple[str, ...]) -> Output:
        output = Output(fmt, path, columns, all_columns, where)
        output.check(directory=directory and fmt == "parquet")
        return output

    return _gathered({
        "fmt": click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                            show_default=True, help=FORMAT_HELP),
        "path": click.option("-o", "--output", "path", type=click.Path(), help=help),
        "columns": click.option(
            "--columns", "columns", multiple=True, metavar="A,B,...", callback=_column_list,
            help="Only these columns, in this order, in every format (table, csv, json, "
                 "parquet); names as in docs/columns.md."),
        "all_columns": click.option(
            "--all-columns", is_flag=True,
            help="Table format: every column, however wide (default: the table's brief "
                 "columns, as many as fit the terminal)."),
        "where": click.option(
            "--where", "where", multiple=True, metavar="FIELD[|MODIFIER]=VALUE",
            help="Only rows matching, as a Sigma rule's detection item matches: "
                 "conn_state=S0, 'resp_p|gte=1024', 'orig_h|cidr=10.244.0.0/16', "
                 "'qname|endswith=.svc.cluster.local'; comma-separated values are "
                 "alternatives, a repeated --where must hold too; null is a missing value "
                 "(modifiers: rules/README.md)."),
    }, "output", checked)


def stage_options(into: str, options: type, **flags: str) -> Callable[[Callable], Callable]:
    """One click option per named field of a stage's options dataclass (field name ->
    flag), with the field's default and meaning as help; the command gets
    ``options(**values)`` as ``into``. Each value is checked by the dataclass itself."""
    def check(name: str) -> Callable:
        def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
            try:
                options(**{name: value})
            except PcapkitError as exc:
                raise click.BadParameter(str(exc)) from None
            return value
        return callback

    decorators = {}
    for name, flag in flags.items():
        declared = field_of(options, name)
        kind = {"is_flag": True} if isinstance(declared.default, bool) else {
            "type": type(declared.default), "show_default": True}
        decorators[name] = click.option(flag, name, default=declared.default,
                                        help=declared.metadata["doc"], callback=check(name),
                                        **kind)
    return _gathered(decorators, into, options)


def warn_damaged(errors: Iterable[object]) -> None:
    """Each file that could not be read completely as a warning on stderr; exit status 1
    when there was any (what was read before the damage has been written already)."""
    errors = list(errors)
    for error in errors:
        click.echo(f"pcapkit: warning: {error}", err=True)
    if errors:
        sys.exit(1)
