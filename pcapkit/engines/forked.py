"""Work split over forked processes that write into shared memory.

Decoding holds the GIL most of the time, so threads do not help (two give
1.2x), and a process pool that sends tables back pays as much for the
transfer as for the decoding (see :mod:`pcapkit.engines.local`). Forked
children need neither: they inherit what the parent prepared (framed batches,
the mapped capture) and write their bulk output into memory shared with the
parent, allocated before forking (:func:`shared_zeros`). Only small results
travel back, pickled into a file in memory. :mod:`pcapkit.decode.split` uses
this for ``decode_file``. :func:`run_pulled` spreads tasks of uneven cost (the flow
shares beside the DNS transactions, the analyses: ``Capture.compute``) by letting each
process take the next task left.

A child that fails in any way (an exception, an exit, a signal, a short pipe)
has its share run again in the parent, so work given to :func:`run_split` must
be deterministic and write only its own output: doing a share twice is then
harmless, and the result never depends on whether forking worked. On
platforms without ``fork`` everything runs in the calling process.
"""

from __future__ import annotations

import contextlib
import gc
import mmap
import multiprocessing
import os
import pickle
import signal
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from pcapkit.engines.base import in_task
from pcapkit.engines.local import default_workers

T = TypeVar("T")
R = TypeVar("R")

#: a worker is worth forking for at least this many packets of work
MIN_SHARE = 131072
#: ``PCAPKIT_WORKERS=1`` turns the splitting off (as does ``workers=1``)
WORKERS_ENV = "PCAPKIT_WORKERS"


def can_fork() -> bool:
    return hasattr(os, "fork") and hasattr(mmap, "MAP_SHARED")


def worker_count(work: int, workers: int | None = None) -> int:
    """Processes to split ``work`` packets over: the CPUs this process may use
    (or ``workers``, or ``$PCAPKIT_WORKERS``), at most one per MIN_SHARE packets;
    one inside an engine's task, which runs beside others already."""
    if in_task():
        return 1
    if workers is None:
        configured = os.environ.get(WORKERS_ENV, "")
        workers = int(configured) if configured.isdigit() else default_workers()
    if not can_fork():
        return 1
    return max(1, min(workers, work // MIN_SHARE))


def shared_zeros(n: int, dtype: np.dtype | type) -> np.ndarray:
    """A zero-filled array in memory that forked children write through to."""
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise TypeError("object arrays cannot live in shared memory")
    region = mmap.mmap(-1, max(1, n * dtype.itemsize),
                       flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    return np.frombuffer(region, dtype=dtype, count=n)


def split_shares(weights: Sequence[int], parts: int) -> list[range]:
    """Cut ``len(weights)`` tasks into ``parts`` contiguous ranges of about equal weight."""
    total = sum(weights)
    bounds, start, acc = [], 0, 0
    for i, weight in enumerate(weights):
        acc += weight
        if len(bounds) < parts - 1 and acc * parts >= total * (len(bounds) + 1):
            bounds.append(range(start, i + 1))
            start = i + 1
    bounds.append(range(start, len(weights)))
    return [b for b in bounds if len(b)]


def run_split(tasks: Sequence[T], run: Callable[[T], R], shares: Sequence[range]) -> list[R]:
    """``[run(t) for t in tasks]``, with ``tasks`` cut into ``shares`` (contiguous
    ranges of indices, in order, from :func:`split_shares`): the first runs here,
    each other one in a forked child. ``run`` must put its bulk output in memory the
    children share (:func:`shared_zeros`); what it returns comes back pickled."""
    if len(shares) < 2 or not can_fork():
        return [run(task) for task in tasks]
    children = []
    try:
        for share in shares[1:]:
            children.append((share, _fork([tasks[i] for i in share], run)))
        results: list[R] = [run(tasks[i]) for i in shares[0]]
        while children:
            share, child = children.pop(0)  # collected: not to be killed any more
            done = _collect(child)
            results.extend(done if done is not None else [run(tasks[i]) for i in share])
        return results
    finally:
        for _, child in children:  # interrupted: do not leave children behind
            _kill(child)


def run_pulled(tasks: Sequence[T], run: Callable[[T], R], workers: int) -> list[R]:
    """``[run(t) for t in tasks]`` over this process and ``workers - 1`` forked children,
    each taking the next task not yet taken until none is left, so one long task does not
    hold back the rest. Tasks a failed child took are run again here; ``run`` must be
    deterministic, and only what it returns (pickled) comes back from a child."""
    if workers < 2 or len(tasks) < 2 or not can_fork() or in_task():
        return [run(task) for task in tasks]
    taken = shared_zeros(1, np.int64)
    lock = multiprocessing.get_context("fork").Lock()

    def take_all(_: object) -> dict[int, R]:
        done = {}
        while True:
            with lock:
                i = int(taken[0])
                taken[0] = i + 1
            if i >= len(tasks):
                return done
            done[i] = run(tasks[i])

    children = []
    try:
        for _ in range(min(workers, len(tasks)) - 1):
            children.append(_fork([None], take_all))
        results = take_all(None)
        while children:
            child = children.pop(0)
            done = _collect(child)
            results.update(done[0] if done is not None else {})
    finally:
        for child in children:
            _kill(child)
    return [results[i] if i in results else run(task) for i, task in enumerate(tasks)]


@dataclass(frozen=True)
class _Child:
    """A forked child: its pid, the pipe it reports on and the file its result goes to."""

    pid: int
    status: int  # read end of a pipe: one byte, 0 for a result, when the child is done
    result: int  # an unlinked file the child writes its pickled result into


def _fork(share: list[T], run: Callable[[T], R]) -> _Child:
    """``[run(t) for t in share]`` in a forked child. The child writes its pickled result
    into a file (not the pipe, so it never waits for the parent to read), reports on the
    pipe and leaves: tearing down the address space of a child that inherited a large
    parent takes tens of milliseconds, which then pass while the parent works on."""
    read_end, write_end = os.pipe()
    result = _result_file()
    # The child's garbage collector leaves alone every object it inherits (frozen): its
    # passes would write to each one's header and so copy the parent's pages (the gc
    # module's advice for fork without exec). The parent thaws its own at once.
    gc.freeze()
    pid = -1
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns about forking a process that has threads; the child
            # here runs only numpy on inherited memory and leaves with os._exit.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    finally:
        if pid != 0:  # the parent, or no child
            gc.unfreeze()
            if pid < 0:
                for fd in (read_end, write_end, result):
                    os.close(fd)
    if pid == 0:  # pragma: no cover - runs in the child, which never returns
        os.close(read_end)
        status = 1
        try:
            payload = pickle.dumps([run(task) for task in share],
                                   protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(payload)
            while view:
                view = view[os.write(result, view):]
            status = 0
        except BaseException:  # noqa: B036, S110 - anything: the parent redoes the share
            pass
        try:
            os.write(write_end, bytes([status]))
            os.close(write_end)  # the parent reads the result while this process leaves
        finally:
            os._exit(status)
    os.close(write_end)
    return _Child(pid, read_end, result)


def _result_file() -> int:
    """An unlinked file in memory (``memfd``; a temporary file where there is none)."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create("pcapkit-result", os.MFD_CLOEXEC)
    import tempfile

    with tempfile.TemporaryFile() as handle:
        return os.dup(handle.fileno())


def _collect(child: _Child) -> list | None:
    """The child's results, or None if it failed (its share is then redone). The result
    is read while the child leaves, and the child reaped after."""
    try:
        status = os.read(child.status, 1)
    except OSError:
        status = b""
    finally:
        os.close(child.status)
    try:
        if status != b"\x00":  # it failed or died: nothing to read
            return None
        size = os.fstat(child.result).st_size
        with mmap.mmap(child.result, size, access=mmap.ACCESS_READ) as region:
            return pickle.loads(region)
    except Exception:
        return None
    finally:
        os.close(child.result)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child.pid, 0)


def _kill(child: _Child) -> None:
    try:
        os.kill(child.pid, signal.SIGKILL)
        os.waitpid(child.pid, 0)
    except OSError:
        pass
    for fd in (child.status, child.result):
        try:
            os.close(fd)
        except OSError:
            pass

