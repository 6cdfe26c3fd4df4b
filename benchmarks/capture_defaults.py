"""Default size and location of the benchmark capture (no heavy imports: the benchmark
driver imports this and must stay small, see bench_measure)."""

from __future__ import annotations

from pathlib import Path

DEFAULT_PACKETS = 1_000_000
CAPTURE_DIR = Path("/tmp/pcapkit-bench")      # never inside the repository


def default_output(packets: int, seed: int) -> Path:
    """Where a capture of this size and seed lives unless told otherwise."""
    return CAPTURE_DIR / f"mixed-{packets}-seed{seed}.pcap"
