#!/usr/bin/env python3
"""What the core rule pack costs on top of decoding, flows and DNS transactions.

    python benchmarks/bench_rules.py [--file F] [--repeat N]

Opens the benchmark capture (``make_mixed_capture.py``, generated under /tmp when missing)
with ``pcapkit.open`` in a fresh interpreter, times the tables the rules stand on (decode,
vantage, flows, DNS transactions), then every analysis's derived table, then the core pack's
rules, and prints seconds per step, the rules' share of the base, and the findings per rule.
The target (issue 9): the core pack adds at most 20% to decode + flows + DNS. Best of
``--repeat`` runs, each in its own process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from capture_defaults import DEFAULT_PACKETS, default_output

HERE = Path(__file__).resolve().parent
TARGET_SHARE = 0.20

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import pcapkit
from pcapkit.analyses import analyses
from pcapkit.rules import load_rules
from pcapkit.rules.engine import EvidenceIndex, evaluate
analyses()  # every analysis module imported (and compiled) now: imports are not timed
imported = time.perf_counter()
cap = pcapkit.open([sys.argv[1]])
steps = {}
def timed(name, fn):
    start = time.perf_counter(); fn(); steps[name] = time.perf_counter() - start
timed("decode", lambda: cap.decoded.packets)
timed("vantage", lambda: cap.vantage)
timed("flows", lambda: cap.flows)
timed("dns", lambda: cap.dns)
timed("distinct+flow_id", lambda: cap.distinct)
pack = load_rules()
tables = sorted({r.table for r in pack.rules} - {"flows", "dns", "packets", "sightings",
                                                "distinct"})
for name in tables:
    timed(f"analysis {name}", lambda name=name: cap.table(name))
per_rule = {}
start = time.perf_counter()
index = EvidenceIndex(cap)  # one per incident, shared by every rule (as run_rules does)
for rule in pack.rules:
    s = time.perf_counter()
    found = evaluate(rule, cap, index=index)
    per_rule[rule.title] = [len(found), round(time.perf_counter() - s, 4)]
steps["rules"] = time.perf_counter() - start
print(json.dumps({"steps": steps, "per_rule": per_rule, "imports": imported - t0,
                  "packets": len(cap.decoded.packets), "flows": len(cap.flows)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=default_output(DEFAULT_PACKETS, 1))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if not args.file.exists():
        subprocess.run([sys.executable, str(HERE / "make_mixed_capture.py"), "--output",
                        str(args.file)], check=True)
    runs = []
    for _ in range(args.repeat):
        out = subprocess.run([sys.executable, "-c", CHILD, str(args.file)], check=True,
                             capture_output=True, text=True, cwd=HERE)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: sum(r["steps"].values()))
    steps = best["steps"]
    base = sum(steps[k] for k in ("decode", "vantage", "flows", "dns"))
    extra = sum(v for k, v in steps.items() if k.startswith("analysis") or k == "rules") \
        + steps["distinct+flow_id"]
    print(f"capture: {args.file} ({best['packets']:,} packets, {best['flows']:,} flows)")
    for name, seconds in steps.items():
        print(f"  {name:<32} {seconds:8.3f} s")
    print(f"  {'base: decode+vantage+flows+dns':<32} {base:8.3f} s")
    print(f"  {'core pack: analyses+rules':<32} {extra:8.3f} s  ({extra / base:.1%} of base)")
    verdict = "PASS" if extra <= TARGET_SHARE * base else "FAIL"
    print(f"{verdict}  core pack adds <= {TARGET_SHARE:.0%}: {extra / base:.1%}")
    print("findings per rule (count, seconds):")
    for title, (count, seconds) in sorted(best["per_rule"].items(), key=lambda x: -x[1][1]):
        print(f"  {count:6d} {seconds:7.3f} s  {title}")


if __name__ == "__main__":
    main()
