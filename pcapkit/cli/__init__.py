"""The ``pcapkit`` command line: each command is a few lines over the library."""

from __future__ import annotations

import atexit
import gc
import importlib
import logging
import os
import sys

import click

from pcapkit._version import __version__
from pcapkit.errors import PcapkitError

#: each command and where it is defined: imported only when it runs (or for --help),
#: so a command does not pay for the others' modules
COMMANDS = {"decode": "pcapkit.cli.decode:decode", "flows": "pcapkit.cli.incident:flows",
            "dns": "pcapkit.cli.incident:dns", "policy": "pcapkit.cli.policy:policy",
            "rules": "pcapkit.cli.rules:rules", "analyze": "pcapkit.cli.analyze:analyze",
            "export-evidence": "pcapkit.cli.export_evidence:export_evidence"}


# Interpreter shutdown runs the cyclic garbage collector over every object still alive
# (pandas, pyarrow and pcapkit's ~900 modules): 0.2 s of every command's wall and CPU time,
# to free memory the process is about to give back anyway. Freezing them when the process
# exits skips those scans; atexit handlers, flushing and refcounted cleanup run as before.
# (At exit only, so a long-lived process that imports the CLI still collects as usual.)
atexit.register(gc.freeze)


def _single_threaded_blas() -> None:
    """pcapkit does no linear algebra, yet numpy's OpenBLAS starts a spinning thread
    per core on import: 60 ms of CPU (2 cores) taken from the decoder. Only for the
    command line, and only before numpy is loaded (it reads this once)."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


class _Group(click.Group):
    """Loads its commands on first use, and turns pcapkit's own errors into one
    clear line instead of a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            _single_threaded_blas()
            # a command builds and drops million-row arrays: keep freed ones for reuse from
            # the start (the whole analyze spends 0.2 s less in page faults)
            from pcapkit.engines.base import reuse_freed_memory

            reuse_freed_memory()
            module, _, name = COMMANDS[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module), name), cmd_name)
        return super().get_command(ctx, cmd_name)

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

