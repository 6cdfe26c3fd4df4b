"""Shared helpers for the flow tests: decode a capture and build its flows (imported by
name: pytest puts this directory on sys.path)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from pcapkit.decode import decode_file
from pcapkit.flows import assemble_flows, plain_vantage

ROOT = Path(__file__).resolve().parents[2]
CRAFTED = ROOT / "fixtures" / "flows"
PUBLIC = ROOT / "fixtures" / "public"
KERNEL = ROOT / "fixtures" / "kernel"


@cache
def _flows(path: str) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    distinct, sightings = plain_vantage(decode_file(path).packets)
    flows, ids = assemble_flows(distinct, sightings)
    return flows, ids, distinct


def flows_of(path: Path) -> pd.DataFrame:
    """The flow table of one capture read on its own (no vantage stage)."""
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return _flows(str(path))[0].copy()


def ids_of(path: Path) -> tuple[pd.Series, pd.DataFrame]:
    flows, ids, distinct = _flows(str(path))
    return ids.copy(), distinct


def only(flows: pd.DataFrame) -> pd.Series:
    assert len(flows) == 1, flows
    return flows.iloc[0]
