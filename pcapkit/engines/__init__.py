"""Where the work runs: an engine maps a picklable task over capture files (see
:mod:`pcapkit.engines.base`); the local process pool is one, Dask (``dask``) another.
``forked`` splits the work on one mapped file over forked processes."""

from pcapkit.engines.base import Engine, in_task
from pcapkit.engines.local import LocalEngine, default_workers

__all__ = ["Engine", "LocalEngine", "default_workers", "in_task"]
