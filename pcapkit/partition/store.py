"""Where a partitioned run keeps its per-share tables between steps: Arrow IPC files
(lz4-compressed) under one directory, named by step, share and source
(``<step>/s<share>/<name>.arrow``). Arrow IPC, not Parquet: these files are written once
and read once or twice by the same run, and IPC writes about five times and reads about
ten times faster than Parquet on the packet table (docs/scale.md).

Tables are written whole by the one task that makes them and read by later tasks, in
this process, a local worker process or a Dask worker: the directory must be one every
worker sees (a local disk for the local engine, a shared filesystem for a cluster).
Each file keeps its columns' pandas dtypes in its metadata, so a table read back is the
table written (an all-null categorical too, which Arrow alone returns as object).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

from pcapkit.arrow_tables import dtype_name, frame_of
from pcapkit.decode.table import concat_tables

_DTYPES = b"pcapkit.dtypes"
#: a store directory's name starts so; ``OWNER`` inside names the process that made it
PREFIX = "pcapkit-parts-"
OWNER = "owner.json"


class PartStore:
    """Per-share tables under ``root``; with ``inside``, a new directory made in that one
    (with neither, in the system's temporary directory), which this store owns: it is
    removed by :meth:`close` or when the store is collected."""

    def __init__(self, root: str | os.PathLike | None = None, *,
                 inside: str | os.PathLike | None = None) -> None:
        self.owned = root is None
        if root is None and inside is not None:
            Path(inside).mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=inside)
                         if root is None else root)
        self.root.mkdir(parents=True, exist_ok=True)
        if self.owned:
            (self.root / OWNER).write_text(json.dumps(_this_process()))
            sweep_stale(self.root.parent, keep=self.root)
        # a store this object made goes when it does (or at exit), whoever forgets close()
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.root, True) \
            if self.owned else None

    def path(self, step: str, share: int, name: str, suffix: str = ".arrow") -> Path:
        return self.root / step / f"s{share}" / f"{name}{suffix}"

    def write(self, step: str, share: int, name: str, table: pd.DataFrame) -> None:
        """Keep ``table`` as ``step``/``share``/``name`` (replacing an older one)."""
        self._write_arrow(step, share, name, _arrow(table))

    def write_split(self, step: str, name: str, table: pd.DataFrame,
                    share: np.ndarray) -> None:
        """Keep the rows of ``table`` of each share (``share[i]``: row i's) as
        ``step``/<that share>/``name``: the rows put in share order once (by pandas) and
        made Arrow once, each share's file a slice of that. Arrow's ``take`` per share
        cost 0.64 s for a million packet rows in 41 shares, this 0.22 s."""
        order, values, bounds = share_order(share)
        self.write_slices(step, name, _arrow(table.take(order)), values, bounds)

    def write_slices(self, step: str, name: str, arrow: pa.Table, values: np.ndarray,
                     bounds: np.ndarray) -> None:
        """Keep rows ``bounds[i]:bounds[i + 1]`` of ``arrow`` as ``step``/``values[i]``/
        ``name`` (``share_order``'s shares and bounds)."""
        for i, value in enumerate(values):
            self._write_arrow(step, int(value), name,
                              arrow.slice(bounds[i], bounds[i + 1] - bounds[i]))

    def _write_arrow(self, step: str, share: int, name: str, arrow: pa.Table) -> None:
        path = self.path(step, share, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(".tmp")
        feather.write_feather(arrow, scratch, compression="lz4")
        os.replace(scratch, path)

    def read(self, step: str, share: int, name: str, *,
             rows: Callable[[pa.Table], np.ndarray] | None = None) -> pd.DataFrame | None:
        """The table written as ``step``/``share``/``name``, None if there is none;
        ``rows``: only the rows it marks (a boolean mask of the Arrow table), the others
        never made pandas (most of a read's cost)."""
        path = self.path(step, share, name)
        if not path.exists():
            return None
        table = feather.read_table(path)
        return _frame([table.filter(pa.array(rows(table))) if rows is not None else table])

    def read_all(self, step: str, share: int, names: list[str] | None = None, *,
                 columns: Sequence[str] | None = None) -> pd.DataFrame | None:
        """Several tables of ``step``/``share`` (default: all, in name order) as one, their
        categories united by Arrow; None if there are none. ``columns``: only those of
        them the tables have (the others are never decompressed)."""
        names = self.names(step, share) if names is None else names
        tables = [_read(self.path(step, share, n), columns) for n in names
                  if self.path(step, share, n).exists()]
        return _frame(tables) if tables else None

    def read_sorted(self, step: str, shares: Sequence[int], name: str, by: str
                    ) -> pd.DataFrame | None:
        """The tables ``name`` of ``step`` in ``shares`` as one, its rows in ``by`` order
        (stable: ties in share order), None if there are none. Joined and sorted as Arrow
        and made pandas once: a pandas copy per share, another joined and a third sorted
        held the 20M incident's 2M distinct DNS messages three times in the parent."""
        tables = [_read(path, None) for share in shares
                  if (path := self.path(step, share, name)).exists()]
        if not tables:
            return None
        return _frame(tables, by=by)

    def names(self, step: str, share: int) -> list[str]:
        """The tables of ``step``/``share``, in name order."""
        folder = self.root / step / f"s{share}"
        return sorted(p.stem for p in folder.glob("*.arrow")) if folder.is_dir() else []

    def write_array(self, step: str, share: int, name: str, values: np.ndarray) -> None:
        path = self.path(step, share, name, ".npy")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, values)

    def new_array(self, step: str, share: int, name: str, length: int) -> np.ndarray:
        """A new int64 array kept as ``step``/``share``/``name`` (read by read_array),
        written in place through its mapping (``flush`` when done)."""
        path = self.path(step, share, name, ".npy")
        path.parent.mkdir(parents=True, exist_ok=True)
        return np.lib.format.open_memmap(path, mode="w+", dtype=np.int64, shape=(length,))

    def read_array(self, step: str, share: int, name: str, *, mapped: bool = False
                   ) -> np.ndarray:
        """An array kept by write_array; ``mapped``: read only the pages that are used."""
        return np.load(self.path(step, share, name, ".npy"), mmap_mode="r" if mapped else None)

    def close(self) -> None:
        """Remove the directory if this store made it."""
        if self._cleanup is not None:
            self._cleanup()

    def __repr__(self) -> str:
        return f"PartStore({str(self.root)!r})"


def _this_process() -> dict:
    """Who makes a store: the host, and the process id in its PID namespace (containers
    sharing a host name and a directory do not share process ids)."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = None
    return {"host": socket.gethostname(), "pid_namespace": namespace, "pid": os.getpid()}


def sweep_stale(parent: Path, keep: Path | None = None) -> list[Path]:
    """Remove the store directories in ``parent`` that a process of this host (and PID
    namespace) made and that outlived it: a run killed before it could clean up, whose
    shares' tables can be gigabytes. Returns them. A directory without an owner, of
    another host or namespace, or of a process still running is left alone, as is every
    one where the namespace cannot be told."""
    me, removed = _this_process(), []
    if me["pid_namespace"] is None:
        return removed
    for folder in parent.glob(f"{PREFIX}*"):
        try:
            owner = json.loads((folder / OWNER).read_text())
            stale = folder != keep and owner.get("host") == me["host"] and \
                owner.get("pid_namespace") == me["pid_namespace"] and \
                not _running(int(owner["pid"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # not a store this sweep can tell about
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # there, but another user's
        return True
    return True


#: rows a SplitWriter gathers before it writes them
FLUSH_ROWS = 1 << 20


class SplitWriter:
    """Rows of one table kept by share (``PartStore.write_split``), gathered over many
    calls and written about ``flush_rows`` rows at a time, as ``<name>p<n>`` in each share.
    Every file costs a fixed overhead per column to write and to read again, so a decode
    task writes each share's rows of a million packets as one file, not one per batch
    (20M packets in 41 shares: 6,560 files of about 3,000 rows otherwise)."""

    def __init__(self, store: PartStore, step: str, name: str,
                 flush_rows: int | None = None) -> None:
        self.store, self.step, self.name = store, step, name
        self.flush_rows = FLUSH_ROWS if flush_rows is None else flush_rows
        self._tables: list[pd.DataFrame] = []
        self._shares: list[np.ndarray] = []
        self._rows = self._parts = 0

    def add(self, table: pd.DataFrame, share: np.ndarray) -> None:
        if not len(table):
            return
        self._tables.append(table)
        self._shares.append(np.asarray(share))
        self._rows += len(table)
        if self._rows >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        """Write what was gathered (its tables' categories united, as pandas unites them:
        Arrow cannot unite an all-null column's dictionary with another's)."""
        if not self._tables:
            return
        order, values, bounds = share_order(np.concatenate(self._shares))
        table = concat_tables(self._tables)
        self._tables, self._shares, self._rows = [], [], 0   # the batches go ...
        table = table.take(order)                            # ... and the joined copy
        self.store.write_slices(self.step, f"{self.name}p{self._parts:05d}", _arrow(table),
                                values, bounds)
        self._parts += 1


def share_order(share: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows in share order (stable), the shares present and where each one's rows
    start and end in that order."""
    share = np.asarray(share)
    # a stable sort of small integers is a radix sort (8 times faster on a million)
    small = share.astype(np.int16) if len(share) and 0 <= share.min() and \
        share.max() < 2 ** 15 else share
    order = np.argsort(small, kind="stable")
    values, starts = np.unique(share[order], return_index=True)
    return order, values, np.append(starts, len(order))


def _arrow(table: pd.DataFrame) -> pa.Table:
    """``table`` as Arrow, its pandas dtypes in the metadata."""
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    dtypes = json.dumps({c: dtype_name(table[c]) for c in table.columns}).encode()
    return arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), _DTYPES: dtypes})


def _read(path: Path, columns: Sequence[str] | None) -> pa.Table:
    """The Arrow table at ``path``; ``columns``: only those of them it has."""
    if columns is None:
        return feather.read_table(path)
    with pa.memory_map(str(path)) as source:
        held = set(pa.ipc.open_file(source).schema.names)
    return feather.read_table(path, columns=[c for c in columns if c in held])


def _frame(tables: list[pa.Table], by: str | None = None) -> pd.DataFrame:
    """Arrow tables (of one schema, up to dictionaries and all-null columns) as one pandas
    table with the dtypes the first was written with; ``by``: its rows in that column's
    order (a stable sort)."""
    dtypes = json.loads((tables[0].schema.metadata or {}).get(_DTYPES, b"{}"))
    table = tables[0] if len(tables) == 1 else pa.concat_tables(
        tables, promote_options="permissive")
    if by is not None:
        order = np.argsort(table.column(by).to_numpy(), kind="stable")
        table = table.take(pa.array(order))
    return frame_of(table, dtypes)
