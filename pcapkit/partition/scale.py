"""How a Capture runs: one pass in this process, or in shares on an engine.

A memory limit, a share count or a distributed engine (``"dask"`` or an
:class:`pcapkit.engines.Engine`) turns a Capture into a partitioned run
(:mod:`pcapkit.partition.run`); the local engine alone does not, since a run in shares
does not yet use less memory than one pass (docs/scale.md). The number of shares follows
from the memory limit: every worker holds one share's tables at a time, which take about
``SHARE_BYTES_PER_INPUT_BYTE`` bytes of memory per byte of capture (measured,
docs/scale.md), so ``shares = workers * that * input bytes / limit``.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pcapkit.engines.local import default_workers
from pcapkit.errors import PcapkitError

if TYPE_CHECKING:
    from pcapkit.capture import Capture
    from pcapkit.engines.base import Engine
    from pcapkit.partition.run import PartitionedRun

#: peak memory of a share task per byte of the capture data in its share (docs/scale.md)
SHARE_BYTES_PER_INPUT_BYTE = 4.0
#: a gzip capture holds about this many bytes per byte on disk
GZIP_RATIO = 3.0
#: the share of the machine's memory a run may use by default
DEFAULT_MEMORY_FRACTION = 0.5
ENGINES = ("local", "dask")
#: more shares than this only adds files: each would hold a few thousand packets
MAX_SHARES = 1024


def machine_memory() -> int:
    """Bytes of physical memory (0 when the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return 0


@dataclass(frozen=True)
class Scale:
    """Where a Capture's stages run and in how many shares."""

    engine: str | Engine | None = None
    scheduler: str | None = None
    memory_limit: int | None = None
    shares: int | None = None
    workers: int | None = None
    work_dir: str | None = None

    @classmethod
    def of(cls, engine: str | Engine | None, scheduler: str | None,
           memory_limit: int | None, shares: int | None, workers: int | None,
           work_dir: str | os.PathLike | None = None) -> Scale:
        """The checked settings (a PcapkitError names a bad one)."""
        if isinstance(engine, str) and engine not in ENGINES:
            raise PcapkitError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
        if engine is not None and not isinstance(engine, str) and not hasattr(engine, "map"):
            raise PcapkitError("engine must be 'local', 'dask' or an object with a map() "
                               f"method, not {type(engine).__name__}")
        if scheduler is not None and engine != "dask":
            raise PcapkitError("a scheduler address needs engine='dask'")
        for name, value in (("memory_limit", memory_limit), ("shares", shares)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise PcapkitError(f"{name} must be a positive whole number, not {value!r}")
        return cls(engine, scheduler, memory_limit, shares, workers,
                   None if work_dir is None else str(work_dir))

    @property
    def partitioned(self) -> bool:
        """Whether the run is cut into shares whatever the incident's size (an engine
        other than local, a memory limit or a share count given); the local engine by
        default cuts only an incident bigger than the default budget (``run``)."""
        return self.engine not in (None, "local") or self.memory_limit is not None or \
            self.shares is not None

    def engine_object(self) -> Engine:
        """The engine the tasks are mapped on."""
        if self.engine is None or self.engine == "local":
            from pcapkit.engines.local import LocalEngine

            return LocalEngine(self.workers, preload=["pcapkit.partition.run"])
        if self.engine == "dask":
            from pcapkit.engines.dask import DaskEngine

            return DaskEngine(self.scheduler, workers=self.workers)
        return self.engine  # type: ignore[return-value]

    def share_count(self, input_bytes: int, workers: int) -> int:
        """Shares for ``input_bytes`` of captures on ``workers`` workers."""
        if self.shares is not None:
            return self.shares
        limit = self.memory_limit or int(machine_memory() * DEFAULT_MEMORY_FRACTION) or 1 << 31
        return min(MAX_SHARES, max(1, math.ceil(
            max(1, workers) * SHARE_BYTES_PER_INPUT_BYTE * input_bytes / limit)))

    def run(self, capture: Capture) -> PartitionedRun | None:
        """The partitioned run of ``capture``'s inputs, None when it runs in one pass: the
        local engine with an incident that fits the memory limit (given, or by default
        half the machine's memory) in one share, since nothing is gained by cutting it
        and the tables are the same; or with a decode cache and no limit given (the cache
        holds one pass's decoded tables)."""
        from pcapkit.partition.run import run_partitioned

        inputs = capture.inputs
        size = sum(_data_bytes(path) for path in inputs.paths)
        local = self.engine in (None, "local")
        if local and self.shares is None and (
                self.share_count(size, self.workers or default_workers()) == 1
                or (capture._cache is not None and self.memory_limit is None)):
            return None
        engine = self.engine_object()
        shares = self.share_count(size, getattr(engine, "workers", 1) or 1)
        return run_partitioned(
            inputs.paths, shares, names={str(f.path): f.name for f in inputs.files},
            interface_names=inputs.interface_names,
            cluster=capture.cluster, nodes=capture._nodes, inferred=capture.inferred_nodes(),
            config=capture._config, engine=engine, since=capture._since,
            until=capture._until, window=capture._window,
            flow_options=capture._flow_options, dns_options=capture._dns_options,
            root=self.work_dir)


def _data_bytes(path: str | os.PathLike) -> int:
    """The capture bytes a file holds (a gzip file's about GZIP_RATIO times its size)."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return 0
    return int(size * GZIP_RATIO) if str(path).endswith(".gz") else size


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1 << 10, "m": 1000**2, "mb": 1000**2,
          "mib": 1 << 20, "g": 1000**3, "gb": 1000**3, "gib": 1 << 30, "t": 1000**4,
          "tb": 1000**4, "tib": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes from a size such as ``4GiB``, ``500M`` or ``2000000000`` (a PcapkitError
    otherwise)."""
    value = str(text).strip().lower().replace(" ", "")
    found = re.fullmatch(r"([0-9]*\.?[0-9]+)([a-z]*)", value)
    try:
        size = float(found.group(1)) * _UNITS[found.group(2)]  # type: ignore[union-attr]
    except (AttributeError, ValueError, KeyError):
        raise PcapkitError(f"{text!r} is not a size (such as 4GiB, 500MB or 2000000000)") \
            from None
    if size < 1:
        raise PcapkitError(f"size {text!r} must be at least one byte")
    return int(size)
