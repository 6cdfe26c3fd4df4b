"""The engine interface: map a picklable task over items, gather the results.

An engine runs ``task(item)`` for every item (a capture file now; a partition
of an incident later) wherever it runs work: this process, a local process pool
(:class:`pcapkit.engines.local.LocalEngine`), or a cluster. The task and the
items must be picklable (a module-level function, or a ``functools.partial`` of
one), and so must what the task returns. A task run by an engine is one unit of
work of many running side by side, so it never splits itself over more
processes: inside one, :func:`in_task` is True and
:func:`pcapkit.engines.forked.worker_count` is 1.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_in_task = False


class Engine(Protocol):
    """Where tasks run."""

    def map(self, task: Callable[[T], R], items: Sequence[T], *,
            weights: Sequence[int] | None = None) -> list[R]:
        """``[task(item) for item in items]``, in the order of ``items``; ``weights``
        (a size per item, such as the file's bytes) may guide scheduling."""
        ...


def in_task() -> bool:
    """Whether this process runs tasks for an engine (a pool or cluster worker)."""
    return _in_task


def enter_task_process() -> None:
    """Mark this process as an engine's worker (run as it starts, or before each task),
    with glibc's heap set to reuse what its tasks free (:func:`reuse_freed_memory`)."""
    global _in_task
    _in_task = True
    reuse_freed_memory()


#: glibc's mallopt parameters, and the most its dynamic thresholds reach on 64-bit systems
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_TRIM_BYTES, _MMAP_BYTES = 64 << 20, 32 << 20


def reuse_freed_memory() -> None:
    """Let glibc's heap keep and reuse what a task frees, as it does by default once large
    blocks have been freed: blocks up to 32 MiB come from the heap, and its free top goes
    back at 64 MiB. A worker started with ``MALLOC_TRIM_THRESHOLD_`` set (Dask's nannies
    set 65536) has glibc's thresholds fixed, so every array of more than 128 KiB is a
    fresh mapping whose pages fault in again, and freed pages go back at once: about a
    quarter of a Dask task's time went to that (docs/scale.md). Memory still goes back
    between tasks (:func:`give_back_memory`)."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_BYTES)


def give_back_memory() -> None:
    """Hand freed memory back to the system: Arrow's pool (pandas' text columns live
    there) and glibc's heap (``malloc_trim``). A step that built and dropped large tables
    leaves its memory free but still held by the process, counted in its size until a
    later step reuses it; a long-lived worker holds it across tasks."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """glibc, for its allocator's calls (None where the C library is another)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - both must exist
    except (OSError, AttributeError):
        return None
    return libc
