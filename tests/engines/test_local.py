"""The engine seam: a picklable task mapped over capture files, results gathered in order."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
import pytest

import pcapkit.engines.forked as forked
from pcapkit.decode import Decoded, decode_file, decode_files
from pcapkit.engines import Engine, LocalEngine, in_task

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
#: the demo incident's captures, plus a damaged one and a gzip one
CAPTURES = [FIXTURES / "kernel", FIXTURES / "public" / "suricata-verify-fuzz-huge-caplen.pcap"]


def test_map_returns_results_in_the_order_of_the_items() -> None:
    engine: Engine = LocalEngine(workers=2)
    assert engine.map(abs, [-3, 1, -2, 5], weights=[1, 30, 2, 4]) == [3, 1, 2, 5]
    assert LocalEngine(workers=1).map(abs, [-3, 1]) == [3, 1]
    assert LocalEngine(workers=2).map(abs, []) == []


def test_work_inside_a_task_does_not_fork_again() -> None:
    """A pool worker is one of many side by side: splitting its file over more
    processes would oversubscribe the machine, so it splits over one."""
    count = functools.partial(forked.worker_count, workers=4)
    work = [100 * forked.MIN_SHARE] * 3
    assert LocalEngine(workers=2).map(count, work) == [1, 1, 1]
    assert not in_task()  # the parent is no task: it still splits its own decoding
    assert LocalEngine(workers=1).map(count, work) == [4 if forked.can_fork() else 1] * 3


def _assert_same(one: Decoded, other: Decoded) -> None:
    pd.testing.assert_frame_equal(one.packets, other.packets)
    pd.testing.assert_frame_equal(one.dns, other.dns)
    pd.testing.assert_frame_equal(one.interfaces, other.interfaces)
    assert [str(e) for e in one.errors] == [str(e) for e in other.errors]


def test_decode_files_over_a_pool_gives_the_single_process_tables() -> None:
    here = decode_files(CAPTURES)
    pooled = decode_files(CAPTURES, engine=LocalEngine(workers=2))
    _assert_same(here, pooled)
    assert len(here.dns) > 0 and here.errors and here.packets["file"].nunique() > 2


def test_decoded_is_built_from_per_file_parts() -> None:
    files = sorted((FIXTURES / "kernel").glob("*.pcap*"))
    assert len(files) > 2
    parts = [decode_file(f) for f in files]
    _assert_same(Decoded.from_parts(parts), decode_files(files))
    assert len(Decoded.from_parts([]).packets) == 0


def test_parts_whose_dns_was_parsed_are_refused() -> None:
    part = decode_file(FIXTURES / "kernel" / "node1-any.pcap")
    assert len(part.dns) > 0
    with pytest.raises(ValueError, match="combine the parts before reading .dns"):
        Decoded.from_parts([part])
