#!/usr/bin/env python3
"""The analysis pipeline the benchmark times, run alone in a fresh interpreter.

    python benchmarks/bench_analysis.py FILE

decodes FILE once with ``pcapkit.decode_files`` and then runs, on the tables
kept in memory exactly as ``pcapkit.open`` does, the three analysis stages:
vantage (``capture_points`` + ``build_sightings``), flows (``assemble_flows``)
and DNS transactions (``build_dns_transactions``).  Prints one JSON object:
the resident memory after the imports and, per stage, seconds (imports and
earlier stages excluded), the capture packets it covered, the rows it
produced (packets, sightings, flows, transactions), the process's peak RSS so
far and a note that names those rows.  A stage that raises is reported with
its error and the stages that need its tables as skipped (DNS transactions
still run when flows fail), so the parent can still show what did run.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

# Each stage, in order, with the stage whose tables it works on.
NEEDS: dict[str, str | None] = {"decode_files": None, "vantage": "decode_files",
                                "flows": "vantage", "dns_tx": "vantage"}


def _peak_rss() -> int:
    """Peak RSS of this process so far, in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _counted(count: int, noun: str, column: Any) -> str:
    """``1,234 flows (udp 800, tcp 434)``: a row count and its split by ``column``."""
    split = ", ".join(f"{name} {n:,}" for name, n in column.value_counts().items())
    return f"{count:,} {noun}" + (f" ({split})" if split else "")


def _decode(state: dict) -> tuple[int, str]:
    import pcapkit

    decoded = pcapkit.decode_files([state["path"]])
    state["decoded"] = decoded
    note = f"{len(decoded.packets):,} packets, {len(decoded.dns):,} DNS messages"
    if decoded.errors:
        note += f", {len(decoded.errors)} error(s): {decoded.errors[0]}"
    return len(decoded.packets), note


def _vantage(state: dict) -> tuple[int, str]:
    from pcapkit.vantage import build_sightings, capture_points

    decoded = state["decoded"]
    vantage = build_sightings(decoded, capture_points(decoded))
    state["vantage"] = vantage
    sightings = len(vantage.sightings)
    return sightings, f"{sightings:,} sightings, {len(vantage.distinct):,} distinct packets"


def _flows(state: dict) -> tuple[int, str]:
    from pcapkit.flows import assemble_flows

    vantage = state["vantage"]
    flows, flow_id = assemble_flows(vantage.distinct, vantage.sightings)
    in_flows = int(flow_id.notna().sum())
    note = f"{_counted(len(flows), 'flows', flows['proto'])}, {in_flows:,} packets in flows"
    return len(flows), note


def _dns_transactions(state: dict) -> tuple[int, str]:
    from pcapkit.dnstx import build_dns_transactions

    messages = state["decoded"].dns
    transactions = build_dns_transactions(messages, state["vantage"].packets)
    note = (f"{_counted(len(transactions), 'transactions', transactions['status'])} "
            f"from {len(messages):,} DNS messages")
    return len(transactions), note


RUNNERS: dict[str, Callable[[dict], tuple[int, str]]] = {
    "decode_files": _decode,
    "vantage": _vantage,
    "flows": _flows,
    "dns_tx": _dns_transactions,
}


def run_pipeline(path: str) -> dict:
    """Every stage in order, timed one by one; a failure skips the stages that need it."""
    # Imported before the clock starts, like the other workers (``import pcapkit``
    # alone loads nothing: the package imports its API lazily).
    import pcapkit.decode.files  # noqa: F401
    import pcapkit.dnstx  # noqa: F401
    import pcapkit.flows  # noqa: F401
    import pcapkit.vantage  # noqa: F401

    result: dict = {"import_rss": _peak_rss(), "stages": []}
    state: dict = {"path": path}
    failed: set[str] = set()
    for name, needs in NEEDS.items():
        if needs in failed:
            result["stages"].append({"stage": name, "error": f"skipped: {needs} failed"})
            failed.add(name)
            continue
        started = time.perf_counter()
        try:
            rows, note = RUNNERS[name](state)
        except Exception as error:  # noqa: BLE001 - reported in the table, not as a traceback
            result["stages"].append({"stage": name,
                                     "error": f"{type(error).__name__}: {error}"})
            failed.add(name)
            continue
        seconds = time.perf_counter() - started
        packets = len(state["decoded"].packets)
        result["stages"].append({"stage": name, "seconds": seconds, "packets": packets,
                                 "rows": rows, "peak_rss": _peak_rss(), "note": note})
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time pcapkit's analysis stages on one capture "
                                     "(used by bench_decode)")
    parser.add_argument("file")
    args = parser.parse_args(argv)
    try:
        result = run_pipeline(args.file)
    except Exception as error:  # noqa: BLE001 - e.g. pcapkit not importable: one line
        print(f"analysis failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
