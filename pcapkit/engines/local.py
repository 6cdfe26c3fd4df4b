"""The local engine: a process pool for work that splits by capture file.

Decoding is mostly numpy calls on small slices and holds the GIL most of the
time (two threads give 1.2x), so parallel work is spread over processes, one
capture file per task. It pays most when a task keeps its output (writes its
own Parquet part): sending a decoded table back to the parent costs about as
much as decoding it (measured, see docs/architecture.md). Workers come from a
forkserver that has imported the task's module already, so no thread state of
the parent (pyarrow's pools) is forked and each start costs milliseconds.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from pcapkit.engines.base import enter_task_process

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Worker processes to use: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def file_weights(paths: Sequence[str | os.PathLike]) -> list[int]:
    """The weight of a task per capture file: its size in bytes (0 if unreadable)."""
    sizes = []
    for path in paths:
        try:
            sizes.append(os.stat(path).st_size)
        except OSError:
            sizes.append(0)
    return sizes


class LocalEngine:
    """Tasks over ``workers`` local processes (default: the CPUs), or in this process
    when there is one worker or one item. ``preload`` names modules the workers
    import up front (the task's own)."""

    def __init__(self, workers: int | None = None, preload: Sequence[str] = ()) -> None:
        self.workers = default_workers() if workers is None else max(1, workers)
        self.preload = list(preload)

    def map(self, task: Callable[[T], R], items: Sequence[T], *,
            weights: Sequence[int] | None = None) -> list[R]:
        """``[task(item) for item in items]``; the heaviest items (by ``weights``)
        start first, so no worker is left alone with a big one at the end."""
        workers = min(self.workers, len(items))
        if workers <= 1:
            return [task(item) for item in items]
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(self.preload)
        order = range(len(items)) if weights is None else \
            sorted(range(len(items)), key=lambda i: weights[i], reverse=True)
        with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                 initializer=enter_task_process) as pool:
            futures = {i: pool.submit(task, items[i]) for i in order}
            return [futures[i].result() for i in range(len(items))]

    def __repr__(self) -> str:
        return f"LocalEngine(workers={self.workers})"
