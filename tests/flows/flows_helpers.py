"""Shared helpers for the flow tests: decode a capture and build its flows (imported by
name: pytest puts this directory on sys.path)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

from pcapkit.decode import decode_file
from pcapkit.flows import assemble_flows
from pcapkit.vantage import seen_once

ROOT = Path(__file__).resolve().parents[2]
CRAFTED = ROOT / "fixtures" / "flows"
PUBLIC = ROOT / "fixtures" / "public"
KERNEL = ROOT / "fixtures" / "kernel"


@cache
def _flows(path: str) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    view = seen_once(decode_file(path).packets)
    flows, ids = assemble_flows(view.distinct, view.sightings)
    return flows, ids, view.distinct


def flows_of(path: Path) -> pd.DataFrame:
    """The flow table of one capture read on its own (no vantage stage)."""
    assert path.exists(), f"committed fixture {path} is missing"
    return _flows(str(path))[0].copy()


def ids_of(path: Path) -> tuple[pd.Series, pd.DataFrame]:
    flows, ids, distinct = _flows(str(path))
    return ids.copy(), distinct


def only(flows: pd.DataFrame) -> pd.Series:
    assert len(flows) == 1, flows
    return flows.iloc[0]
