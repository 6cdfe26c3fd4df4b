"""Fixtures of the vantage tests."""

from __future__ import annotations

import pytest
from vantage_cases import FLANNEL_SNAPSHOT


@pytest.fixture(scope="session")
def flannel_cluster():
    from pcapkit.cluster import load_snapshot

    return load_snapshot(FLANNEL_SNAPSHOT)
