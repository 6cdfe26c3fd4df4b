"""Helpers for the DNS transaction tests: decode, assemble vantage, build transactions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pcapkit.decode import decode_files
from pcapkit.dnstx import DnsOptions, build_dns_transactions
from pcapkit.vantage import build_sightings, capture_points

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "fixtures" / "dnstx"
PUBLIC = REPO / "fixtures" / "public"
KERNEL = REPO / "fixtures" / "kernel"
FLANNEL_SNAPSHOT = REPO / "fixtures" / "cluster" / "flannel" / "snapshot-t1.json"


def transactions(*paths: Path | str, cluster=None, **options) -> pd.DataFrame:
    """DNS transactions of the given captures, through the vantage stage."""
    decoded = decode_files([str(p) for p in paths])
    vantage = build_sightings(decoded, capture_points(decoded, cluster))
    return build_dns_transactions(decoded.dns, vantage.packets, cluster,
                                  options=DnsOptions(**options))


def scenario(name: str, cluster=None, **options) -> pd.DataFrame:
    return transactions(SCENARIOS / name, cluster=cluster, **options)
