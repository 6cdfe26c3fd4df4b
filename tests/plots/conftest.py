"""The demo incident (fixtures/demo: three problems on two nodes) opened once for the
figure tests, with the core pack's findings; and an empty capture."""

from __future__ import annotations

import pytest
from demo_cases import DEMO, EMPTY

import pcapkit
from pcapkit.rules import load_rules, run_rules


@pytest.fixture(scope="session")
def demo() -> pcapkit.Capture:
    assert (DEMO / "cluster.json").is_file(), "fixtures/demo is missing"
    return pcapkit.open(DEMO, snapshot=DEMO / "cluster.json")


@pytest.fixture(scope="session")
def demo_findings(demo) -> list:
    return run_rules(demo, load_rules(()).rules, None)


@pytest.fixture(scope="session")
def empty() -> pcapkit.Capture:
    assert EMPTY.is_file(), "fixtures/public/tcpdump-empty.pcap is missing"
    return pcapkit.open(EMPTY)
