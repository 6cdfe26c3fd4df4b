"""The demo incident (fixtures/demo), opened once for every test of the notebook API."""

from __future__ import annotations

from pathlib import Path

import pytest

import pcapkit

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "fixtures" / "demo"
CLUSTER = DEMO / "cluster.json"
NODE1 = str(DEMO / "node1-any.pcap")
NODE2 = str(DEMO / "node2-any.pcap")


@pytest.fixture(scope="session")
def demo() -> pcapkit.Capture:
    """The demo incident with its cluster export (a missing fixture fails, never skips)."""
    for path in (NODE1, NODE2, CLUSTER):
        assert Path(path).is_file(), f"committed fixture missing: {path}"
    return pcapkit.open(DEMO, snapshot=CLUSTER)


@pytest.fixture
def fresh() -> pcapkit.Capture:
    """The demo incident, not decoded yet (for tests that watch what gets computed)."""
    return pcapkit.open(DEMO, snapshot=CLUSTER)
