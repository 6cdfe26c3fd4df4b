"""Splitting work over forked processes: shares, shared memory, failures redone."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pcapkit.decode.files as files
import pcapkit.decode.split as split_decode
import pcapkit.engines.forked as forked
from pcapkit.decode import decode_file
from pcapkit.io.reader import open_capture

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
needs_fork = pytest.mark.skipif(not forked.can_fork(), reason="this platform cannot fork")


@given(st.lists(st.integers(0, 1000), max_size=40), st.integers(1, 6))
def test_shares_are_contiguous_cover_everything_and_balance(weights, parts):
    shares = forked.split_shares(weights, parts)
    assert [i for share in shares for i in share] == list(range(len(weights)))
    assert len(shares) <= max(parts, 1)
    if weights and sum(weights) and parts > 1:
        # no share is heavier than its fair part plus the heaviest single task
        fair = sum(weights) / parts
        assert all(sum(weights[i] for i in s) <= fair + max(weights) for s in shares)


def test_worker_count_respects_work_and_setting(monkeypatch):
    monkeypatch.setattr(forked, "MIN_SHARE", 100)
    assert forked.worker_count(50, 8) == 1
    assert forked.worker_count(1000, 3) == (3 if forked.can_fork() else 1)
    monkeypatch.setenv(forked.WORKERS_ENV, "1")
    assert forked.worker_count(10_000) == 1


@needs_fork
def test_children_write_into_shared_memory_and_return_results():
    out = forked.shared_zeros(40, np.int64)
    parent = os.getpid()

    def run(i: int) -> tuple[int, bool]:
        out[i * 10:(i + 1) * 10] = i + 1
        return i * i, os.getpid() == parent

    results = forked.run_split(range(4), run, forked.split_shares([10] * 4, 4))
    assert [r[0] for r in results] == [0, 1, 4, 9]
    assert [r[1] for r in results] == [True, False, False, False]  # three ran in children
    np.testing.assert_array_equal(out, np.repeat(np.arange(1, 5), 10))


@needs_fork
@pytest.mark.parametrize("failure", ["raise", "exit", "signal"])
def test_a_failed_child_has_its_share_redone_here(failure):
    out = forked.shared_zeros(6, np.int64)
    parent = os.getpid()

    def run(i: int) -> int:
        if os.getpid() != parent and i == 4:
            if failure == "raise":
                raise RuntimeError("boom")
            if failure == "exit":
                os._exit(3)
            os.kill(os.getpid(), 9)
        out[i] = 10 + i
        return i

    assert forked.run_split(range(6), run, forked.split_shares([1] * 6, 3)) == list(range(6))
    np.testing.assert_array_equal(out, np.arange(10, 16))


@needs_fork
def test_decode_file_split_over_processes_gives_the_same_tables(monkeypatch):
    """The same capture decoded in one process and split over three forked ones
    (small batches and shares, so every process gets several)."""
    path = FIXTURES / "kernel" / "node1-any.pcap"
    one = decode_file(path, batch_size=29, workers=1)
    monkeypatch.setattr(forked, "MIN_SHARE", 50)
    shares = []
    real = forked.run_split

    def counting(tasks, run, split):
        shares.append(len(split))
        return real(tasks, run, split)

    monkeypatch.setattr(split_decode, "run_split", counting)
    split = decode_file(path, batch_size=29, workers=3)
    assert shares == [3]
    pd.testing.assert_frame_equal(one.packets, split.packets)
    pd.testing.assert_frame_equal(one.dns, split.dns)
    assert len(one.dns) > 0


@needs_fork
def test_split_decoding_leaves_no_shared_memory_behind(monkeypatch):
    """The table is private memory: a process forked later (a user's
    multiprocessing pool, say) that writes into it does not change the parent's."""
    monkeypatch.setattr(forked, "MIN_SHARE", 50)
    decoded = decode_file(FIXTURES / "kernel" / "node1-any.pcap", batch_size=29,
                          workers=3)
    # tcp_seq has nulls (UDP rows), so its pandas array wraps the decoded buffer itself
    seq = decoded.packets["tcp_seq"].array
    before = seq.copy()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            seq._data[:] = 0  # write into the very buffer, as an in-place update would
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    pd.testing.assert_extension_array_equal(seq, before)
    assert (before.to_numpy(dtype="int64", na_value=0) != 0).any()


CAPTURES = sorted(p for p in FIXTURES.rglob("*")
                  if p.name.endswith((".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz")))


@needs_fork
def test_every_fixture_decodes_the_same_split_or_not(monkeypatch):
    """Every committed capture (damaged, pcapng with several sections, gzip, tiny),
    cut into 7-packet batches spread over three processes, gives the same tables,
    interfaces and errors as one process. Small mapped windows, so the parent lets
    go of the windows only the children read."""
    monkeypatch.setattr(forked, "MIN_SHARE", 1)
    monkeypatch.setattr(files, "open_capture", functools.partial(open_capture, chunk_bytes=4096))
    assert len(CAPTURES) > 100
    for path in CAPTURES:
        one = decode_file(path, batch_size=7, workers=1)
        split = decode_file(path, batch_size=7, workers=3)
        pd.testing.assert_frame_equal(one.packets, split.packets, obj=str(path))
        pd.testing.assert_frame_equal(one.dns, split.dns, obj=str(path))
        pd.testing.assert_frame_equal(one.interfaces, split.interfaces, obj=str(path))
        assert [str(e) for e in one.errors] == [str(e) for e in split.errors], path


@needs_fork
def test_decode_file_redoes_a_failed_childs_share(monkeypatch):
    """A child that dies mid-way: the parent decodes that share itself, reading the
    windows it had let go of again, and the tables are the same."""
    path = FIXTURES / "kernel" / "node1-any.pcap"
    one = decode_file(path, batch_size=29, workers=1)
    monkeypatch.setattr(forked, "MIN_SHARE", 50)
    monkeypatch.setattr(files, "open_capture", functools.partial(open_capture, chunk_bytes=4096))
    released = []
    real_release = split_decode.release_pages
    monkeypatch.setattr(split_decode, "release_pages", lambda data: released.append(1) or
                        real_release(data))
    parent = os.getpid()
    real = split_decode.decode_batch

    def dies_in_children(*args, **kwargs):
        if os.getpid() != parent:
            os._exit(7)
        return real(*args, **kwargs)

    monkeypatch.setattr(split_decode, "decode_batch", dies_in_children)
    split = decode_file(path, batch_size=29, workers=3)
    assert released  # the parent had let go of windows it then had to read again
    pd.testing.assert_frame_equal(one.packets, split.packets)
    pd.testing.assert_frame_equal(one.dns, split.dns)


@needs_fork
@pytest.mark.parametrize("failure", [None, "raise", "exit"])
def test_pulled_tasks_come_back_in_order_each_once(failure):
    parent = os.getpid()
    ran = forked.shared_zeros(8, np.int64)  # how often each task ran, in any process

    def run(i: int) -> tuple[int, bool]:
        if os.getpid() != parent and failure == "raise" and i >= 2:
            raise RuntimeError("boom")
        if os.getpid() != parent and failure == "exit" and i >= 2:
            os._exit(3)
        ran[i] += 1
        __import__("time").sleep(0.02 * (i % 3))  # uneven tasks: both processes take some
        return i * i, os.getpid() == parent

    results = forked.run_pulled(list(range(8)), run, 2)
    assert [r[0] for r in results] == [i * i for i in range(8)]
    if failure is None:
        assert not all(here for _, here in results)  # the child took some
        np.testing.assert_array_equal(ran, np.ones(8))
    assert forked.run_pulled([3], run, 2)[0] == (9, True)  # one task: nothing forked


@needs_fork
def test_a_childs_large_result_comes_back_whole_and_the_child_is_reaped():
    parent = os.getpid()

    def run(i: int) -> tuple[np.ndarray, int]:
        time_to_wait = 0.3 if os.getpid() == parent else 0.0  # the child is done first
        __import__("time").sleep(time_to_wait)
        return np.arange(4_000_000, dtype=np.int64) + i, os.getpid()  # 32 MB: no pipe holds it

    results = forked.run_pulled([0, 1], run, 2)
    for i, (values, _) in enumerate(results):
        np.testing.assert_array_equal(values, np.arange(4_000_000, dtype=np.int64) + i)
    children = {pid for _, pid in results} - {parent}
    assert children  # one task ran in a child, and it has been reaped
    for pid in children:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


@needs_fork
def test_several_files_decoded_together_over_processes_give_the_same_tables(monkeypatch):
    """Files too small to split alone, framed together and cut into shares that span
    files, give the tables of decoding each file on its own in one process."""
    paths = sorted((FIXTURES / "kernel").glob("*.pcap")) + [FIXTURES / "public" /
                                                            "tcpdump-vxlan.pcap"]
    assert len(paths) >= 3
    one = files.decode_files(paths, workers=1)
    monkeypatch.setattr(forked, "MIN_SHARE", 50)
    spans = []
    real = split_decode.decode_framed

    def counting(framed, cfg, workers):
        spans.append([len(batches) for batches in framed])
        return real(framed, cfg, workers)

    monkeypatch.setattr(files, "decode_framed", counting)
    shares = []
    real_split = forked.run_split
    monkeypatch.setattr(split_decode, "run_split",
                        lambda tasks, run, split: shares.append(len(split))
                        or real_split(tasks, run, split))
    together = files.decode_files(paths, workers=3)
    assert spans and len(spans[0]) == len(paths)
    assert shares == [3]  # every file framed once, the batches of all over three processes
    pd.testing.assert_frame_equal(one.packets, together.packets)
    pd.testing.assert_frame_equal(one.dns, together.dns)
    pd.testing.assert_frame_equal(one.interfaces, together.interfaces)
    assert len(one.dns) > 0
