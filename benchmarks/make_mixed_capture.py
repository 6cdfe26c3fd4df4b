#!/usr/bin/env python3
"""Generate a large, Kubernetes-node-like pcap for benchmarking pcapkit.

About 60% VXLAN (flannel 8472 and Cilium 4789), 15% Calico IP-in-IP, 10% OVN
Geneve with option TLVs, 10% CoreDNS traffic (some inside VXLAN, with
NXDOMAINs from ndots:5 search paths) and 5% plain node TCP; ~540 bytes a
frame on average, timestamps spread over a few minutes.  One million packets
(~560 MB) take a few seconds: a few hundred template frames are built once and
copied with numpy, only addresses/ports/ids/VNIs/sequence numbers/checksums
being stamped per packet (all checksums are valid).

    python benchmarks/make_mixed_capture.py --packets 1000000 --output /tmp/mixed.pcap --check
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from capture_defaults import DEFAULT_PACKETS, default_output
from capture_plan import build_plan
from capture_templates import build_catalogue
from capture_writer import write_capture

CHECK_SAMPLE = 2000
TSHARK_ERROR_SEVERITY = 0x800000            # Wireshark PI_ERROR (malformed, bad checksum)
TSHARK_CHECKSUM_PREFS = ("-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                         "-o", "udp.check_checksum:TRUE")


def generate(output: Path, packets: int, seed: int = 1, duration_s: float = 180.0) -> dict:
    """Write the capture; return a summary (packets, bytes, mean frame size, seconds)."""
    if packets < 1:
        raise ValueError("--packets must be at least 1")
    started = time.perf_counter()
    catalogue = build_catalogue(seed)
    plan = build_plan(catalogue, packets, seed, duration_s)
    output.parent.mkdir(parents=True, exist_ok=True)
    size = write_capture(output, catalogue, plan)
    frame_len = np.array([len(t.frame.data) for t in catalogue.templates])[plan.template]
    categories = np.array([t.category for t in catalogue.templates])[plan.template]
    return {
        "packets": packets,
        "bytes": size,
        "templates": len(catalogue.templates),
        "mean_frame": float(frame_len.mean()),
        "mix": {name: count / packets for name, count in sorted(Counter(categories).items())},
        "seconds": time.perf_counter() - started,
    }


def classify(protocols: str) -> str:
    """Traffic kind of a packet from tshark's frame.protocols."""
    if ":dns" in protocols:
        return "dns"
    for name in ("vxlan", "geneve"):
        if f":{name}:" in protocols:
            return name
    if ":ip:ip:" in protocols:
        return "ipip"
    return "tcp" if protocols.endswith(":tcp") or ":tcp:" in protocols else "other"


def check_capture(path: Path, expected_packets: int | None, sample: int = CHECK_SAMPLE) -> list[str]:
    """Dissect the first ``sample`` packets with tshark (checksums validated) and count all
    packets with capinfos; return the problems found (empty when the capture is good)."""
    problems: list[str] = []
    if shutil.which("tshark") is None:
        return ["tshark not found: cannot check the capture"]
    command = ["tshark", "-n", "-r", str(path), "-c", str(sample), "-d", "udp.port==8472,vxlan",
               *TSHARK_CHECKSUM_PREFS, "-T", "fields", "-E", "separator=|",
               "-e", "frame.number", "-e", "frame.protocols", "-e", "_ws.expert.severity",
               "-e", "_ws.expert.message"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        return [f"tshark failed on {path}: {result.stderr.strip()[-500:]}"]
    kinds: Counter[str] = Counter()
    lines = result.stdout.splitlines()
    for line in lines:
        number, protocols, severities, messages = (line.split("|") + ["", "", ""])[:4]
        kinds[classify(protocols)] += 1
        levels = [int(level) for level in severities.split(",") if level]
        if "_ws.malformed" in protocols or any(lv >= TSHARK_ERROR_SEVERITY for lv in levels):
            problems.append(f"frame {number}: {protocols}: {messages}")
    if len(lines) != min(sample, expected_packets or sample):
        problems.append(f"tshark dissected {len(lines)} packets, expected {sample}")
    print(f"tshark sample of {len(lines)}: "
          + ", ".join(f"{kind} {count / max(len(lines), 1):.1%}" for kind, count in
                      sorted(kinds.items())))
    if kinds["other"]:
        problems.append(f"{kinds['other']} sampled packets of an unexpected protocol stack")
    problems += _check_packet_count(path, expected_packets)
    return problems


def _check_packet_count(path: Path, expected_packets: int | None) -> list[str]:
    if shutil.which("capinfos") is None:
        return ["capinfos not found: packet count not checked"]
    result = subprocess.run(["capinfos", "-M", "-c", "-T", "-r", str(path)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        return [f"capinfos failed on {path}: {result.stderr.strip()[-500:]}"]
    counted = int(result.stdout.split()[-1])
    print(f"capinfos: {counted} packets")
    if expected_packets is not None and counted != expected_packets:
        return [f"capinfos counts {counted} packets, expected {expected_packets}"]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=DEFAULT_PACKETS,
                        help=f"number of packets (default {DEFAULT_PACKETS:,})")
    parser.add_argument("--output", type=Path, help="pcap to write (default under /tmp)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--duration", type=float, default=180.0,
                        help="seconds the timestamps span (default 180)")
    parser.add_argument("--check", action="store_true",
                        help="afterwards, dissect a sample with tshark and count with capinfos")
    parser.add_argument("--check-only", action="store_true",
                        help="only check an existing --output, do not generate")
    args = parser.parse_args(argv)
    if args.packets < 1:
        parser.error("--packets must be at least 1")
    if args.duration <= 0:
        parser.error("--duration must be positive")
    output = args.output or default_output(args.packets, args.seed)

    if not args.check_only:
        try:
            summary = generate(output, args.packets, args.seed, args.duration)
        except OSError as error:
            print(f"error: cannot write {output}: {error.strerror or error}", file=sys.stderr)
            return 1
        mix = ", ".join(f"{name} {share:.1%}" for name, share in summary["mix"].items())
        print(f"wrote {output}: {summary['packets']:,} packets, {summary['bytes'] / 1e6:.1f} MB, "
              f"mean frame {summary['mean_frame']:.0f} B, {summary['templates']} templates, "
              f"{summary['seconds']:.1f} s\nmix: {mix}")
    elif not output.is_file():
        print(f"error: {output}: no such capture to check", file=sys.stderr)
        return 1

    if args.check or args.check_only:
        problems = check_capture(output, args.packets)
        for problem in problems[:20]:
            print(f"problem: {problem}", file=sys.stderr)
        print("check: OK" if not problems else f"check: {len(problems)} problem(s)")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
