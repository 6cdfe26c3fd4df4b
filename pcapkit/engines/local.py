"""A local process pool for work that splits by capture file.

Decoding is mostly numpy calls on small slices and holds the GIL most of the
time (two threads give 1.2x), so parallel work is spread over processes, one
capture file per task. It pays only when a task keeps its output (writes its
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
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def default_workers() -> int:
    """Worker processes to use: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def map_files(function: Callable[[Path], T], paths: Sequence[Path], *,
              workers: int | None = None, preload: Sequence[str] = ()) -> list[T]:
    """``[function(p) for p in paths]``, over ``workers`` processes when there is
    more than one file and more than one worker.

    ``function`` must be picklable (a module-level function or a
    ``functools.partial`` of one); ``preload`` names modules the workers import
    up front. Results come back in the order of ``paths``.
    """
    workers = min(default_workers() if workers is None else workers, len(paths))
    if workers <= 1:
        return [function(p) for p in paths]
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    # Largest files first, so no worker is left alone with a big one at the end.
    order = sorted(range(len(paths)), key=lambda i: _size(paths[i]), reverse=True)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {i: pool.submit(function, paths[i]) for i in order}
        return [futures[i].result() for i in range(len(paths))]
