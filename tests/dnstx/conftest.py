"""Shared fixtures for the DNS transaction tests."""

from __future__ import annotations

import pytest
from dnstx_helpers import FLANNEL_SNAPSHOT

from pcapkit.cluster import load_snapshot


@pytest.fixture(scope="session")
def flannel_cluster():
    """The flannel snapshot: kube-dns 10.96.0.10, CoreDNS pod 10.244.2.20 on node2."""
    return load_snapshot(FLANNEL_SNAPSHOT)
