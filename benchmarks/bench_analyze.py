#!/usr/bin/env python3
"""``pcapkit analyze`` as a user runs it, beside tshark on the same files.

    python benchmarks/bench_analyze.py [--file F] [--parts 4] [--repeat N]

Splits the benchmark capture (``make_mixed_capture.py``, generated under /tmp when
missing) into ``--parts`` node files with ``editcap -c``, then times whole processes,
interpreter start included: ``pcapkit analyze DIR --format json`` with no cache, the same
with ``--cache`` twice (the first run fills it, the second reads it), and tshark reading
every file with its conversation and DNS statistics (``tshark -n -r F -q -z conv,tcp
-z conv,udp -z dns,tree``, one process per file, the sum). Prints wall seconds, CPU
seconds (user + system of the process and its workers), packets/s and peak memory of each.
pcapkit's modules are byte-compiled first (``python -m compileall -q``, as an installed
package is), so no timed run compiles source. The targets (issue 10): at least 300,000
packets/s and at most 1.5 GiB for the uncached analysis.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_measure import compile_package, memory_method, run_child
from capture_defaults import DEFAULT_PACKETS, default_output

HERE = Path(__file__).resolve().parent
TARGET_RATE = 300_000
TARGET_PEAK = 1.5 * 2**30


def split(capture: Path, parts: int, packets: int) -> Path:
    """The capture as ``parts`` files (cached beside it: editcap takes seconds)."""
    directory = capture.with_name(f"{capture.stem}-split{parts}")
    if (directory / ".done").exists():
        return directory
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    per_file = -(-packets // parts)
    subprocess.run(["editcap", "-c", str(per_file), str(capture), str(directory / "node.pcap")],
                   check=True)
    (directory / ".done").write_text("")
    return directory


def count_packets(capture: Path) -> int:
    out = subprocess.run(["capinfos", "-c", "-M", str(capture)], check=True,
                         capture_output=True, text=True).stdout
    return int(out.strip().splitlines()[-1].split()[-1])


def _is_report(stdout: str) -> bool:
    """Whether ``stdout`` is a JSON report: exit 1 also means "findings at --fail-on", so
    the exit status alone cannot tell a finished analysis from one that never started."""
    try:
        return "findings" in json.loads(stdout)
    except ValueError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=default_output(DEFAULT_PACKETS, 1))
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs per row")
    args = parser.parse_args()
    if not args.file.exists():
        subprocess.run([sys.executable, str(HERE / "make_mixed_capture.py"), "--output",
                        str(args.file)], check=True)
    for tool in ("editcap", "capinfos", "tshark"):
        if shutil.which(tool) is None:
            sys.exit(f"bench_analyze: {tool} not found (apt-get install tshark)")
    packets = count_packets(args.file)
    directory = split(args.file, args.parts, packets)
    files = sorted(directory.glob("*.pcap"))
    pcapkit = [sys.executable, "-m", "pcapkit", "analyze", str(directory), "--format", "json",
               "--fail-on", "critical", "-q"]

    compile_package()

    def best(argv: list[str], runs: int | None = None) -> tuple[float, float, int]:
        outcomes = []
        is_pcapkit = argv[:len(pcapkit)] == pcapkit
        for _ in range(runs or args.repeat):
            run = run_child(argv, keep_stdout=is_pcapkit)
            if run.returncode not in (0, 1) or (is_pcapkit and not _is_report(run.stdout)):
                sys.exit(f"bench_analyze: {' '.join(argv)}: {run.failure()}")
            outcomes.append((run.seconds, run.cpu_seconds, run.peak_rss))
        return min(outcomes)

    rows = [("pcapkit analyze (no cache)", *best(pcapkit))]
    with tempfile.TemporaryDirectory(prefix="pcapkit-cache-") as cache:
        rows.append(("pcapkit analyze --cache (first run)",
                     *best([*pcapkit, "--cache", cache], runs=1)))
        rows.append(("pcapkit analyze --cache (cached run)", *best([*pcapkit, "--cache", cache])))
    tshark = [best(["tshark", "-n", "-r", str(f), "-q", "-z", "conv,tcp", "-z", "conv,udp",
                    "-z", "dns,tree"]) for f in files]
    rows.append((f"tshark -q -z conv,tcp/udp,dns (x{len(files)})", sum(s for s, _, _ in tshark),
                 sum(c for _, c, _ in tshark), max(m for _, _, m in tshark)))

    print(f"capture: {args.file} ({packets:,} packets) as {len(files)} files in {directory}")
    print(f"memory: {memory_method()}")
    for name, seconds, cpu, peak in rows:
        print(f"  {name:40s} {seconds:7.2f} s  CPU {cpu:6.2f} s  {packets / seconds:>10,.0f} "
              f"pkt/s  peak {peak / 2**20:7,.0f} MiB")
    seconds, peak = rows[0][1], rows[0][3]
    rate = packets / seconds
    print(f"{'PASS' if rate >= TARGET_RATE else 'FAIL'}  analyze >= {TARGET_RATE:,} pkt/s: "
          f"{rate:,.0f}")
    print(f"{'PASS' if peak <= TARGET_PEAK else 'FAIL'}  analyze peak <= 1.5 GiB: "
          f"{peak / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
