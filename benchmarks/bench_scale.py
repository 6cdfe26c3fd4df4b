#!/usr/bin/env python3
"""``pcapkit analyze`` on multi-node incidents of growing size, one pass against shares
(local processes, a Dask LocalCluster), beside tshark.

    python benchmarks/bench_scale.py [--per-node 50000 250000] [--nodes 20]
        [--memory-limit 2GiB] [--jobs 2] [--modes one shares dask] [--tshark]

Each incident is ``make_incident.py``'s (generated under /tmp when missing): ``--nodes``
files, packets between two nodes in both files. Every run is a whole process,
interpreter start included: ``pcapkit analyze DIR --format json`` in one pass
(``--memory-limit`` far above the incident), in shares on ``--jobs`` local processes
(``--memory-limit`` as given), and on a Dask LocalCluster of ``--jobs`` workers. Peak
memory is the most the whole process tree held at once (the sum of its processes'
proportional set sizes, sampled every 0.25 s: a page shared by a forked child and its
parent counts once in all). Before each run the captures are read once (1 MiB reads,
not timed), as the other benchmarks do, so a run reads them from the page cache as far as
it holds them (an 11 GB incident beside a run's own memory and store may not fit whole).
tshark reads
every file with its conversation and DNS statistics, one process per file, in turn.
The targets (issue 11): 20M packets in at most 90 s and 2 GiB on this 2-core machine, the
cost per packet flat as the incident grows, Dask at 80% of the local engine's rate.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from make_incident import default_directory, generate

MODES = ("one", "shares", "dask")
#: seconds between two samples of the tree's memory (each walks /proc: at 0.1 s the
#: sampling took 10-19% of one of the two cores the run has)
SAMPLE_S = 0.25


def tree_run(argv: list[str]) -> tuple[float, int, int]:
    """(seconds, peak bytes of the process tree, exit status) of one command."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            family = [root, *root.children(recursive=True)]
            peak = max(peak, sum(_resident(p) for p in family if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(SAMPLE_S)
    seconds = time.perf_counter() - started
    if process.returncode not in (0, 1):
        sys.stderr.write(process.stderr.read().decode(errors="replace")[-2000:])
    return seconds, peak, process.returncode


def _resident(process: psutil.Process) -> int:
    """The memory ``process`` holds: its proportional set size (a page shared by N
    processes, such as a forked child's pages of its parent, counts 1/N in each), or its
    resident set where the kernel gives no PSS."""
    try:
        return process.memory_full_info().pss
    except (psutil.AccessDenied, AttributeError):
        return process.memory_info().rss


def analyze(directory: Path, mode: str, args: argparse.Namespace) -> tuple[float, int, dict]:
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        argv = ["pcapkit", "analyze", str(directory), "--format", "json", "-o", str(report),
                "-q", "--jobs", str(args.jobs), "--work-dir", scratch]
        if mode == "one":
            argv += ["--memory-limit", "1TiB"]
        else:
            argv += ["--memory-limit", args.memory_limit]
        if mode == "dask":
            argv += ["--engine", "dask"]
        seconds, peak, status = tree_run(argv)
        summary = json.loads(report.read_text())["summary"] if status in (0, 1) else {}
    return seconds, peak, summary


def read_once(directory: Path) -> None:
    """Read every capture of ``directory`` into the page cache (as far as it holds)."""
    buffer = bytearray(1 << 20)
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        with path.open("rb", buffering=0) as stream:
            while stream.readinto(buffer):
                pass


def tshark(directory: Path) -> float:
    started = time.perf_counter()
    for path in sorted(directory.rglob("*.pcap")):
        subprocess.run(["tshark", "-n", "-r", str(path), "-q", "-z", "conv,tcp", "-z",
                        "conv,udp", "-z", "dns,tree"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-node", type=int, nargs="+", default=[50_000, 250_000])
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--memory-limit", default="2GiB")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--tshark", action="store_true", help="time tshark too")
    args = parser.parse_args()
    print(f"{'incident':>26} {'mode':>7} {'packets':>11} {'seconds':>8} {'pkt/s':>9} "
          f"{'peak MiB':>9} {'flows':>8} {'findings':>8}")
    for per_node in args.per_node:
        directory = default_directory(args.nodes, per_node, 1)
        if not (directory / ".done").exists():
            generate(directory, args.nodes, per_node)
        packets = int((directory / ".done").read_text())
        for mode in args.modes:
            read_once(directory)
            seconds, peak, summary = analyze(directory, mode, args)
            print(f"{directory.name:>26} {mode:>7} {packets:>11,} {seconds:>8.1f} "
                  f"{packets / seconds:>9,.0f} {peak / 2**20:>9,.0f} "
                  f"{summary.get('flows', 0):>8,} {summary.get('findings', 0):>8}",
                  flush=True)
        if args.tshark:
            read_once(directory)
            seconds = tshark(directory)
            print(f"{directory.name:>26} {'tshark':>7} {packets:>11,} {seconds:>8.1f} "
                  f"{packets / seconds:>9,.0f}", flush=True)


if __name__ == "__main__":
    main()
