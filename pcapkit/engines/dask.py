"""The Dask engine: tasks on a dask.distributed cluster.

``DaskEngine("tcp://scheduler:8786")`` sends each task (a capture file to decode, a share
to group or key into flows) to the cluster's workers with ``Client.map`` and gathers the
results in order; a worker that dies has its tasks run again elsewhere (Dask's retries).
Tasks read and write the run's store, so the store must be a directory every worker sees
(a shared filesystem); with no scheduler a ``LocalCluster`` of ``workers`` processes is
started on this machine (and closed with the engine). Optional: ``pip install
'pcapkit-k8s[dask]'``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import TypeVar

from pcapkit.engines.base import enter_task_process, give_back_memory
from pcapkit.engines.local import default_workers
from pcapkit.errors import PcapkitError

T = TypeVar("T")
R = TypeVar("R")

#: times Dask runs a task again after the worker running it died
RETRIES = 2


def _marked(task: Callable[[T], R], item: T) -> R:
    """``task(item)`` in a worker, which is one of many running side by side."""
    enter_task_process()
    try:
        return task(item)
    finally:
        give_back_memory()  # the worker lives on: what this task freed goes back


class DaskEngine:
    """Tasks on the Dask cluster at ``scheduler`` (None: a new local cluster of
    ``workers`` processes, one thread each)."""

    def __init__(self, scheduler: str | None = None, *, workers: int | None = None) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise PcapkitError("the dask engine needs dask.distributed: "
                               "pip install 'pcapkit-k8s[dask]'") from None
        self._cluster = None
        try:
            if scheduler is None:
                import dask

                # the workers' statistical profiler takes the GIL every 10 ms to walk the
                # task's stack: off in a cluster made for one run, which nobody watches
                # (5M packets in shares: 36.1 s against 38.8 s, means of six pairs)
                with dask.config.set({"distributed.worker.profile.enabled": False}):
                    self._cluster = LocalCluster(n_workers=workers or default_workers(),
                                                 threads_per_worker=1, processes=True,
                                                 dashboard_address=None)
                self.client = Client(self._cluster)
            else:
                self.client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise PcapkitError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
        self.workers = len(self.client.scheduler_info().get("workers", {})) or 1

    def map(self, task: Callable[[T], R], items: Sequence[T], *,
            weights: Sequence[int] | None = None) -> list[R]:
        """``[task(item) for item in items]`` on the cluster, heaviest first."""
        if not items:
            return []
        order = range(len(items)) if weights is None else \
            sorted(range(len(items)), key=lambda i: weights[i], reverse=True)
        batch = uuid.uuid4().hex[:12]
        # the task (a partial holding what every item needs: the plan, the analyses'
        # prepared state) goes to each worker once, not in every item's graph
        shared = self.client.scatter(task, broadcast=True, hash=False)
        futures = {i: self.client.submit(_marked, shared, items[i], pure=False,
                                         retries=RETRIES, key=f"pcapkit-{batch}-{i}")
                   for i in order}
        try:
            return self.client.gather([futures[i] for i in range(len(items))])
        finally:
            shared.release()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DaskEngine({self.client.scheduler.address}, workers={self.workers})"
