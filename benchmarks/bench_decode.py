#!/usr/bin/env python3
"""Time pcapkit against tshark (and a plain read, dpkt, scapy) on a node-like capture.

    python benchmarks/bench_decode.py [--packets N] [--file F] [--tshark-packets M]

Generates the capture first if it does not exist (make_mixed_capture.py, under
/tmp by default), warms the page cache, then runs every step in its own
process and prints one table: tool, packets, seconds, packets/s, peak RSS.
Besides decoding it times the analysis after it (vantage, flows, DNS
transactions, in one process, and the ``flows`` and ``dns`` commands end to
end) unless ``--skip-analysis``.  A step that fails prints an error line; the
others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench_measure import ChildRun, memory_method, run_child
from capture_defaults import DEFAULT_PACKETS, default_output

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GIB = 1 << 30
TARGET_DECODE_RATE = 1_000_000          # packets/s, pcapkit.decode_file
TARGET_CLI_VS_TSHARK = 40.0             # CLI packets/s divided by tshark packets/s
TARGET_PEAK_RSS = GIB                   # CLI and streaming decode

# The columns pcapkit produces, as tshark fields (tshark lists every IP layer: outer + inner).
TSHARK_FIELDS = (
    "frame.number", "frame.time_epoch", "frame.interface_id", "frame.cap_len", "frame.len",
    "eth.type", "ip.src", "ip.dst", "ip.proto", "ip.ttl", "ip.id", "ipv6.src", "ipv6.dst",
    "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.len",
    "udp.srcport", "udp.dstport", "udp.length", "vxlan.vni", "geneve.vni",
    "icmp.type", "icmp.code", "dns.id", "dns.qry.name", "dns.qry.type", "dns.flags.rcode",
)


@dataclass
class Row:
    """One line of the result table."""

    tool: str
    packets: int | None = None
    seconds: float | None = None
    peak_rss: int | None = None
    note: str = ""
    error: str | None = None
    rows: int | None = None             # rows the step produced (Parquet rows, flows ...)

    @property
    def rate(self) -> float | None:
        if self.packets is None or not self.seconds:
            return None
        return self.packets / self.seconds


def pcapkit_env() -> dict[str, str]:
    """Environment that makes children import pcapkit from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def count_packets(path: Path) -> int | None:
    """Packets in the capture according to capinfos (None if it cannot tell)."""
    if shutil.which("capinfos") is None:
        return None
    result = subprocess.run(["capinfos", "-M", "-c", "-T", "-r", str(path)],
                            capture_output=True, text=True)
    try:
        return int(result.stdout.split()[-1])
    except (ValueError, IndexError):
        return None


def ensure_capture(path: Path, packets: int, seed: int) -> str | None:
    """Generate the capture if missing (in a child, to keep this process small); error or None."""
    if path.is_file():
        return None
    print(f"generating {path} ({packets:,} packets) ...", flush=True)
    run = run_child([sys.executable, str(HERE / "make_mixed_capture.py"), "--packets",
                     str(packets), "--seed", str(seed), "--output", str(path)], keep_stdout=True)
    if not run.ok:
        return f"cannot generate {path}: {run.failure()}"
    print(run.stdout.strip(), flush=True)
    return None


def warm_page_cache(path: Path) -> None:
    """Read the file once so every tool reads it from memory, not disk."""
    with open(path, "rb", buffering=0) as handle:
        while handle.read(1 << 24):
            pass


def _from_child(tool: str, run: ChildRun, packets: int | None, note: str = "") -> Row:
    if not run.ok:
        return Row(tool, error=run.failure())
    return Row(tool, packets, run.seconds, run.peak_rss, note)


def step_cat(path: Path, total: int | None) -> Row:
    return _from_child("cat > /dev/null", run_child(["cat", str(path)]), total,
                       "page cache read, process start included")


def step_worker(tool: str, worker: str, path: Path, *, limit: int | None = None,
                batch_size: int | None = None, expected: int | None = None) -> Row:
    """Run one bench_workers.py worker; seconds are its own (imports excluded)."""
    argv = [sys.executable, str(HERE / "bench_workers.py"), worker, str(path)]
    if limit is not None:
        argv += ["--limit", str(limit)]
    if batch_size is not None:
        argv += ["--batch-size", str(batch_size)]
    run = run_child(argv, env=pcapkit_env(), keep_stdout=True)
    if not run.ok:
        return Row(tool, error=run.failure())
    try:
        result = json.loads(run.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return Row(tool, error=f"unreadable worker output: {run.stdout[-200:]!r}")
    packets = result["packets"] if result["packets"] is not None else expected
    note = result.get("note", "")
    if result.get("import_rss"):
        note += f"; {result['import_rss'] / 2**20:.0f} MiB after imports"
    if worker in ("decode_file", "iter_decode") and expected is not None and packets != expected:
        note += f"; WARNING: {packets:,} rows, capture has {expected:,} packets"
    return Row(tool, packets, result["seconds"], run.peak_rss, note.strip("; "))


def step_tshark(path: Path, limit: int | None) -> Row:
    """tshark writing pcapkit's columns as CSV to /dev/null (optionally the first ``limit``)."""
    if shutil.which("tshark") is None:
        return Row("tshark -T fields", error="tshark not found")
    argv = ["tshark", "-n", "-r", str(path), "-d", "udp.port==8472,vxlan", "-T", "fields",
            "-E", "separator=,"]
    for name in TSHARK_FIELDS:
        argv += ["-e", name]
    if limit is not None:
        argv += ["-c", str(limit)]
    run = run_child(argv)
    note = f"{len(TSHARK_FIELDS)} fields, process start included"
    if limit is not None:
        note = f"first {limit:,} packets only; " + note
    return _from_child("tshark -T fields", run, limit if limit is not None else count_packets(path),
                       note)


def cli_command(custom: str | None) -> list[str]:
    """``pcapkit`` as a user runs it: an explicit command, else ``python -m pcapkit``."""
    if custom:
        return custom.split()
    return [sys.executable, "-m", "pcapkit"]


def run_cli_to_parquet(tool: str, command: list[str], subcommand: str, path: Path,
                       output: Path) -> Row:
    """``pcapkit SUBCOMMAND F --format parquet --output O`` as a user runs it, interpreter
    start and imports included: seconds, peak RSS and the Parquet row count (``rows``)."""
    output.unlink(missing_ok=True)
    run = run_child([*command, subcommand, str(path), "--format", "parquet", "--output",
                     str(output)], env=pcapkit_env())
    if not run.ok:
        return Row(tool, error=run.failure())
    try:
        import pyarrow.parquet as parquet

        rows = parquet.read_metadata(output).num_rows
    except Exception as error:  # noqa: BLE001 - any unreadable output is reported, not raised
        return Row(tool, error=f"{output} is not readable Parquet: {error}")
    size = output.stat().st_size / 1e6
    return Row(tool, None, run.seconds, run.peak_rss,
               f"-> Parquet {size:.{0 if size >= 10 else 1}f} MB", rows=rows)


def step_cli(path: Path, output: Path, command: list[str], expected: int | None) -> Row:
    """The whole CLI to Parquet, interpreter start and imports included."""
    row = run_cli_to_parquet("pcapkit decode (CLI)", command, "decode", path, output)
    if row.error or row.rows is None:
        return row
    row.packets = row.rows
    row.note += f", {row.rows:,} rows"
    if expected is not None and row.rows != expected:
        row.note += f"; WARNING: capture has {expected:,} packets"
    return row


# Analysis stages of bench_analysis.py: result key and table label.
ANALYSIS_STAGES = {
    "decode_files": ("analysis", "decode_files (analysis)"),
    "vantage": ("vantage", "vantage.build_sightings"),
    "flows": ("flows", "flows.assemble_flows"),
    "dns_tx": ("dns_tx", "dnstx.build_dns_transactions"),
}


def step_analysis(path: Path, expected: int | None) -> dict[str, Row]:
    """Decode once, then vantage, flows and DNS transactions, each timed alone, in one child
    process (imports excluded): one row per stage, its peak RSS the process's peak so far."""
    run = run_child([sys.executable, str(HERE / "bench_analysis.py"), str(path)],
                    env=pcapkit_env(), keep_stdout=True)
    if not run.ok:
        return {key: Row(label, error=run.failure()) for key, label in ANALYSIS_STAGES.values()}
    try:
        result = json.loads(run.stdout.strip().splitlines()[-1])
        stages = {stage["stage"]: stage for stage in result["stages"]}
    except (json.JSONDecodeError, IndexError, KeyError, TypeError):
        error = f"unreadable analysis output: {run.stdout[-200:]!r}"
        return {key: Row(label, error=error) for key, label in ANALYSIS_STAGES.values()}
    rows: dict[str, Row] = {}
    for stage, (key, label) in ANALYSIS_STAGES.items():
        found = stages.get(stage)
        if found is None or found.get("error"):
            rows[key] = Row(label, error=(found or {}).get("error", "stage not run"))
            continue
        row = Row(label, found["packets"], found["seconds"], found["peak_rss"], found["note"],
                  rows=found["rows"])
        if stage == "decode_files" and result.get("import_rss"):
            row.note += f"; {result['import_rss'] / 2**20:.0f} MiB after imports"
        if stage == "decode_files" and expected is not None and row.packets != expected:
            row.note += f"; WARNING: capture has {expected:,} packets"
        rows[key] = row
    return rows


def step_cli_analysis(tool: str, subcommand: str, noun: str, path: Path, output: Path,
                      command: list[str], expected: int | None) -> Row:
    """``pcapkit flows`` / ``pcapkit dns`` end to end (decode included); packets/s is the
    capture's packets over the whole run."""
    row = run_cli_to_parquet(tool, command, subcommand, path, output)
    if row.error or row.rows is None:
        return row
    row.packets = expected
    row.note += f", {row.rows:,} {noun}; decode included"
    return row


def cross_check(results: dict[str, Row]) -> None:
    """Flag a CLI whose row count differs from the same table built in process."""
    for api_key, cli_key, noun in (("flows", "flows_cli", "flows"),
                                   ("dns_tx", "dns_cli", "transactions")):
        api, cli = results.get(api_key), results.get(cli_key)
        if api and cli and not api.error and not cli.error and api.rows != cli.rows:
            cli.note += f"; WARNING: {api.rows:,} {noun} in process"


def best_of(step: Callable[[], dict[str, Row]], repeat: int) -> dict[str, Row]:
    """Per row, the fastest of ``repeat`` runs (a busy machine only ever slows a run down),
    with the largest peak RSS seen; the first error ends the repetition."""
    runs: list[dict[str, Row]] = []
    for _ in range(repeat):
        rows = step()
        if any(row.error for row in rows.values()):
            return rows
        runs.append(rows)
    return {key: _fastest([run[key] for run in runs], repeat) for key in runs[0]}


def _fastest(runs: list[Row], repeat: int) -> Row:
    best = min(runs, key=lambda row: row.seconds or 0.0)
    best.peak_rss = max((row.peak_rss or 0) for row in runs) or None
    if repeat > 1:
        best.note = f"best of {repeat}; {best.note}"
    return best


def format_table(rows: list[Row]) -> str:
    header = f"{'tool':<28} {'packets':>10} {'seconds':>9} {'packets/s':>12} {'peak RSS':>10}  note"
    lines = [header, "-" * len(header)]
    for row in rows:
        if row.error:
            lines.append(f"{row.tool:<28} error: {row.error}")
            continue
        packets = f"{row.packets:,}" if row.packets is not None else "?"
        rate = f"{row.rate:,.0f}" if row.rate is not None else "?"
        rss = f"{row.peak_rss / 2**20:,.0f} MiB" if row.peak_rss else "?"
        lines.append(f"{row.tool:<28} {packets:>10} {row.seconds:>9.2f} {rate:>12} {rss:>10}  "
                     f"{row.note}")
    return "\n".join(lines)


def verdicts(rows: dict[str, Row]) -> list[str]:
    """The README targets, each PASS / FAIL / n/a with the measured figure."""
    def usable(key: str) -> Row | None:
        row = rows.get(key)
        return row if row is not None and not row.error and row.rate else None

    lines = []
    decode = usable("decode_file")
    lines.append(_verdict("pcapkit.decode_file >= 1,000,000 packets/s",
                          decode and decode.rate >= TARGET_DECODE_RATE,
                          decode and f"{decode.rate:,.0f} packets/s"))
    cli, tshark = usable("cli"), usable("tshark")
    ratio = cli.rate / tshark.rate if cli and tshark else None
    lines.append(_verdict("CLI >= 40x tshark", ratio and ratio >= TARGET_CLI_VS_TSHARK,
                          ratio and f"{ratio:.1f}x ({cli.rate:,.0f} vs {tshark.rate:,.0f} pkt/s)"))
    for key, label in (("cli", "CLI"), ("iter_decode", "iter_decode")):
        row = rows.get(key)
        measured = row if row and not row.error and row.peak_rss else None
        lines.append(_verdict(f"{label} peak RSS < 1 GiB",
                              measured and measured.peak_rss < TARGET_PEAK_RSS,
                              measured and f"{measured.peak_rss / 2**20:,.0f} MiB"))
    return lines


def _verdict(label: str, passed: bool | None, figure: str | None) -> str:
    if figure is None:
        return f"  n/a   {label} (no usable measurement: step failed or decoded nothing)"
    return f"  {'PASS' if passed else 'FAIL'}  {label}: {figure}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=DEFAULT_PACKETS,
                        help=f"packets when generating the capture (default {DEFAULT_PACKETS:,})")
    parser.add_argument("--file", type=Path, help="capture to use; generated if missing "
                        "(default /tmp/pcapkit-bench/mixed-N-seedS.pcap)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--tshark-packets", type=int,
                        help="tshark decodes only the first M packets (default: all)")
    parser.add_argument("--context-packets", type=int, default=5000,
                        help="packets for dpkt and scapy (default 5000; 0 skips them)")
    parser.add_argument("--batch-size", type=int, help="pcapkit batch size (default: pcapkit's)")
    parser.add_argument("--cli", help="pcapkit command to run (default: python -m pcapkit)")
    parser.add_argument("--parquet-output", type=Path,
                        default=Path("/tmp/pcapkit-bench/decoded.parquet"),
                        help="where the CLI writes (default /tmp/pcapkit-bench/decoded.parquet); "
                        "the flows and dns commands write flows.parquet and dns.parquet beside it")
    parser.add_argument("--skip-analysis", action="store_true",
                        help="time decoding only: no vantage, flows or DNS transactions and no "
                        "flows/dns commands")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each step this many times, keep the fastest (default 1)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    for name in ("packets", "tshark_packets", "batch_size", "repeat"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.context_packets < 0:
        parser.error("--context-packets must not be negative")

    path = args.file or default_output(args.packets, args.seed)
    problem = ensure_capture(path, args.packets, args.seed)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    total = count_packets(path)
    warm_page_cache(path)
    subprocess.run([sys.executable, "-c", "import pcapkit"], env=pcapkit_env(),
                   capture_output=True)                          # compile .pyc outside timings
    tshark_limit = args.tshark_packets if args.tshark_packets and (
        total is None or args.tshark_packets < total) else None
    print(f"capture: {path} ({path.stat().st_size / 1e6:.0f} MB, "
          f"{f'{total:,}' if total is not None else '?'} packets); "
          f"peak RSS by {memory_method()}\n", flush=True)

    command = cli_command(args.cli)
    steps: dict[str, Callable[[], dict[str, Row]]] = {   # each gives its rows by result key
        "cat": lambda: {"cat": step_cat(path, total)},
        "read": lambda: {"read": step_worker("python read", "read", path, expected=total)},
        "tshark": lambda: {"tshark": step_tshark(path, tshark_limit)},
        "decode_file": lambda: {"decode_file": step_worker(
            "pcapkit.decode_file", "decode_file", path, batch_size=args.batch_size,
            expected=total)},
        "iter_decode": lambda: {"iter_decode": step_worker(
            "pcapkit.iter_decode", "iter_decode", path, batch_size=args.batch_size,
            expected=total)},
        "cli": lambda: {"cli": step_cli(path, args.parquet_output, command, total)},
    }
    if not args.skip_analysis:
        steps["analysis"] = lambda: step_analysis(path, total)
        steps["flows_cli"] = lambda: {"flows_cli": step_cli_analysis(
            "pcapkit flows (CLI)", "flows", "flows", path,
            args.parquet_output.with_name("flows.parquet"), command, total)}
        steps["dns_cli"] = lambda: {"dns_cli": step_cli_analysis(
            "pcapkit dns (CLI)", "dns", "transactions", path,
            args.parquet_output.with_name("dns.parquet"), command, total)}
    if args.context_packets:
        for tool in ("dpkt", "scapy"):
            steps[tool] = (lambda tool=tool: {tool: step_worker(tool, tool, path,
                                                                limit=args.context_packets)})
    results: dict[str, Row] = {}
    for key, step in steps.items():
        print(f"running {key} ...", file=sys.stderr, flush=True)
        results.update(best_of(step, args.repeat))
    cross_check(results)

    print(format_table(list(results.values())))
    print("\ntargets:")
    print("\n".join(verdicts(results)))
    if args.json:
        payload = {"capture": str(path), "packets": total,
                   "results": {k: {**asdict(v), "rate": v.rate} for k, v in results.items()}}
        args.json.write_text(json.dumps(payload, indent=2))
    return 1 if any(row.error for row in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
